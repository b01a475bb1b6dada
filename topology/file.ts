// Topology files (YAML or JSON, the fields of RegionSpec) and `cdktf output --outputs-file` JSON.
// Reading is I/O; checking the shape is pure and reports every problem with region and field.
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { resolveRegion } from './resolve';
import { RegionSpec } from './spec';
import { TopologyError, TopologyProblem } from './topology';

type Shape = 'string' | 'number' | 'boolean' | 'string[]' | { readonly [field: string]: Field };
interface Field {
  readonly shape: Shape;
  readonly optional?: boolean;
}
const req = (shape: Shape): Field => ({ shape });
const opt = (shape: Shape): Field => ({ shape, optional: true });

// Mirrors RegionSpec; a test keeps the two in step by loading every built-in region through it.
const REGION_SHAPE: Shape = {
  name: req('string'),
  slug: req('string'),
  vpcCidr: req('string'),
  kubernetesVersion: opt('string'),
  nodePool: opt({ size: opt('string'), count: opt('number'), minNodes: opt('number'), maxNodes: opt('number') }),
  podCidr: opt('string'),
  serviceCidr: opt('string'),
  nats: req({
    replicas: req('number'),
    jetstreamStorage: req('string'),
    gatewayEndpoints: req('string[]'),
    gatewayNodePort: opt('number'),
    image: opt('string'),
    storageClassName: opt('string'),
    clientAuthSecret: opt('string'),
    gatewayAuthSecret: opt('string'),
    gatewayTlsSecret: opt('string'),
  }),
  relay: req({
    hosts: req('string[]'),
    minReplicas: opt('number'),
    maxReplicas: opt('number'),
    image: opt('string'),
    jwtSecretName: opt('string'),
    allowPathLobby: opt('boolean'),
    clusterIssuer: opt('string'),
  }),
  webtransport: opt({ host: req('string'), image: opt('string'), replicas: opt('number'), clusterIssuer: opt('string') }),
};

/** Checks that parsed data has RegionSpec's shape: no unknown or missing fields, right types. */
export function regionSpecsFromData(data: unknown): RegionSpec[] {
  const list = Array.isArray(data) ? data : isObject(data) ? data.regions : undefined;
  if (!Array.isArray(list)) {
    throw new TopologyError([{ region: '*', field: 'regions', value: data, message: 'must be a list of regions (or an object with a `regions` list)' }]);
  }
  const problems: TopologyProblem[] = [];
  list.forEach((item, i) => {
    const region = isObject(item) && typeof item.name === 'string' ? item.name : `#${i + 1}`;
    checkShape(item, REGION_SHAPE, '', region, problems);
  });
  if (problems.length > 0) throw new TopologyError(problems);
  return list as RegionSpec[];
}

function checkShape(value: unknown, shape: Shape, path: string, region: string, problems: TopologyProblem[]): void {
  const field = path || 'region';
  if (shape === 'string' || shape === 'number' || shape === 'boolean') {
    if (typeof value !== shape || (shape === 'number' && !Number.isFinite(value))) {
      problems.push({ region, field, value, message: `must be a ${shape}` });
    }
    return;
  }
  if (shape === 'string[]') {
    if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) {
      problems.push({ region, field, value, message: 'must be a list of strings' });
    }
    return;
  }
  if (!isObject(value)) {
    problems.push({ region, field, value, message: 'must be a mapping' });
    return;
  }
  for (const key of Object.keys(value)) {
    if (!(key in shape)) problems.push({ region, field: join(path, key), value: value[key], message: `is not a known field (known: ${Object.keys(shape).join(', ')})` });
  }
  for (const [key, f] of Object.entries(shape)) {
    if (value[key] === undefined || value[key] === null) {
      if (!f.optional) problems.push({ region, field: join(path, key), value: value[key] ?? null, message: 'is required' });
      continue;
    }
    checkShape(value[key], f.shape, join(path, key), region, problems);
  }
}

const join = (path: string, key: string) => (path ? `${path}.${key}` : key);

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Reads a YAML or JSON topology file (JSON is YAML, so one parser serves both). */
export function loadTopologyFile(path: string): RegionSpec[] {
  let data: unknown;
  try {
    data = parseYaml(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new Error(`cannot read topology file ${path}: ${(e as Error).message}`);
  }
  return regionSpecsFromData(data);
}

/** The Terraform output that lists a region's node private IPs; Region declares it, --tf-outputs reads it. */
export function nodeIpsOutputName(region: string): string {
  return `${region.replace(/-/g, '_')}_node_private_ips`;
}

/**
 * Replaces each region's static gateway endpoints with `<node IP>:<NodePort>` for every node
 * the Terraform stack reports, from the JSON `cdktf output --outputs-file` writes
 * (`{ "<stack>": { "<output>": value } }`). Regions missing from it keep their endpoints.
 */
export function applyTerraformOutputs(specs: readonly RegionSpec[], outputs: unknown): RegionSpec[] {
  const values: Record<string, unknown> = {};
  if (isObject(outputs)) {
    for (const stack of Object.values(outputs)) if (isObject(stack)) Object.assign(values, stack);
  }
  return specs.map((spec) => {
    const ips = values[nodeIpsOutputName(spec.name)];
    if (ips === undefined) return spec;
    if (!Array.isArray(ips) || ips.length === 0 || ips.some((ip) => typeof ip !== 'string')) {
      throw new TopologyError([{ region: spec.name, field: `terraform output ${nodeIpsOutputName(spec.name)}`, value: ips, message: 'must be a non-empty list of IP addresses' }]);
    }
    const nodePort = resolveRegion(spec).nats.gatewayNodePort;
    return { ...spec, nats: { ...spec.nats, gatewayEndpoints: (ips as string[]).map((ip) => `${ip}:${nodePort}`) } };
  });
}
