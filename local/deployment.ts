// The global deployment on loopback: every region's NATS as Kubernetes runs the generated manifests
// (local/nats-supercluster.ts), the inter-region RTT on every gateway link, relays on each region's
// NATS client Service, behind per-region client delays.
import { RegionSpec } from '../topology/spec';
import { ServerEntry, Topology, buildTopology } from '../topology/topology';
import { LoopbackSuperCluster, startLoopbackSuperCluster } from './nats-supercluster';
import { LocalRelay } from './relays';
import { LOCAL_RELAY_IMAGE } from './manifests';

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
  /** Manifest seconds × timeScale (probe periods, back-offs). @default 1 */
  readonly timeScale?: number;
  /** @default sequential: regions applied one after another in README's deploy order */
  readonly deployOrder?: 'sequential' | 'parallel';
  /** @default 120 s */
  readonly readyTimeoutMs?: number;
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
  const topology = buildTopology(options.regions, { relayImage: LOCAL_RELAY_IMAGE });
  const log = options.log ?? (() => undefined);
  const interRegionRttMs = options.interRegionRttMs ?? DEFAULT_INTER_REGION_RTT_MS;
  const relaysPerRegion = options.relaysPerRegion ?? 1;
  if (!Number.isInteger(relaysPerRegion) || relaysPerRegion < 1) throw new RangeError(`--relays-per-region must be an integer ≥ 1, got ${relaysPerRegion}`);
  for (const region of Object.keys(options.clientRttMs ?? {})) {
    if (!topology.regions.some((r) => r.name === region)) throw new RangeError(`--client-rtt names region "${region}", which is not in the topology`);
  }

  const relays: LocalRelay[] = [];
  let superCluster: LoopbackSuperCluster | undefined;
  const stop = async () => {
    await Promise.all(relays.map((r) => r.close()));
    await superCluster?.stop();
  };

  try {
    log(`starting ${topology.regions.reduce((n, r) => n + r.nats.replicas, 0)} NATS servers, gateways ${interRegionRttMs} ms apart`);
    superCluster = await startLoopbackSuperCluster({
      topology,
      interRegionRttMs,
      timeScale: options.timeScale,
      deployOrder: options.deployOrder,
      readyTimeoutMs: options.readyTimeoutMs ?? 120_000,
      log,
    });
    for (const [i, region] of topology.regions.entries()) {
      const rtt = options.clientRttMs?.[region.name] ?? (i === 0 ? DEFAULT_NEAR_RTT_MS : DEFAULT_FAR_RTT_MS);
      for (let k = 0; k < relaysPerRegion; k++) {
        const relay = new LocalRelay({
          id: `${region.name}-relay-${k}`,
          region: region.name,
          // As the relay manifest's NATS_URL: the region's client Service.
          natsUrls: [superCluster.serviceUrls[region.name]],
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
      ...cluster.pods().flatMap((p) => (p.pid === null ? [] : [p.pid])),
      ...relays.map((r) => r.pid).filter((p): p is number => p !== undefined),
    ],
    stop,
  };
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
