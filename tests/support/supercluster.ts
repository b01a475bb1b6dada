// A real NATS super-cluster on loopback, run from the generated manifests as Kubernetes would run
// them (local/nats-supercluster.ts). The caller stops it: `await cluster.stop()` in afterAll.
import { regions as builtInRegions } from '../../regions';
import { LoopbackSuperCluster, LoopbackSuperClusterOptions, startLoopbackSuperCluster } from '../../local/nats-supercluster';
import { RegionSpec } from '../../topology/spec';
import { buildTopology } from '../../topology/topology';
import { LOCAL_RELAY_IMAGE } from '../../local/manifests';
import { testProcesses } from './processes';

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
  // Joining the test file's group: tests/support/cleanup.ts kills them if the file is interrupted.
  return startLoopbackSuperCluster({ timeScale: TEST_TIME_SCALE, deployOrder: 'parallel', group: testProcesses, ...options, topology: buildTopology(regions, { relayImage: LOCAL_RELAY_IMAGE }) });
}
