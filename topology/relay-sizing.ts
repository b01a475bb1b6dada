// How big one relay pod is and when the autoscaler adds another: one documented object that the
// relay Deployment, its HPA and the capacity check read, derived from one measured constant.

/**
 * Measured by `npm run bench` (BENCHMARKS.md, section Capacity; bench/results/capacity.json): the
 * participants of a real call (audio 50/s, video 30 fps with a 40 KB keyframe every 2 s, heartbeats,
 * RTT probes) that one core of our relay carries, by room size, from the relay's own CPU time per
 * delivered frame at the largest step that met both limits (≤ 0.1 % dropped, p99 ≤ 50 ms); the
 * median of three ramps (their ranges: 573–669 / 416–445 / 301–326 / 161–227). Measured on a 2-core
 * machine with the relay pinned to one core and the C load generators (bench/native/wsload.c) and
 * nats-server on the other, over loopback, where the relay is also charged its receivers' kernel TCP
 * work: the figures err low. Every ramp ended where the relay itself ran out: the step after its
 * largest passed one (×2) took it to 97–100 % of its core and broke a limit. And its resident
 * memory under that load.
 * Re-measure and replace these values; everything below follows from them.
 */
export const RELAY_CAPACITY = {
  /** participants per relay core, by participants per room */
  participantsPerCore: { 2: 635, 5: 425, 20: 307, 50: 222 } as Readonly<Record<2 | 5 | 20 | 50, number>>,
  /** the room size replicas are planned for (a typical call) */
  planningRoomSize: 5 as const,
  /** relay RSS with no sessions, MiB (bench Memory section: 91.0 MiB) */
  baselineRssMiB: 91,
  /**
   * RSS growth per participant under the media mix, KiB: (162.4 − 91.0) MiB over 100 participants in
   * rooms of 5, with the generators behind, so the relay held queued keyframes for slow receivers
   * (what a real slow receiver pins too, up to the per-socket buffer bound). Kept from that run: the
   * quiet run's RSS grew less (about 300 KiB per participant) but accumulates over its steps in one
   * process, so it is not a cleaner measure; the larger figure errs safe.
   */
  rssPerParticipantKiB: 731,
  /** where the figures come from */
  source: 'BENCHMARKS.md, Capacity (measuring commit 8e7bca2, 2026-11-25; memory figures from commit 076d629)',
} as const;

export interface RelaySizing {
  /** CPU request (Kubernetes quantity): the autoscaler measures utilization against it. */
  readonly cpuRequest: string;
  /** Memory request (Kubernetes quantity). */
  readonly memoryRequest: string;
  /**
   * Memory limit (Kubernetes quantity). The relay reads it back through MEMORY_LIMIT_BYTES (downward
   * API) and derives its total buffering budget from it, so this is the one fact for both.
   */
  readonly memoryLimit: string;
  /** Average CPU utilization, in percent of the request, the HPA keeps the relays at. */
  readonly targetCpuUtilizationPercent: number;
  /** Participants one replica is planned to carry at the target utilization (planning room size). */
  readonly participantsPerReplica: number;
  /** Participants one core carries, by room size (measured, RELAY_CAPACITY). */
  readonly participantsPerCore: Readonly<Record<2 | 5 | 20 | 50, number>>;
}

/** The relay runs its media path on one JavaScript thread: one core is what a replica can use. */
const CPU_REQUEST_MILLICORES = 1000;
/** Headroom for bursts (keyframes) and for a replica's share when a neighbour is lost. */
const TARGET_CPU_UTILIZATION_PERCENT = 70;
/** The limit over the request: room for send buffers to fill when receivers stall. */
const MEMORY_LIMIT_OVER_REQUEST = 2;

const roundUpMiB = (mib: number, step = 64) => Math.ceil(mib / step) * step;

export const RELAY_SIZING: RelaySizing = (() => {
  const perCore = RELAY_CAPACITY.participantsPerCore[RELAY_CAPACITY.planningRoomSize];
  const participantsPerReplica = Math.floor((perCore * (CPU_REQUEST_MILLICORES / 1000) * TARGET_CPU_UTILIZATION_PERCENT) / 100);
  const memoryRequestMiB = roundUpMiB(RELAY_CAPACITY.baselineRssMiB + (participantsPerReplica * RELAY_CAPACITY.rssPerParticipantKiB) / 1024);
  return {
    cpuRequest: `${CPU_REQUEST_MILLICORES}m`,
    memoryRequest: `${memoryRequestMiB}Mi`,
    memoryLimit: `${memoryRequestMiB * MEMORY_LIMIT_OVER_REQUEST}Mi`,
    targetCpuUtilizationPercent: TARGET_CPU_UTILIZATION_PERCENT,
    participantsPerReplica,
    participantsPerCore: RELAY_CAPACITY.participantsPerCore,
  };
})();
