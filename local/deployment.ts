// The global deployment on loopback: every region's NATS servers from the generated configs,
// gateways through delay proxies at the inter-region RTT, relays behind per-region client delays.
import { RegionSpec } from '../topology/spec';
import { ServerEntry, Topology, buildTopology } from '../topology/topology';
import { DelayProxy } from './delay-proxy';
import { generatedNatsConfigs } from './generated-configs';
import { LoopbackSuperCluster, startLoopbackSuperCluster } from './nats-supercluster';
import { LocalRelay } from './relays';

/** Measured between DigitalOcean NYC1 and SGP1 over VPC peering. */
export const DEFAULT_INTER_REGION_RTT_MS = 234;
/** A user near the first region: close to it, far from the rest. */
export const DEFAULT_NEAR_RTT_MS = 30;
export const DEFAULT_FAR_RTT_MS = 240;

export interface LocalDeploymentOptions {
  readonly regions: readonly RegionSpec[];
  /** @default 234 */
  readonly interRegionRttMs?: number;
  /** @default 1 */
  readonly relaysPerRegion?: number;
  /** Added RTT between the user and each region's relays. @default 30 ms to the first region, 240 ms to others */
  readonly clientRttMs?: Readonly<Record<string, number>>;
  /** @default 0 */
  readonly clientJitterMs?: number;
  readonly log?: (line: string) => void;
}

export interface LocalDeployment {
  readonly topology: Topology;
  readonly superCluster: LoopbackSuperCluster;
  readonly relays: readonly LocalRelay[];
  /** What the page's clients elect among (the relays, through their delay proxies). */
  servers(): ServerEntry[];
  /** Every process this deployment started that is still running. */
  pids(): number[];
  stop(): Promise<void>;
}

export async function startLocalDeployment(options: LocalDeploymentOptions): Promise<LocalDeployment> {
  const topology = buildTopology(options.regions);
  const log = options.log ?? (() => undefined);
  const interRegionRttMs = options.interRegionRttMs ?? DEFAULT_INTER_REGION_RTT_MS;
  const relaysPerRegion = options.relaysPerRegion ?? 1;
  if (!Number.isInteger(relaysPerRegion) || relaysPerRegion < 1) throw new RangeError(`--relays-per-region must be an integer ≥ 1, got ${relaysPerRegion}`);
  for (const region of Object.keys(options.clientRttMs ?? {})) {
    if (!topology.regions.some((r) => r.name === region)) throw new RangeError(`--client-rtt names region "${region}", which is not in the topology`);
  }

  const gatewayProxies: DelayProxy[] = [];
  const relays: LocalRelay[] = [];
  let superCluster: LoopbackSuperCluster | undefined;
  const stop = async () => {
    await Promise.all(relays.map((r) => r.close()));
    await superCluster?.stop();
    await Promise.all(gatewayProxies.map((p) => p.close()));
  };

  try {
    log(`starting ${topology.regions.reduce((n, r) => n + r.nats.replicas, 0)} NATS servers, gateways ${interRegionRttMs} ms apart`);
    superCluster = await startLoopbackSuperCluster({
      topology,
      configs: generatedNatsConfigs(topology),
      gatewayFront: async (_region, _server, gatewayPort) => {
        // Gateway links only ever join different regions, so every one of them crosses the "ocean".
        const proxy = new DelayProxy({ targetPort: gatewayPort, rttMs: interRegionRttMs });
        gatewayProxies.push(proxy);
        return (await proxy.start()).port;
      },
    });
    for (const [i, region] of topology.regions.entries()) {
      const rtt = options.clientRttMs?.[region.name] ?? (i === 0 ? DEFAULT_NEAR_RTT_MS : DEFAULT_FAR_RTT_MS);
      for (let k = 0; k < relaysPerRegion; k++) {
        const relay = new LocalRelay({
          id: `${region.name}-relay-${k}`,
          region: region.name,
          // Spread relays over the region's servers, as a Service would.
          natsUrls: rotate(superCluster.clientUrls[region.name], k),
          clientRttMs: rtt,
          clientJitterMs: options.clientJitterMs ?? 0,
        });
        relays.push(relay);
        await relay.open();
        log(`relay ${relay.id} at ${relay.url} (+${rtt} ms RTT)`);
      }
    }
  } catch (e) {
    await stop();
    throw e;
  }

  const cluster = superCluster;
  return {
    topology,
    superCluster: cluster,
    relays,
    servers: () => relays.map((r) => ({ region: r.region, transport: 'websocket' as const, url: r.url })),
    pids: () => [
      ...cluster.servers.map((s) => s.process.child).filter((c) => c.exitCode === null && c.signalCode === null).map((c) => c.pid!),
      ...relays.map((r) => r.pid).filter((p): p is number => p !== undefined),
    ],
    stop,
  };
}

function rotate<T>(list: readonly T[], by: number): T[] {
  const n = by % list.length;
  return [...list.slice(n), ...list.slice(0, n)];
}

/** `us-east=30,singapore=240` → { 'us-east': 30, singapore: 240 } */
export function parseClientRtt(raw: string | undefined): Record<string, number> | undefined {
  if (raw === undefined) return undefined;
  const out: Record<string, number> = {};
  for (const part of raw.split(',').filter(Boolean)) {
    const [region, ms] = part.split('=');
    const n = Number(ms);
    if (!region || ms === undefined || ms.trim() === '' || !Number.isFinite(n) || n < 0) throw new RangeError(`--client-rtt: "${part}" is not REGION=MS`);
    out[region.trim()] = n;
  }
  return out;
}
