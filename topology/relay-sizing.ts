// How big one relay pod is and when the autoscaler adds another: one documented object that the
// relay Deployment, its HPA and the capacity check read. Issue 12 replaces the values with measured ones.

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
}

/** Today's values: not yet measured under load. */
export const RELAY_SIZING: RelaySizing = {
  cpuRequest: '250m',
  memoryRequest: '256Mi',
  memoryLimit: '512Mi',
  targetCpuUtilizationPercent: 70,
};
