// Can a region's node pool hold what we ask it to run, with the relays at their HPA maximum?
// Pure: sums requests and compares them with the pool's allocatable resources.
import { NATS_RESOURCES, WEBTRANSPORT_RESOURCES } from './constants';
import { parseCpuQuantity, parseStorageQuantity } from './quantity';
import { RELAY_SIZING } from './relay-sizing';
import type { ResolvedRegion } from './resolve';
import type { TopologyProblem } from './topology';

const GiB = 2 ** 30;
const MiB = 2 ** 20;

export interface NodeAllocatable {
  /** Millicores the scheduler can hand out on one node. */
  readonly cpuMillis: number;
  readonly memoryBytes: number;
}

/**
 * Allocatable resources of one DOKS node by Droplet size. Memory: DigitalOcean's "allocatable
 * memory" table for DOKS node plans (docs.digitalocean.com/products/kubernetes/details/managed/,
 * "Allocatable Memory"): 2 GB → 1 GiB, 4 GB → 2.5 GiB, 8 GB → 6 GiB, 16 GB → 13 GiB, 32 GB → 28 GiB.
 * That page was not reachable from where this was written: the figures are as we know them and
 * should be checked against it (or `kubectl describe node`) before relying on a tight fit.
 * CPU: the vCPUs less 100m we keep back for the kubelet and the container runtime (DigitalOcean
 * publishes no CPU reservation, so we assume one).
 */
export const DOKS_NODE_ALLOCATABLE: Readonly<Record<string, NodeAllocatable>> = {
  's-1vcpu-2gb': { cpuMillis: 900, memoryBytes: 1 * GiB },
  's-2vcpu-2gb': { cpuMillis: 1900, memoryBytes: 1 * GiB },
  's-2vcpu-4gb': { cpuMillis: 1900, memoryBytes: 2.5 * GiB },
  's-4vcpu-8gb': { cpuMillis: 3900, memoryBytes: 6 * GiB },
  's-8vcpu-16gb': { cpuMillis: 7900, memoryBytes: 13 * GiB },
  'c-2': { cpuMillis: 1900, memoryBytes: 2.5 * GiB },
  'c-4': { cpuMillis: 3900, memoryBytes: 6 * GiB },
  'c-8': { cpuMillis: 7900, memoryBytes: 13 * GiB },
  'g-2vcpu-8gb': { cpuMillis: 1900, memoryBytes: 6 * GiB },
  'g-4vcpu-16gb': { cpuMillis: 3900, memoryBytes: 13 * GiB },
  'g-8vcpu-32gb': { cpuMillis: 7900, memoryBytes: 28 * GiB },
};

/**
 * What runs besides our workloads, as requests. Per node: DOKS's own DaemonSets (cilium,
 * csi-do-node, do-node-agent, konnectivity-agent). Per cluster: CoreDNS (two replicas) and the
 * add-ons the README's deploy section installs (ingress-nginx controller, metrics-server,
 * cert-manager). Estimates from the charts' default requests, rounded up.
 */
export const SYSTEM_REQUESTS = {
  perNode: { cpuMillis: 300, memoryBytes: 400 * MiB },
  perCluster: { cpuMillis: 450, memoryBytes: 550 * MiB },
} as const;

export interface RegionDemand {
  readonly cpuMillis: number;
  readonly memoryBytes: number;
  /** The node count the check assumed: the pool's maximum. */
  readonly nodes: number;
  readonly allocatable: NodeAllocatable;
}

function requests(cpu: string, memory: string, count: number) {
  return { cpuMillis: (parseCpuQuantity(cpu) ?? 0) * count, memoryBytes: (parseStorageQuantity(memory) ?? 0) * count };
}

/** Everything the region requests with the relays at their HPA maximum, on a pool at its largest. */
export function regionDemand(region: ResolvedRegion): RegionDemand | undefined {
  const allocatable = DOKS_NODE_ALLOCATABLE[region.nodePool.size];
  if (!allocatable) return undefined;
  const nodes = region.nodePool.autoScale?.maxNodes ?? region.nodePool.count;
  const parts = [
    requests(NATS_RESOURCES.cpuRequest, NATS_RESOURCES.memoryRequest, region.nats.replicas),
    requests(RELAY_SIZING.cpuRequest, RELAY_SIZING.memoryRequest, region.relay.maxReplicas),
    ...(region.webtransport ? [requests(WEBTRANSPORT_RESOURCES.cpuRequest, WEBTRANSPORT_RESOURCES.memoryRequest, region.webtransport.replicas)] : []),
    SYSTEM_REQUESTS.perCluster,
    { cpuMillis: SYSTEM_REQUESTS.perNode.cpuMillis * nodes, memoryBytes: SYSTEM_REQUESTS.perNode.memoryBytes * nodes },
  ];
  return {
    cpuMillis: parts.reduce((n, p) => n + p.cpuMillis, 0),
    memoryBytes: parts.reduce((n, p) => n + p.memoryBytes, 0),
    nodes,
    allocatable,
  };
}

const gib = (bytes: number) => `${(bytes / GiB).toFixed(1)} GiB`;

export function capacityProblems(regions: readonly ResolvedRegion[]): TopologyProblem[] {
  const problems: TopologyProblem[] = [];
  for (const r of regions) {
    const demand = regionDemand(r);
    if (!demand) {
      problems.push({
        region: r.name, field: 'nodePool.size', value: r.nodePool.size,
        message: `has no known allocatable resources (known: ${Object.keys(DOKS_NODE_ALLOCATABLE).join(', ')})`,
      });
      continue;
    }
    const cpu = demand.allocatable.cpuMillis * demand.nodes;
    const memory = demand.allocatable.memoryBytes * demand.nodes;
    if (demand.cpuMillis > cpu || demand.memoryBytes > memory) {
      problems.push({
        region: r.name, field: 'nodePool', value: { size: r.nodePool.size, nodes: demand.nodes },
        message:
          `cannot schedule the region: it requests ${demand.cpuMillis}m CPU and ${gib(demand.memoryBytes)} with ` +
          `${r.relay.maxReplicas} relays (relay.maxReplicas), ${r.nats.replicas} NATS servers and the system pods, ` +
          `but ${demand.nodes} × ${r.nodePool.size} can allocate ${cpu}m CPU and ${gib(memory)}; ` +
          'use a larger size, more nodes (or autoscaling maxNodes) or fewer relays',
      });
    }
  }
  return problems;
}
