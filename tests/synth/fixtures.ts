// Regions for tests: the built-in two plus a third (Frankfurt), and a way to vary one field.
import { regions } from '../../regions';
import { RegionSpec } from '../../topology/spec';
import { Topology, buildTopology } from '../../topology/topology';

export const [usEast, singapore] = regions;

export const frankfurt: RegionSpec = {
  name: 'eu-central',
  slug: 'fra1',
  vpcCidr: '10.120.0.0/16',
  nats: { replicas: 2, jetstreamStorage: '3Gi', gatewayEndpoints: ['10.120.0.2:30722', '10.120.0.3:30722'] },
  relay: { hosts: ['eu-central.relay.videocall.example'] },
};

export const threeRegions: RegionSpec[] = [usEast, singapore, frankfurt];

/** A deep copy of `spec` with `patch` merged in (one level into nats/relay/nodePool). */
export function withRegion(spec: RegionSpec, patch: Record<string, unknown>): RegionSpec {
  const copy = JSON.parse(JSON.stringify(spec)) as Record<string, unknown>;
  for (const [k, v] of Object.entries(patch)) {
    const cur = copy[k];
    copy[k] = v !== null && typeof v === 'object' && !Array.isArray(v) && cur && typeof cur === 'object' ? { ...cur, ...v } : v;
  }
  return copy as unknown as RegionSpec;
}

/** The relay image every synthesis in the tests names (synth requires one; none is public). */
export const TEST_RELAY_IMAGE = 'registry.example.com/videocall/relay:test';

/** buildTopology with the test relay image, for tests that synthesize relay manifests. */
export function testTopology(specs: readonly RegionSpec[]): Topology {
  return buildTopology(specs, { relayImage: TEST_RELAY_IMAGE });
}

/** A synthesized Kubernetes object, as the tests read it. */
export type Manifest = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: any; // eslint-disable-line @typescript-eslint/no-explicit-any
};
export type Labels = Readonly<Record<string, string>>;

/** The one object of `kind` named `name`; throws naming what there is otherwise. */
export function one(manifests: readonly Manifest[], kind: string, name: string): Manifest {
  const found = manifests.filter((m) => m.kind === kind && m.metadata.name === name);
  if (found.length !== 1) throw new Error(`expected one ${kind}/${name}, found ${found.length} among ${manifests.map((m) => `${m.kind}/${m.metadata.name}`).join(', ')}`);
  return found[0];
}

/** Whether a label selector selects `labels`, as Kubernetes matches matchLabels. */
export const matches = (selector: Labels, labels: Labels) => Object.entries(selector).every(([k, v]) => labels[k] === v);

/** The first container of a Deployment or StatefulSet. */
export const container = (d: Manifest) => d.spec.template.spec.containers[0];
