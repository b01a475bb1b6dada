// A real NATS super-cluster on loopback, started from the configuration the synthesis generates.
import { regions as builtInRegions } from '../../regions';
import { generatedNatsConfigs } from '../../local/generated-configs';
import { LoopbackSuperCluster, startLoopbackSuperCluster } from '../../local/nats-supercluster';
import { RegionSpec } from '../../topology/spec';
import { buildTopology } from '../../topology/topology';

export type SuperCluster = LoopbackSuperCluster;

/** Every replica of every region, gateways connected; `stop()` ends every process. */
export async function startSuperCluster(regions: readonly RegionSpec[] = builtInRegions): Promise<SuperCluster> {
  const topology = buildTopology(regions);
  return startLoopbackSuperCluster({ topology, configs: generatedNatsConfigs(topology) });
}
