// A real NATS super-cluster on loopback, run from the generated manifests as Kubernetes would run
// them (local/nats-supercluster.ts). The caller stops it: `await cluster.stop()` in afterAll.
import { regions as builtInRegions } from '../../regions';
import { LoopbackSuperCluster, LoopbackSuperClusterOptions, startLoopbackSuperCluster } from '../../local/nats-supercluster';
import { RegionSpec } from '../../topology/spec';
import { buildTopology } from '../../topology/topology';

export type SuperCluster = LoopbackSuperCluster;

/**
 * Tests run the manifests' probe periods ten times faster, and apply all regions at once unless they
 * test the deploy order; every pod is Ready and the gateways a full mesh when this resolves.
 */
export const TEST_TIME_SCALE = 0.1;

export async function startSuperCluster(
  regions: readonly RegionSpec[] = builtInRegions,
  options: Partial<Omit<LoopbackSuperClusterOptions, 'topology'>> = {},
): Promise<SuperCluster> {
  return startLoopbackSuperCluster({ timeScale: TEST_TIME_SCALE, deployOrder: 'parallel', ...options, topology: buildTopology(regions) });
}
