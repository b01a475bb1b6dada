// Test fixture: one real nats-server and one real relay per "region", each relay behind a delay
// proxy at that region's RTT, as the client sees them.
import { DelayProxy } from '../../local/delay-proxy';
import type { ServerEntry } from '../../rtt-client';
import { startNatsServer, type NatsServer } from '../support/nats';
import { startRelay, type RelayProcess } from '../support/relay';

export interface Region {
  region: string;
  rttMs: number;
}

export interface Regions {
  nats: NatsServer;
  relays: Map<string, RelayProcess>;
  proxies: Map<string, DelayProxy>;
  /** the relays as dist/servers.json would list them: URLs through the delay proxies */
  servers: ServerEntry[];
  stop(): Promise<void>;
}

export async function startRegions(regions: readonly Region[]): Promise<Regions> {
  const relays = new Map<string, RelayProcess>();
  const proxies = new Map<string, DelayProxy>();
  let nats: NatsServer | undefined;
  const stop = async () => {
    await Promise.all([...proxies.values()].map((p) => p.close()));
    await Promise.all([...relays.values()].map((r) => r.stop(3000).catch(() => undefined)));
    await nats?.stop();
  };
  try {
    nats = await startNatsServer();
    const natsUrl = nats.url;
    await Promise.all(regions.map(async ({ region, rttMs }) => {
      const relay = await startRelay({ natsUrl, region, serverId: `${region}-0` });
      relays.set(region, relay);
      const proxy = new DelayProxy({ targetPort: relay.port, rttMs });
      proxies.set(region, proxy);
      await proxy.start();
    }));
  } catch (err) {
    await stop();
    throw err;
  }
  const servers = regions.map(({ region }) => ({ region, transport: 'websocket' as const, url: `ws://127.0.0.1:${proxies.get(region)!.port}` }));
  return { nats: nats!, relays, proxies, servers, stop };
}
