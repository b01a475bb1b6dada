// The nats.conf each region's ConfigMap carries, taken from the synthesized chart itself.
import { App, Chart } from 'cdk8s';
import { NatsSuperCluster } from '../constructs/nats-super-cluster';
import { natsPaths } from '../constructs/nats-config';
import { Topology } from '../topology/topology';

export function generatedNatsConfigs(topology: Topology): Record<string, string> {
  const configs: Record<string, string> = {};
  for (const region of topology.regions) {
    const chart = new Chart(new App(), 'nats');
    new NatsSuperCluster(chart, 'nats', { plan: region, gateways: topology.gateways });
    const configMap = chart.toJson().find((o) => o.kind === 'ConfigMap');
    const text = configMap?.data?.[natsPaths.configFile];
    if (typeof text !== 'string') throw new Error(`the synthesized nats chart of ${region.name} has no ${natsPaths.configFile}`);
    configs[region.name] = text;
  }
  return configs;
}
