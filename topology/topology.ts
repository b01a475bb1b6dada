// regions → topology: validated once, derived once. Pure: no I/O, no constructs.
import { ROOM_OR_USER_PATTERN } from '../protocol/packets';
import { Cidr, cidrContains, cidrsOverlap, parseCidr, parseIpv4 } from './cidr';
import {
  DEFAULT_GATEWAY_NODE_PORT, DEFAULT_POD_CIDR, DEFAULT_RELAY_IMAGE, DEFAULT_SERVICE_CIDR, DEFAULT_WEBTRANSPORT_IMAGE,
  DIGITALOCEAN_REGIONS, NODE_PORT_RANGE, k8sNames,
} from './constants';
import { parseStorageQuantity } from './quantity';
import { DEFAULT_KUBERNETES_VERSION, RegionSpec } from './spec';

export type Transport = 'websocket' | 'webtransport';

/** One entry of dist/servers.json. */
export interface ServerEntry {
  readonly region: string;
  readonly transport: Transport;
  readonly url: string;
}

export interface GatewayPlan {
  readonly name: string;
  readonly urls: readonly string[];
}

export interface RegionPlan {
  readonly name: string;
  readonly slug: string;
  readonly vpcCidr: string;
  readonly podCidr: string;
  readonly serviceCidr: string;
  readonly kubernetesVersion: string;
  readonly nodePool: {
    readonly size: string;
    readonly count: number;
    readonly autoScale?: { readonly minNodes: number; readonly maxNodes: number };
  };
  /** Pins this region's pods to its own nodes. */
  readonly nodeSelector: Readonly<Record<string, string>>;
  /** VPC ranges of every other region: the only sources allowed to reach the gateway NodePort. */
  readonly peerVpcCidrs: readonly string[];
  readonly nats: {
    readonly replicas: number;
    readonly jetstreamStorage: string;
    readonly jetstreamStorageBytes: number;
    readonly gatewayNodePort: number;
    readonly gatewayEndpoints: readonly string[];
    /** `nats://<endpoint>` for each endpoint: what the other regions dial. */
    readonly gatewayUrls: readonly string[];
    /** Server names are `<serverNamePrefix><pod name>`, unique across the super-cluster. */
    readonly serverNamePrefix: string;
    readonly serverNames: readonly string[];
    readonly image: string;
    readonly storageClassName: string;
    readonly clientAuthSecret?: string;
    readonly gatewayTlsSecret?: string;
  };
  readonly relay: {
    readonly hosts: readonly string[];
    readonly minReplicas: number;
    readonly maxReplicas: number;
    readonly image: string;
    readonly jwtSecretName: string;
    readonly clusterIssuer: string;
  };
  readonly webtransport?: {
    readonly host: string;
    readonly image: string;
    readonly tlsSecretName: string;
  };
}

export interface Topology {
  readonly regions: readonly RegionPlan[];
  /** Every unordered pair of regions, in region order: a full mesh of VPC peerings. */
  readonly peerings: ReadonlyArray<readonly [string, string]>;
  /** The `gateways` block every region's NATS config lists (its own region included). */
  readonly gateways: readonly GatewayPlan[];
  /** What clients connect to: every relay endpoint with its region and transport. */
  readonly servers: readonly ServerEntry[];
  /** Sound but risky choices, e.g. a JetStream quorum that one region's loss would break. */
  readonly warnings: readonly string[];
}

export interface TopologyProblem {
  readonly region: string;
  readonly field: string;
  readonly value: unknown;
  readonly message: string;
}

export class TopologyError extends Error {
  constructor(readonly problems: readonly TopologyProblem[]) {
    super(`invalid topology:\n${problems.map((p) => `  - ${formatProblem(p)}`).join('\n')}`);
    this.name = 'TopologyError';
  }
}

export function formatProblem(p: TopologyProblem): string {
  return `region "${p.region}": ${p.field} ${p.message} (got ${JSON.stringify(p.value)})`;
}

/** The plan of `region`; `who` names the caller in the error when there is no such region. */
export function regionPlan(topology: Topology, region: string, who: string): RegionPlan {
  const plan = topology.regions.find((r) => r.name === region);
  if (!plan) throw new Error(`${who}: region "${region}" is not in the topology (regions: ${topology.regions.map((r) => r.name).join(', ')})`);
  return plan;
}

