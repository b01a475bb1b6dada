import { buildTopology, TopologyError } from '../../topology/topology';
import { applyTerraformOutputs, nodeIpsOutputName, regionSpecsFromData } from '../../topology/file';
import { regions } from '../../regions';
import { frankfurt, singapore, threeRegions, usEast, withRegion } from './fixtures';

describe('derived topology', () => {
  it('peers two regions once', () => {
    expect(buildTopology(regions).peerings).toEqual([['us-east', 'singapore']]);
  });

  it('peers three regions as a full mesh', () => {
    expect(buildTopology(threeRegions).peerings).toEqual([
      ['us-east', 'singapore'],
      ['us-east', 'eu-central'],
      ['singapore', 'eu-central'],
    ]);
  });

  it('lists every region with all its gateway endpoints in every gateway block', () => {
    const t = buildTopology(threeRegions);
    expect(t.gateways).toEqual([
      { name: 'us-east', urls: ['nats://10.100.0.2:30722'] },
      { name: 'singapore', urls: ['nats://10.110.0.2:30722'] },
      { name: 'eu-central', urls: ['nats://10.120.0.2:30722', 'nats://10.120.0.3:30722'] },
    ]);
  });

  it('names servers <region>-<pod>, unique across the super-cluster', () => {
    const t = buildTopology(threeRegions);
    const names = t.regions.flatMap((r) => r.nats.serverNames);
    expect(names).toEqual([
      'us-east-nats-0', 'us-east-nats-1', 'us-east-nats-2',
      'singapore-nats-0', 'singapore-nats-1',
      'eu-central-nats-0', 'eu-central-nats-1',
    ]);
    expect(new Set(names).size).toBe(names.length);
  });

  it('derives the client server list: every relay host and WebTransport host', () => {
    expect(buildTopology(regions).servers).toEqual([
      { region: 'us-east', transport: 'websocket', url: 'wss://us-east.relay.videocall.example' },
      { region: 'us-east', transport: 'webtransport', url: 'https://us-east.webtransport.videocall.example' },
      { region: 'singapore', transport: 'websocket', url: 'wss://singapore.relay.videocall.example' },
      { region: 'singapore', transport: 'webtransport', url: 'https://singapore.webtransport.videocall.example' },
    ]);
  });

  it('gives each region the other regions\' VPCs as gateway sources and applies defaults', () => {
    const t = buildTopology(threeRegions);
    expect(t.regions[0].peerVpcCidrs).toEqual(['10.110.0.0/16', '10.120.0.0/16']);
    expect(t.regions[0].nodePool).toEqual({ size: 's-4vcpu-8gb', count: 2, autoScale: { minNodes: 2, maxNodes: 4 } });
    expect(t.regions[0].nodeSelector).toEqual({ 'topology.kubernetes.io/region': 'nyc1' });
    expect(t.regions[0].nats.jetstreamStorageBytes).toBe(5 * 2 ** 30);
    expect(t.regions[1].nats.gatewayNodePort).toBe(30722);
  });

  it('keeps autoscaling bounds when both are given', () => {
    const t = buildTopology([withRegion(usEast, { nodePool: { minNodes: 2, maxNodes: 5 } })]);
    expect(t.regions[0].nodePool).toEqual({ size: 's-4vcpu-8gb', count: 2, autoScale: { minNodes: 2, maxNodes: 5 } });
  });

  it('autoscales a region that sets no pool, and not one that sets a fixed count', () => {
    expect(buildTopology([frankfurt]).regions[0].nodePool).toEqual({ size: 's-4vcpu-8gb', count: 2, autoScale: { minNodes: 2, maxNodes: 4 } });
    const fixed = withRegion(frankfurt, { nodePool: { size: 's-8vcpu-16gb', count: 2 } });
    expect(buildTopology([fixed]).regions[0].nodePool).toEqual({ size: 's-8vcpu-16gb', count: 2 });
  });

  it('leaves pod and service ranges to DigitalOcean unless the region sets them', () => {
    expect(buildTopology(regions).regions.map((r) => [r.podCidr, r.serviceCidr])).toEqual([[undefined, undefined], [undefined, undefined]]);
    const t = buildTopology([withRegion(usEast, { podCidr: '172.16.0.0/16', serviceCidr: '172.17.0.0/20' }), singapore]);
    expect(t.regions[0]).toMatchObject({ podCidr: '172.16.0.0/16', serviceCidr: '172.17.0.0/20' });
    expect('podCidr' in t.regions[1]).toBe(false);
  });

  it('takes the DOKS minor version prefix, 1.33. by default', () => {
    expect(buildTopology(regions).regions[0].kubernetesVersionPrefix).toBe('1.33.');
    expect(buildTopology([withRegion(usEast, { kubernetesVersion: '1.32.' })]).regions[0].kubernetesVersionPrefix).toBe('1.32.');
  });

  it('leaves max_file_store 20 % below the JetStream volume', () => {
    const plan = buildTopology(regions).regions[0];
    expect(plan.nats.jetstreamStorageBytes).toBe(5 * 2 ** 30);
    expect(plan.nats.jetstreamMaxFileStoreBytes).toBe(Math.floor(5 * 2 ** 30 * 0.8));
  });

  it('accepts blr1 as a topology of its own', () => {
    const bangalore = withRegion(frankfurt, { name: 'india', slug: 'blr1', nats: { replicas: 1 } });
    expect(buildTopology([bangalore]).regions[0].slug).toBe('blr1');
  });

  it('names no relay image unless the region or the synth option does; the region wins', () => {
    expect(buildTopology(regions).regions[0].relay.image).toBeUndefined();
    const t = buildTopology([withRegion(usEast, { relay: { image: 'registry.digitalocean.com/acme/relay:1' } }), singapore], { relayImage: 'ghcr.io/acme/relay:2' });
    expect(t.regions.map((r) => r.relay.image)).toEqual(['registry.digitalocean.com/acme/relay:1', 'ghcr.io/acme/relay:2']);
  });
});

