// A region's Kubernetes manifests as cdk8s charts, one file each: namespace, nats, relay.
// kubectl applies a directory in file-name order, so the namespace comes first.
import { App, Chart } from 'cdk8s';
import { k8s } from 'cdk8s-plus-28';
import { k8sNames } from '../topology/constants';
import { Topology, regionPlan } from '../topology/topology';
import { NatsSuperCluster } from './nats-super-cluster';
import { RelayService } from './relay-service';
import { WebTransportService } from './webtransport-service';

/** Chart IDs are the file names (`<id>.k8s.yaml`): a contract with the people who apply them. */
export const REGION_CHARTS = ['namespace', 'nats', 'relay'] as const;

export function addRegionCharts(app: App, topology: Topology, region: string): void {
  const namespace = new Chart(app, 'namespace');
  new k8s.KubeNamespace(namespace, 'namespace', {
    metadata: { name: k8sNames.namespace, labels: { 'app.kubernetes.io/part-of': 'videocall-global' } },
  });
  const plan = regionPlan(topology, region, 'region charts');
  const nats = new Chart(app, 'nats', { namespace: k8sNames.namespace });
  new NatsSuperCluster(nats, 'nats', { plan, gateways: topology.gateways });
  const relay = new Chart(app, 'relay', { namespace: k8sNames.namespace });
  new RelayService(relay, 'relay', { plan });
  if (plan.webtransport) new WebTransportService(relay, 'webtransport', { plan });
}
