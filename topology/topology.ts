// regions → topology: defaults applied once (resolve), the resolved plan validated once, then
// derived. Pure: no I/O, no constructs.
import { ROOM_OR_USER_PATTERN } from '../protocol/packets';
import { capacityProblems } from './capacity';
import { Cidr, cidrContains, cidrsOverlap, parseCidr, parseIpv4 } from './cidr';
import { DIGITALOCEAN_REGIONS, JETSTREAM_VOLUME_HEADROOM, NODE_PORT_RANGE, NO_CROSS_DATACENTER_PEERING, k8sNames } from './constants';
import { parseStorageQuantity } from './quantity';
import { ResolveOptions, ResolvedRegion, resolve } from './resolve';
import { ServerEntry, Transport } from './server-entry';
import { RegionSpec } from './spec';

export type { ServerEntry, Transport };

export interface GatewayPlan {
  readonly name: string;
  readonly urls: readonly string[];
}

/** A region with every default applied and everything derived from the whole topology. */
export interface RegionPlan extends ResolvedRegion {
  /** Pins this region's pods to its own nodes. */
  readonly nodeSelector: Readonly<Record<string, string>>;
  /** VPC ranges of every other region: the only sources allowed to reach the gateway NodePort. */
  readonly peerVpcCidrs: readonly string[];
  readonly nats: ResolvedRegion['nats'] & {
    readonly jetstreamStorageBytes: number;
    /** JetStream's max_file_store: the volume less JETSTREAM_VOLUME_HEADROOM. */
    readonly jetstreamMaxFileStoreBytes: number;
    /** `nats://<endpoint>` for each endpoint: what the other regions dial. */
    readonly gatewayUrls: readonly string[];
    /** Server names are `<serverNamePrefix><pod name>`, unique across the super-cluster. */
    readonly serverNamePrefix: string;
    readonly serverNames: readonly string[];
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
const KUBERNETES_VERSION_PREFIX = /^\d+\.\d+\.$/;
/** `[registry[:port]/]path[:tag][@sha256:digest]`, lowercase path. */
const IMAGE = /^[a-z0-9]([a-z0-9._-]*[a-z0-9])?(:[0-9]+)?(\/[a-z0-9]([a-z0-9._-]*[a-z0-9])?)*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[a-f0-9]{64})?$/;
/** An image reference that names a tag or a digest. */
const PINNED_IMAGE = /(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}|@sha256:[a-f0-9]{64})$/;

/**
 * Applies every default once (resolve), validates the resolved plan (all problems at once, before
 * anything is built) and derives the topology from it.
 */
export function buildTopology(specs: readonly RegionSpec[], options: ResolveOptions = {}): Topology {
  const resolved = resolve(specs, options);
  const problems = validate(resolved);
  if (problems.length > 0) throw new TopologyError(problems);
  return derive(resolved);
}

