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