describe('JetStream quorum warnings', () => {
  it('warns when one region holds a majority (3 of 5)', () => {
    expect(buildTopology(regions).warnings).toEqual([
      'region "us-east" holds 3 of 5 JetStream servers, a majority: losing it stops JetStream in every region',
    ]);
  });

  it('warns on an even total', () => {
    const t = buildTopology([withRegion(usEast, { nats: { replicas: 2 } }), singapore]);
    expect(t.warnings).toEqual(['4 JetStream servers in all is even: a quorum needs 3, so one more server adds no fault tolerance']);
  });

  it('is silent when no region holds a majority and the total is odd', () => {
    const t = buildTopology([withRegion(usEast, { nats: { replicas: 1 } }), singapore, withRegion(frankfurt, { nats: { replicas: 2 } })]);
    expect(t.warnings).toEqual([]);
  });
});

describe('bad topologies stop with a message naming region, field and value', () => {
  const cases: Array<[string, unknown[], string]> = [
    ['no regions', [], 'region "*": regions must list at least one region (got [])'],
    ['duplicate name', [usEast, withRegion(singapore, { name: 'us-east' })],
      'region "us-east": name is used by more than one region (got "us-east")'],
    ['bad name', [withRegion(usEast, { name: 'US_East' })],
      'region "US_East": name must be a lowercase DNS label of at most 20 characters (a-z, 0-9, -) (got "US_East")'],
    ['duplicate slug', [usEast, withRegion(singapore, { slug: 'nyc1' })],
      'region "singapore": slug is already used by region "us-east" (got "nyc1")'],
    ['unknown slug', [withRegion(usEast, { slug: 'mars1' })],
      'region "us-east": slug is not a DigitalOcean Kubernetes region (one of nyc1, nyc3, sfo2, sfo3, ams3, sgp1, lon1, fra1, tor1, blr1, syd1, atl1) (got "mars1")'],
    ['malformed CIDR', [withRegion(usEast, { vpcCidr: '10.100.0.0/33' })],
      'region "us-east": vpcCidr is not an IPv4 network in CIDR notation (a.b.c.d/n, no host bits) (got "10.100.0.0/33")'],
    ['host bits set', [withRegion(usEast, { vpcCidr: '10.100.0.1/16' })],
      'region "us-east": vpcCidr is not an IPv4 network in CIDR notation (a.b.c.d/n, no host bits) (got "10.100.0.1/16")'],
    ['VPC too large', [withRegion(usEast, { vpcCidr: '10.0.0.0/8', nats: { gatewayEndpoints: ['10.0.0.2:30722'] } })],
      'region "us-east": vpcCidr must have a prefix from /16 to /28 (got "10.0.0.0/8")'],
    ['overlapping VPCs', [usEast, withRegion(singapore, { vpcCidr: '10.100.128.0/17', nats: { gatewayEndpoints: ['10.100.128.2:30722'] } })],
      'region "singapore": vpcCidr overlaps region "us-east" (10.100.0.0/16); peered VPCs must be disjoint (got "10.100.128.0/17")'],
    ['pod range over its own VPC', [withRegion(usEast, { podCidr: '10.100.0.0/18' })],
      'region "us-east": podCidr overlaps the VPC 10.100.0.0/16 of region "us-east" (got "10.100.0.0/18")'],
    ['service range over another region\'s VPC', [usEast, withRegion(singapore, { serviceCidr: '10.100.0.0/16' })],
      'region "singapore": serviceCidr overlaps the VPC 10.100.0.0/16 of region "us-east" (got "10.100.0.0/16")'],
    ['the same pod range in two regions', [withRegion(usEast, { podCidr: '172.16.0.0/16' }), withRegion(singapore, { podCidr: '172.16.0.0/16' })],
      'region "singapore": podCidr overlaps the podCidr 172.16.0.0/16 of region "us-east"; VPC-native ranges must be distinct (got "172.16.0.0/16")'],
    ['service range inside its own pod range', [withRegion(usEast, { podCidr: '172.16.0.0/16', serviceCidr: '172.16.128.0/20' })],
      'region "us-east": serviceCidr overlaps the podCidr 172.16.0.0/16 of region "us-east"; VPC-native ranges must be distinct (got "172.16.128.0/20")'],
    ['malformed pod range', [withRegion(usEast, { podCidr: '172.16.0.0' })],
      'region "us-east": podCidr is not an IPv4 network in CIDR notation (a.b.c.d/n, no host bits) (got "172.16.0.0")'],
    ['blr1 with other regions', [usEast, withRegion(singapore, { slug: 'blr1' })],
      'region "singapore": slug has no cross-datacenter VPC peering, so its gateways cannot reach the other regions; deploy it as a topology of its own (got "blr1")'],
    ['a full Kubernetes version instead of a prefix', [withRegion(usEast, { kubernetesVersion: '1.33.1-do.0' })],
      'region "us-east": kubernetesVersion must be a minor version prefix such as 1.33. (DigitalOcean picks its newest patch) (got "1.33.1-do.0")'],
    ['relay image that is no image reference', [withRegion(usEast, { relay: { image: 'Relay Image' } })],
      'region "us-east": relay.image is not an image reference (registry/name:tag or name@sha256:…) (got "Relay Image")'],
    ['WebTransport image on latest', [withRegion(usEast, { webtransport: { host: 'wt.videocall.example', image: 'securityunion/videocall-media-server:latest' } })],
      'region "us-east": webtransport.image must be pinned to a tag other than latest or to a digest (got "securityunion/videocall-media-server:latest")'],
    ['WebTransport image without a tag', [withRegion(usEast, { webtransport: { host: 'wt.videocall.example', image: 'securityunion/videocall-media-server' } })],
      'region "us-east": webtransport.image must be pinned to a tag other than latest or to a digest (got "securityunion/videocall-media-server")'],
    ['zero WebTransport replicas', [withRegion(usEast, { webtransport: { host: 'wt.videocall.example', replicas: 0 } })],
      'region "us-east": webtransport.replicas must be an integer ≥ 1 (got 0)'],
    ['a node size of unknown capacity', [withRegion(usEast, { nodePool: { size: 'so-64vcpu-512gb', minNodes: 2, maxNodes: 4 } })],
      'region "us-east": nodePool.size has no known allocatable resources (known: s-1vcpu-2gb, s-2vcpu-2gb, s-2vcpu-4gb, s-4vcpu-8gb, s-8vcpu-16gb, c-2, c-4, c-8, g-2vcpu-8gb, g-4vcpu-16gb, g-8vcpu-32gb) (got "so-64vcpu-512gb")'],
    ['one s-2vcpu-4gb node for everything', [withRegion(usEast, { nodePool: { size: 's-2vcpu-4gb', count: 1, minNodes: undefined, maxNodes: undefined } })],
      'region "us-east": nodePool cannot schedule the region: it requests 11750m CPU and 5.8 GiB with 10 relays (relay.maxReplicas), 3 NATS servers and the system pods, but 1 × s-2vcpu-4gb can allocate 1900m CPU and 2.5 GiB; use a larger size, more nodes (or autoscaling maxNodes) or fewer relays (got {"size":"s-2vcpu-4gb","nodes":1})'],
    ['zero replicas', [withRegion(usEast, { nats: { replicas: 0 } })],
      'region "us-east": nats.replicas must be an integer ≥ 1 (got 0)'],
    ['unparseable size', [withRegion(usEast, { nats: { jetstreamStorage: '5 gigs' } })],
      'region "us-east": nats.jetstreamStorage is not a storage quantity such as 5Gi or 500Mi (got "5 gigs")'],
    ['NodePort out of range', [withRegion(usEast, { nats: { gatewayNodePort: 7222, gatewayEndpoints: ['10.100.0.2:7222'] } })],
      'region "us-east": nats.gatewayNodePort must be a NodePort from 30000 to 32767 (got 7222)'],
    ['endpoint outside the VPC', [withRegion(usEast, { nats: { gatewayEndpoints: ['10.110.0.2:30722'] } })],
      'region "us-east": nats.gatewayEndpoints[0] is outside the region\'s VPC 10.100.0.0/16 (got "10.110.0.2:30722")'],
    ['endpoint on another port', [withRegion(usEast, { nats: { gatewayEndpoints: ['10.100.0.2:30723'] } })],
      'region "us-east": nats.gatewayEndpoints[0] must use the gateway NodePort 30722 (got "10.100.0.2:30723")'],
    ['endpoint not ip:port', [withRegion(usEast, { nats: { gatewayEndpoints: ['node-1:30722'] } })],
      'region "us-east": nats.gatewayEndpoints[0] is not <IPv4 address>:<port> (got "node-1:30722")'],
    ['no endpoints', [withRegion(usEast, { nats: { gatewayEndpoints: [] } })],
      'region "us-east": nats.gatewayEndpoints must list at least one <node private IP>:<NodePort> (got [])'],
    ['endpoint listed twice', [withRegion(usEast, { nats: { gatewayEndpoints: ['10.100.0.2:30722', '10.100.0.2:30722'] } })],
      'region "us-east": nats.gatewayEndpoints[1] is listed twice (got "10.100.0.2:30722")'],
    ['relay host that is no host name', [withRegion(usEast, { relay: { hosts: ['Relay_One'] } })],
      'region "us-east": relay.hosts[0] is not a fully qualified lowercase host name (got "Relay_One")'],
    ['zero relay replicas', [withRegion(usEast, { relay: { minReplicas: 0 } })],
      'region "us-east": relay.minReplicas must be an integer ≥ 1 (got 0)'],
    ['relay maximum below the minimum', [withRegion(usEast, { relay: { minReplicas: 4, maxReplicas: 3 } })],
      'region "us-east": relay.maxReplicas must be an integer ≥ relay.minReplicas (4) (got 3)'],
    ['WebTransport host that is no host name', [withRegion(usEast, { webtransport: { host: 'webtransport' } })],
      'region "us-east": webtransport.host is not a fully qualified lowercase host name (got "webtransport")'],
    ['zero nodes', [withRegion(usEast, { nodePool: { size: 's-2vcpu-4gb', count: 0, minNodes: undefined, maxNodes: undefined } })],
      'region "us-east": nodePool.count must be an integer ≥ 1 (got 0)'],
    ['autoscaling from zero', [withRegion(usEast, { nodePool: { size: 's-2vcpu-4gb', minNodes: 0, maxNodes: 3 } })],
      'region "us-east": nodePool.minNodes must be an integer ≥ 1 (got 0)'],
    ['no relay hosts', [withRegion(usEast, { relay: { hosts: [] } })],
      'region "us-east": relay.hosts must list at least one public host name (got [])'],
    ['autoscaling half set', [withRegion(usEast, { nodePool: { minNodes: 2, maxNodes: undefined } })],
      'region "us-east": nodePool must set both minNodes and maxNodes to autoscale, or neither (got {"minNodes":2})'],
    ['autoscaling max below min', [withRegion(usEast, { nodePool: { minNodes: 3, maxNodes: 2 } })],
      'region "us-east": nodePool.maxNodes must be an integer ≥ minNodes (3) (got 2)'],
    ['gateway TLS in one region only', [withRegion(usEast, { nats: { gatewayTlsSecret: 'gw-tls' } }), singapore],
      'region "singapore": nats.gatewayTlsSecret must be set: gateway TLS is on in other regions, and a gateway link needs it on both ends (got undefined)'],
  ];

  it.each(cases)('%s', (_name, specs, message) => {
    let error: unknown;
    try {
      buildTopology(specs as never);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(TopologyError);
    expect((error as TopologyError).message).toBe(`invalid topology:\n  - ${message}`);
  });

  it('reports every problem at once', () => {
    expect(() => buildTopology([withRegion(usEast, { nats: { replicas: 0, jetstreamStorage: 'x' } })])).toThrow(
      /nats\.replicas[\s\S]*nats\.jetstreamStorage/,
    );
  });
});

describe('topology files', () => {
  it('accepts every optional field RegionSpec has (the file format mirrors it)', () => {
    const full = {
      ...JSON.parse(JSON.stringify(usEast)),
      kubernetesVersion: '1.32.', podCidr: '172.16.0.0/16', serviceCidr: '172.17.0.0/20',
      nats: { ...usEast.nats, gatewayNodePort: 30722, image: 'nats:2.10.29-alpine', storageClassName: 'x', clientAuthSecret: 'c', gatewayAuthSecret: 'g', gatewayTlsSecret: 't' },
      relay: { ...usEast.relay, minReplicas: 2, maxReplicas: 4, image: 'r/relay:1', jwtSecretName: 'j', allowPathLobby: true, clusterIssuer: 'i' },
      webtransport: { host: 'wt.videocall.example', image: 'w/wt:1', replicas: 1, clusterIssuer: 'i' },
    };
    expect(regionSpecsFromData([full])).toEqual([full]);
  });

  it('accepts the built-in regions as data (the file format mirrors RegionSpec)', () => {
    const data = JSON.parse(JSON.stringify({ regions }));
    expect(buildTopology(regionSpecsFromData(data))).toEqual(buildTopology(regions));
  });

  it.each([
    ['a typo', { regions: [{ ...JSON.parse(JSON.stringify(usEast)), nats: { ...usEast.nats, replica: 3 } }] },
      'region "us-east": nats.replica is not a known field (known: replicas, jetstreamStorage, gatewayEndpoints, gatewayNodePort, image, storageClassName, clientAuthSecret, gatewayAuthSecret, gatewayTlsSecret) (got 3)'],
    ['a lobby switch that is no boolean', { regions: [{ ...JSON.parse(JSON.stringify(usEast)), relay: { ...usEast.relay, allowPathLobby: 'yes' } }] },
      'region "us-east": relay.allowPathLobby must be a boolean (got "yes")'],
    ['a missing field', { regions: [{ ...JSON.parse(JSON.stringify(usEast)), vpcCidr: undefined }] },
      'region "us-east": vpcCidr is required (got null)'],
    ['a wrong type', { regions: [{ ...JSON.parse(JSON.stringify(usEast)), nats: { ...usEast.nats, replicas: 'three' } }] },
      'region "us-east": nats.replicas must be a number (got "three")'],
    ['no list', { region: [] }, 'region "*": regions must be a list of regions (or an object with a `regions` list) (got {"region":[]})'],
  ])('rejects %s', (_n, data, message) => {
    expect(() => regionSpecsFromData(data)).toThrow(`invalid topology:\n  - ${message}`);
  });
});

describe('--tf-outputs', () => {
  const outputs = {
    'videocall-global': {
      [nodeIpsOutputName('us-east')]: ['10.100.0.5', '10.100.0.6'],
      [nodeIpsOutputName('singapore')]: ['10.110.0.9'],
      us_east_cluster_id: 'abc',
    },
  };

  it('replaces static endpoints with every node private IP', () => {
    const t = buildTopology(applyTerraformOutputs(regions, outputs));
    expect(t.gateways).toEqual([
      { name: 'us-east', urls: ['nats://10.100.0.5:30722', 'nats://10.100.0.6:30722'] },
      { name: 'singapore', urls: ['nats://10.110.0.9:30722'] },
    ]);
  });

  it('validates the IPs it is given like any endpoint', () => {
    const bad = { s: { [nodeIpsOutputName('us-east')]: ['192.168.1.1'] } };
    expect(() => buildTopology(applyTerraformOutputs(regions, bad))).toThrow(
      'region "us-east": nats.gatewayEndpoints[0] is outside the region\'s VPC 10.100.0.0/16 (got "192.168.1.1:30722")',
    );
  });

  it('rejects an output that is not a list of IPs', () => {
    expect(() => applyTerraformOutputs(regions, { s: { [nodeIpsOutputName('singapore')]: 'x' } })).toThrow(
      'region "singapore": terraform output singapore_node_private_ips must be a non-empty list of IP addresses (got "x")',
    );
  });
});