const DNS_LABEL = /^[a-z]([a-z0-9-]{0,18}[a-z0-9])?$/;
const HOSTNAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$/;
const ENDPOINT = /^(\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5})$/;
/** DigitalOcean accepts VPC ranges from /16 to /28. */
const VPC_PREFIX = { min: 16, max: 28 } as const;

/** Validates every region (all problems at once, before anything is built) and derives the plan. */
export function buildTopology(specs: readonly RegionSpec[]): Topology {
  const problems: TopologyProblem[] = [];
  const problem = (region: string, field: string, value: unknown, message: string) =>
    problems.push({ region, field, value, message });

  if (specs.length === 0) problem('*', 'regions', [], 'must list at least one region');

  const seenNames = new Map<string, number>();
  const seenSlugs = new Map<string, string>();
  const vpcs: Array<{ region: string; cidr: Cidr }> = [];
  const clusterRanges: Array<{ region: string; field: string; cidr: Cidr }> = [];

  for (const spec of specs) {
    const r = spec.name;
    if (typeof r !== 'string' || !DNS_LABEL.test(r)) {
      problem(String(r), 'name', r, 'must be a lowercase DNS label of at most 20 characters (a-z, 0-9, -)');
    }
    if (seenNames.has(r)) problem(r, 'name', r, 'is used by more than one region');
    seenNames.set(r, (seenNames.get(r) ?? 0) + 1);

    if (!(DIGITALOCEAN_REGIONS as readonly string[]).includes(spec.slug)) {
      problem(r, 'slug', spec.slug, `is not a DigitalOcean Kubernetes region (one of ${DIGITALOCEAN_REGIONS.join(', ')})`);
    } else if (seenSlugs.has(spec.slug)) {
      problem(r, 'slug', spec.slug, `is already used by region "${seenSlugs.get(spec.slug)}"`);
    } else {
      seenSlugs.set(spec.slug, r);
    }

    const vpc = parseCidr(spec.vpcCidr);
    if (!vpc) problem(r, 'vpcCidr', spec.vpcCidr, 'is not an IPv4 network in CIDR notation (a.b.c.d/n, no host bits)');
    else if (vpc.prefix < VPC_PREFIX.min || vpc.prefix > VPC_PREFIX.max) {
      problem(r, 'vpcCidr', spec.vpcCidr, `must have a prefix from /${VPC_PREFIX.min} to /${VPC_PREFIX.max}`);
    } else vpcs.push({ region: r, cidr: vpc });

    for (const [field, text] of [['podCidr', spec.podCidr ?? DEFAULT_POD_CIDR], ['serviceCidr', spec.serviceCidr ?? DEFAULT_SERVICE_CIDR]] as const) {
      const c = parseCidr(text);
      if (!c) problem(r, field, text, 'is not an IPv4 network in CIDR notation (a.b.c.d/n, no host bits)');
      else clusterRanges.push({ region: r, field, cidr: c });
    }

    const pool = spec.nodePool ?? {};
    if (pool.count !== undefined && !isPositiveInt(pool.count)) problem(r, 'nodePool.count', pool.count, 'must be an integer ≥ 1');
    if ((pool.minNodes === undefined) !== (pool.maxNodes === undefined)) {
      problem(r, 'nodePool', pool, 'must set both minNodes and maxNodes to autoscale, or neither');
    } else if (pool.minNodes !== undefined && pool.maxNodes !== undefined) {
      if (!isPositiveInt(pool.minNodes)) problem(r, 'nodePool.minNodes', pool.minNodes, 'must be an integer ≥ 1');
      else if (!isPositiveInt(pool.maxNodes) || pool.maxNodes < pool.minNodes) {
        problem(r, 'nodePool.maxNodes', pool.maxNodes, `must be an integer ≥ minNodes (${pool.minNodes})`);
      }
    }

    const nats = spec.nats ?? ({} as RegionSpec['nats']);
    if (!isPositiveInt(nats.replicas)) problem(r, 'nats.replicas', nats.replicas, 'must be an integer ≥ 1');
    if (typeof nats.jetstreamStorage !== 'string' || parseStorageQuantity(nats.jetstreamStorage) === undefined) {
      problem(r, 'nats.jetstreamStorage', nats.jetstreamStorage, 'is not a storage quantity such as 5Gi or 500Mi');
    }
    const nodePort = nats.gatewayNodePort ?? DEFAULT_GATEWAY_NODE_PORT;
    if (!Number.isInteger(nodePort) || nodePort < NODE_PORT_RANGE.min || nodePort > NODE_PORT_RANGE.max) {
      problem(r, 'nats.gatewayNodePort', nodePort, `must be a NodePort from ${NODE_PORT_RANGE.min} to ${NODE_PORT_RANGE.max}`);
    }
    if (!Array.isArray(nats.gatewayEndpoints) || nats.gatewayEndpoints.length === 0) {
      problem(r, 'nats.gatewayEndpoints', nats.gatewayEndpoints, 'must list at least one <node private IP>:<NodePort>');
    } else {
      const seen = new Set<string>();
      nats.gatewayEndpoints.forEach((endpoint, i) => {
        const field = `nats.gatewayEndpoints[${i}]`;
        const m = ENDPOINT.exec(endpoint);
        const ip = m ? parseIpv4(m[1]) : undefined;
        if (!m || ip === undefined) problem(r, field, endpoint, 'is not <IPv4 address>:<port>');
        else if (Number(m[2]) !== nodePort) problem(r, field, endpoint, `must use the gateway NodePort ${nodePort}`);
        else if (vpc && !cidrContains(vpc, ip)) problem(r, field, endpoint, `is outside the region's VPC ${spec.vpcCidr}`);
        if (seen.has(endpoint)) problem(r, field, endpoint, 'is listed twice');
        seen.add(endpoint);
      });
    }

    const relay = spec.relay ?? ({} as RegionSpec['relay']);
    if (!Array.isArray(relay.hosts) || relay.hosts.length === 0) {
      problem(r, 'relay.hosts', relay.hosts, 'must list at least one public host name');
    } else {
      relay.hosts.forEach((h, i) => {
        if (!HOSTNAME.test(h)) problem(r, `relay.hosts[${i}]`, h, 'is not a fully qualified lowercase host name');
      });
    }
    const minReplicas = relay.minReplicas ?? 2;
    const maxReplicas = relay.maxReplicas ?? Math.max(10, minReplicas);
    if (!isPositiveInt(minReplicas)) problem(r, 'relay.minReplicas', minReplicas, 'must be an integer ≥ 1');
    else if (!isPositiveInt(maxReplicas) || maxReplicas < minReplicas) {
      problem(r, 'relay.maxReplicas', maxReplicas, `must be an integer ≥ relay.minReplicas (${minReplicas})`);
    }
    if (spec.webtransport && !HOSTNAME.test(spec.webtransport.host)) {
      problem(r, 'webtransport.host', spec.webtransport.host, 'is not a fully qualified lowercase host name');
    }
    // A region name ends up in NATS subjects (`health.diagnostics.<region>…`) too.
    if (typeof r === 'string' && !ROOM_OR_USER_PATTERN.test(r)) problem(r, 'name', r, 'must be usable as a NATS subject token');
  }

  for (let i = 0; i < vpcs.length; i++) {
    for (let j = i + 1; j < vpcs.length; j++) {
      if (cidrsOverlap(vpcs[i].cidr, vpcs[j].cidr)) {
        problem(vpcs[j].region, 'vpcCidr', vpcs[j].cidr.text, `overlaps region "${vpcs[i].region}" (${vpcs[i].cidr.text}); peered VPCs must be disjoint`);
      }
    }
    // Gateway traffic from any VPC must not be mistaken for pod or service traffic inside any cluster.
    for (const range of clusterRanges) {
      if (cidrsOverlap(vpcs[i].cidr, range.cidr)) {
        problem(vpcs[i].region, 'vpcCidr', vpcs[i].cidr.text, `overlaps the ${range.field} ${range.cidr.text} of region "${range.region}"`);
      }
    }
  }

  const gatewayTls = new Set(specs.map((s) => s.nats?.gatewayTlsSecret !== undefined));
  if (gatewayTls.size > 1) {
    for (const s of specs.filter((x) => x.nats?.gatewayTlsSecret === undefined)) {
      problem(s.name, 'nats.gatewayTlsSecret', undefined, 'must be set: gateway TLS is on in other regions, and a gateway link needs it on both ends');
    }
  }

  if (problems.length > 0) throw new TopologyError(problems);
  return derive(specs);
}