function validate(regions: readonly ResolvedRegion[]): TopologyProblem[] {
  const problems: TopologyProblem[] = [];
  const problem = (region: string, field: string, value: unknown, message: string) =>
    problems.push({ region, field, value, message });

  if (regions.length === 0) problem('*', 'regions', [], 'must list at least one region');

  const seenNames = new Map<string, number>();
  const seenSlugs = new Map<string, string>();
  const vpcs: Array<{ region: string; cidr: Cidr }> = [];
  const clusterRanges: Array<{ region: string; field: string; cidr: Cidr }> = [];

  for (const spec of regions) {
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
    if (regions.length > 1 && NO_CROSS_DATACENTER_PEERING.includes(spec.slug)) {
      problem(r, 'slug', spec.slug, 'has no cross-datacenter VPC peering, so its gateways cannot reach the other regions; deploy it as a topology of its own');
    }

    if (typeof spec.kubernetesVersionPrefix !== 'string' || !KUBERNETES_VERSION_PREFIX.test(spec.kubernetesVersionPrefix)) {
      problem(r, 'kubernetesVersion', spec.kubernetesVersionPrefix, 'must be a minor version prefix such as 1.33. (DigitalOcean picks its newest patch)');
    }

    const vpc = parseCidr(spec.vpcCidr);
    if (!vpc) problem(r, 'vpcCidr', spec.vpcCidr, 'is not an IPv4 network in CIDR notation (a.b.c.d/n, no host bits)');
    else if (vpc.prefix < VPC_PREFIX.min || vpc.prefix > VPC_PREFIX.max) {
      problem(r, 'vpcCidr', spec.vpcCidr, `must have a prefix from /${VPC_PREFIX.min} to /${VPC_PREFIX.max}`);
    } else vpcs.push({ region: r, cidr: vpc });

    for (const field of ['podCidr', 'serviceCidr'] as const) {
      const text = spec[field];
      if (text === undefined) continue;
      const c = parseCidr(text);
      if (!c) problem(r, field, text, 'is not an IPv4 network in CIDR notation (a.b.c.d/n, no host bits)');
      else clusterRanges.push({ region: r, field, cidr: c });
    }

    const pool = spec.nodePool;
    // With autoscaling the starting count defaults to minNodes, whose own check names the problem.
    if (!pool.autoScale && !isPositiveInt(pool.count)) problem(r, 'nodePool.count', pool.count, 'must be an integer ≥ 1');
    if (pool.autoScale && (pool.autoScale.minNodes === undefined || pool.autoScale.maxNodes === undefined)) {
      problem(r, 'nodePool', pool.autoScale, 'must set both minNodes and maxNodes to autoscale, or neither');
    } else if (pool.autoScale) {
      const { minNodes, maxNodes } = pool.autoScale;
      if (!isPositiveInt(minNodes)) problem(r, 'nodePool.minNodes', minNodes, 'must be an integer ≥ 1');
      else if (!isPositiveInt(maxNodes) || maxNodes < minNodes) {
        problem(r, 'nodePool.maxNodes', maxNodes, `must be an integer ≥ minNodes (${minNodes})`);
      }
    }

    const nats = spec.nats;
    if (!isPositiveInt(nats.replicas)) problem(r, 'nats.replicas', nats.replicas, 'must be an integer ≥ 1');
    if (typeof nats.jetstreamStorage !== 'string' || parseStorageQuantity(nats.jetstreamStorage) === undefined) {
      problem(r, 'nats.jetstreamStorage', nats.jetstreamStorage, 'is not a storage quantity such as 5Gi or 500Mi');
    }
    const nodePort = nats.gatewayNodePort;
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

    const relay = spec.relay;
    if (!Array.isArray(relay.hosts) || relay.hosts.length === 0) {
      problem(r, 'relay.hosts', relay.hosts, 'must list at least one public host name');
    } else {
      relay.hosts.forEach((h, i) => {
        if (!HOSTNAME.test(h)) problem(r, `relay.hosts[${i}]`, h, 'is not a fully qualified lowercase host name');
      });
    }
    if (!isPositiveInt(relay.minReplicas)) problem(r, 'relay.minReplicas', relay.minReplicas, 'must be an integer ≥ 1');
    else if (!isPositiveInt(relay.maxReplicas) || relay.maxReplicas < relay.minReplicas) {
      problem(r, 'relay.maxReplicas', relay.maxReplicas, `must be an integer ≥ relay.minReplicas (${relay.minReplicas})`);
    }
    if (relay.image !== undefined && !IMAGE.test(relay.image)) {
      problem(r, 'relay.image', relay.image, 'is not an image reference (registry/name:tag or name@sha256:…)');
    }
    if (spec.webtransport) {
      if (!HOSTNAME.test(spec.webtransport.host)) {
        problem(r, 'webtransport.host', spec.webtransport.host, 'is not a fully qualified lowercase host name');
      }
      if (!PINNED_IMAGE.test(spec.webtransport.image) || /:latest$/.test(spec.webtransport.image)) {
        problem(r, 'webtransport.image', spec.webtransport.image, 'must be pinned to a tag other than latest or to a digest');
      }
      if (!isPositiveInt(spec.webtransport.replicas)) problem(r, 'webtransport.replicas', spec.webtransport.replicas, 'must be an integer ≥ 1');
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
  }
  // A custom pod or service range makes a VPC-native cluster; DigitalOcean refuses one whose
  // ranges overlap another VPC-native cluster's or any VPC in the account
  // (docs.digitalocean.com/products/kubernetes/how-to/create-clusters/ "VPC-native").
  for (let i = 0; i < clusterRanges.length; i++) {
    const a = clusterRanges[i];
    for (const vpc of vpcs) {
      if (cidrsOverlap(a.cidr, vpc.cidr)) {
        problem(a.region, a.field, a.cidr.text, `overlaps the VPC ${vpc.cidr.text} of region "${vpc.region}"`);
      }
    }
    for (let j = 0; j < i; j++) {
      const b = clusterRanges[j];
      if (cidrsOverlap(a.cidr, b.cidr)) {
        problem(a.region, a.field, a.cidr.text, `overlaps the ${b.field} ${b.cidr.text} of region "${b.region}"; VPC-native ranges must be distinct`);
      }
    }
  }

  const gatewayTls = new Set(regions.map((s) => s.nats.gatewayTlsSecret !== undefined));
  if (gatewayTls.size > 1) {
    for (const s of regions.filter((x) => x.nats.gatewayTlsSecret === undefined)) {
      problem(s.name, 'nats.gatewayTlsSecret', undefined, 'must be set: gateway TLS is on in other regions, and a gateway link needs it on both ends');
    }
  }
  if (problems.length === 0) problems.push(...capacityProblems(regions));
  return problems;
}

function derive(resolved: readonly ResolvedRegion[]): Topology {
  const regions: RegionPlan[] = resolved.map((spec) => {
    const serverNamePrefix = `${spec.name}-`;
    const jetstreamStorageBytes = parseStorageQuantity(spec.nats.jetstreamStorage)!;
    return {
      ...spec,
      nodeSelector: { 'topology.kubernetes.io/region': spec.slug },
      peerVpcCidrs: resolved.filter((o) => o.name !== spec.name).map((o) => o.vpcCidr),
      nats: {
        ...spec.nats,
        jetstreamStorageBytes,
        jetstreamMaxFileStoreBytes: Math.floor(jetstreamStorageBytes * (1 - JETSTREAM_VOLUME_HEADROOM)),
        gatewayUrls: spec.nats.gatewayEndpoints.map((e) => `nats://${e}`),
        serverNamePrefix,
        serverNames: Array.from({ length: spec.nats.replicas }, (_, i) => `${serverNamePrefix}${k8sNames.nats}-${i}`),
      },
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