function derive(specs: readonly RegionSpec[]): Topology {
  const regions: RegionPlan[] = specs.map((spec) => {
    const nats = spec.nats;
    const gatewayNodePort = nats.gatewayNodePort ?? DEFAULT_GATEWAY_NODE_PORT;
    const serverNamePrefix = `${spec.name}-`;
    const pool = spec.nodePool ?? {};
    const minReplicas = spec.relay.minReplicas ?? 2;
    return {
      name: spec.name,
      slug: spec.slug,
      vpcCidr: spec.vpcCidr,
      podCidr: spec.podCidr ?? DEFAULT_POD_CIDR,
      serviceCidr: spec.serviceCidr ?? DEFAULT_SERVICE_CIDR,
      kubernetesVersion: spec.kubernetesVersion ?? DEFAULT_KUBERNETES_VERSION,
      nodePool: {
        size: pool.size ?? 's-2vcpu-4gb',
        count: pool.count ?? pool.minNodes ?? 1,
        ...(pool.minNodes !== undefined && pool.maxNodes !== undefined
          ? { autoScale: { minNodes: pool.minNodes, maxNodes: pool.maxNodes } }
          : {}),
      },
      nodeSelector: { 'topology.kubernetes.io/region': spec.slug },
      peerVpcCidrs: specs.filter((o) => o.name !== spec.name).map((o) => o.vpcCidr),
      nats: {
        replicas: nats.replicas,
        jetstreamStorage: nats.jetstreamStorage,
        jetstreamStorageBytes: parseStorageQuantity(nats.jetstreamStorage)!,
        gatewayNodePort,
        gatewayEndpoints: [...nats.gatewayEndpoints],
        gatewayUrls: nats.gatewayEndpoints.map((e) => `nats://${e}`),
        serverNamePrefix,
        serverNames: Array.from({ length: nats.replicas }, (_, i) => `${serverNamePrefix}${k8sNames.nats}-${i}`),
        image: nats.image ?? 'nats:2.10.29-alpine',
        storageClassName: nats.storageClassName ?? 'do-block-storage',
        ...(nats.clientAuthSecret ? { clientAuthSecret: nats.clientAuthSecret } : {}),
        ...(nats.gatewayTlsSecret ? { gatewayTlsSecret: nats.gatewayTlsSecret } : {}),
      },
      relay: {
        hosts: [...spec.relay.hosts],
        minReplicas,
        maxReplicas: spec.relay.maxReplicas ?? Math.max(10, minReplicas),
        image: spec.relay.image ?? DEFAULT_RELAY_IMAGE,
        jwtSecretName: spec.relay.jwtSecretName ?? 'relay-jwt',
        clusterIssuer: spec.relay.clusterIssuer ?? 'letsencrypt',
      },
      ...(spec.webtransport
        ? {
            webtransport: {
              host: spec.webtransport.host,
              image: spec.webtransport.image ?? DEFAULT_WEBTRANSPORT_IMAGE,
              tlsSecretName: spec.webtransport.tlsSecretName ?? 'webtransport-tls',
            },
          }
        : {}),
    };
  });

  const peerings: Array<[string, string]> = [];
  for (let i = 0; i < regions.length; i++) {
    for (let j = i + 1; j < regions.length; j++) peerings.push([regions[i].name, regions[j].name]);
  }

  const servers: ServerEntry[] = regions.flatMap((r) => [
    ...r.relay.hosts.map((h): ServerEntry => ({ region: r.name, transport: 'websocket', url: `wss://${h}` })),
    ...(r.webtransport ? [{ region: r.name, transport: 'webtransport' as const, url: `https://${r.webtransport.host}` }] : []),
  ]);

  return {
    regions,
    peerings,
    gateways: regions.map((r) => ({ name: r.name, urls: r.nats.gatewayUrls })),
    servers,
    warnings: jetStreamWarnings(regions),
  };
}

/**
 * JetStream's meta group is one Raft group across the whole super-cluster: it needs a majority
 * of all JetStream servers, so losing a region that holds a majority stops JetStream everywhere.
 */
export function jetStreamWarnings(regions: readonly Pick<RegionPlan, 'name' | 'nats'>[]): string[] {
  const total = regions.reduce((n, r) => n + r.nats.replicas, 0);
  const warnings: string[] = [];
  for (const r of regions) {
    if (regions.length > 1 && r.nats.replicas * 2 > total) {
      warnings.push(
        `region "${r.name}" holds ${r.nats.replicas} of ${total} JetStream servers, a majority: losing it stops JetStream in every region`,
      );
    }
  }
  if (total % 2 === 0) {
    warnings.push(`${total} JetStream servers in all is even: a quorum needs ${total / 2 + 1}, so one more server adds no fault tolerance`);
  }
  return warnings;
}

function isPositiveInt(n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n >= 1;
}
