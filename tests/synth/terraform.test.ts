import { setupJest } from 'cdktf/lib/testing/adapters/jest';
import { Testing } from 'cdktf';
import { Firewall } from '@cdktf/provider-digitalocean/lib/firewall';
import { KubernetesCluster } from '@cdktf/provider-digitalocean/lib/kubernetes-cluster';
import { DigitaloceanProvider } from '@cdktf/provider-digitalocean/lib/provider';
import { Vpc } from '@cdktf/provider-digitalocean/lib/vpc';
import { DataDigitaloceanKubernetesVersions } from '@cdktf/provider-digitalocean/lib/data-digitalocean-kubernetes-versions';
import { VpcPeering } from '@cdktf/provider-digitalocean/lib/vpc-peering';
import { VideocallStack } from '../../constructs/videocall-stack';
import { nodeIpsOutputName } from '../../topology/file';
import { buildTopology } from '../../topology/topology';
import { regions } from '../../regions';
import { singapore, threeRegions, usEast, withRegion } from './fixtures';

function synth(specs = regions, props: Partial<ConstructorParameters<typeof VideocallStack>[2]> = {}) {
  const stack = new VideocallStack(Testing.app(), 'videocall-global', { topology: buildTopology(specs), ...props });
  const json = Testing.synth(stack);
  return { json, parsed: JSON.parse(json), stack };
}

setupJest();

const byType = (parsed: any, type: string): Record<string, any> => parsed.resource?.[type] ?? {};

describe('Terraform stack', () => {
  it('matches the snapshot', () => {
    expect(synth().json).toMatchSnapshot();
  });

  it('declares the DigitalOcean provider without credentials in the JSON', () => {
    const { json, parsed } = synth();
    expect(json).toHaveProvider(DigitaloceanProvider);
    expect(JSON.stringify(parsed.provider)).not.toMatch(/token/i);
  });

  it('creates one VPC per region with its range and slug', () => {
    const { json } = synth();
    expect(json).toHaveResourceWithProperties(Vpc, { name: 'videocall-us-east-vpc', region: 'nyc1', ip_range: '10.100.0.0/16' });
    expect(json).toHaveResourceWithProperties(Vpc, { name: 'videocall-singapore-vpc', region: 'sgp1', ip_range: '10.110.0.0/16' });
  });

  it('puts each cluster in its own VPC by reference, with the node pool', () => {
    const { json, parsed } = synth();
    expect(json).toHaveResourceWithProperties(KubernetesCluster, {
      name: 'videocall-us-east-k8s',
      region: 'nyc1',
      node_pool: expect.objectContaining({ size: 's-4vcpu-8gb', node_count: 2, auto_scale: true, min_nodes: 2, max_nodes: 4 }),
    });
    const vpcs = byType(parsed, 'digitalocean_vpc');
    for (const cluster of Object.values(byType(parsed, 'digitalocean_kubernetes_cluster'))) {
      const match = /^\$\{digitalocean_vpc\.([^.]+)\.id\}$/.exec(cluster.vpc_uuid);
      expect(match).not.toBeNull();
      expect(vpcs[match![1]].region).toBe(cluster.region);
    }
  });

  it('takes the version from the DOKS versions data source and leaves later upgrades to DigitalOcean', () => {
    const { json, parsed } = synth([withRegion(usEast, { kubernetesVersion: '1.32.' }), singapore]);
    expect(json).toHaveDataSourceWithProperties(DataDigitaloceanKubernetesVersions, { version_prefix: '1.32.' });
    expect(json).toHaveDataSourceWithProperties(DataDigitaloceanKubernetesVersions, { version_prefix: '1.33.' });
    const versions = parsed.data.digitalocean_kubernetes_versions;
    for (const cluster of Object.values(byType(parsed, 'digitalocean_kubernetes_cluster'))) {
      const match = /^\$\{data\.digitalocean_kubernetes_versions\.([^.]+)\.latest_version\}$/.exec(cluster.version);
      expect(match).not.toBeNull();
      expect(versions[match![1]]).toBeDefined();
      expect(cluster.lifecycle).toEqual({ ignore_changes: ['version'] });
      expect(cluster).toMatchObject({ auto_upgrade: true, surge_upgrade: true, maintenance_policy: { day: 'sunday', start_time: '04:00' } });
    }
    expect(json).not.toMatch(/\d+\.\d+\.\d+-do\.\d+/);
  });

  it('sets pod and service subnets only when the region does', () => {
    const { parsed } = synth([withRegion(usEast, { podCidr: '172.16.0.0/16', serviceCidr: '172.17.0.0/20' }), singapore]);
    const clusters = Object.values(byType(parsed, 'digitalocean_kubernetes_cluster'));
    const east = clusters.find((c) => c.region === 'nyc1');
    const sgp = clusters.find((c) => c.region === 'sgp1');
    expect(east).toMatchObject({ cluster_subnet: '172.16.0.0/16', service_subnet: '172.17.0.0/20' });
    expect(sgp).not.toHaveProperty('cluster_subnet');
    expect(sgp).not.toHaveProperty('service_subnet');
    const plain = Object.values(byType(synth().parsed, 'digitalocean_kubernetes_cluster'));
    for (const c of plain) {
      expect(c).not.toHaveProperty('cluster_subnet');
      expect(c).not.toHaveProperty('service_subnet');
    }
  });

  it('creates every cluster only after the peerings of its VPC', () => {
    const { parsed } = synth(threeRegions);
    const peerings = byType(parsed, 'digitalocean_vpc_peering');
    const vpcOf = (ref: string) => /^\$\{digitalocean_vpc\.([^.]+)\.id\}$/.exec(ref)![1];
    for (const cluster of Object.values(byType(parsed, 'digitalocean_kubernetes_cluster'))) {
      const vpc = vpcOf(cluster.vpc_uuid);
      const own = Object.entries(peerings).filter(([, p]) => p.vpc_ids.some((id: string) => vpcOf(id) === vpc)).map(([name]) => `digitalocean_vpc_peering.${name}`);
      expect(own).toHaveLength(2);
      expect([...cluster.depends_on].sort()).toEqual(own.sort());
    }
  });

  it('deletes what the clusters created (load balancers, volumes) on destroy', () => {
    for (const cluster of Object.values(byType(synth().parsed, 'digitalocean_kubernetes_cluster'))) {
      expect(cluster.destroy_all_associated_resources).toBe(true);
    }
  });

  it('turns on the autoscaler only when bounds are given', () => {
    const { json } = synth([withRegion(usEast, { nodePool: { minNodes: 1, maxNodes: 4 } })]);
    expect(json).toHaveResourceWithProperties(KubernetesCluster, {
      node_pool: expect.objectContaining({ auto_scale: true, min_nodes: 1, max_nodes: 4 }),
    });
  });

  it('peers two regions with one VPC peering', () => {
    const { parsed } = synth();
    const peerings = Object.values(byType(parsed, 'digitalocean_vpc_peering'));
    expect(peerings).toHaveLength(1);
    expect(peerings[0].name).toBe('videocall-us-east--singapore');
    expect(peerings[0].vpc_ids).toEqual([
      expect.stringMatching(/^\$\{digitalocean_vpc\.us-east_vpc_[0-9A-F]+\.id\}$/),
      expect.stringMatching(/^\$\{digitalocean_vpc\.singapore_vpc_[0-9A-F]+\.id\}$/),
    ]);
  });

  it('peers three regions as a full mesh of three peerings', () => {
    const { json, parsed } = synth(threeRegions);
    expect(Object.keys(byType(parsed, 'digitalocean_vpc_peering'))).toHaveLength(3);
    expect(json).toHaveResourceWithProperties(VpcPeering, { name: 'videocall-singapore--eu-central' });
  });

  it('opens the gateway NodePort only to the other regions\' VPCs', () => {
    const { json, parsed } = synth(threeRegions);
    expect(json).toHaveResourceWithProperties(Firewall, {
      name: 'videocall-us-east-nats-gateway',
      inbound_rule: [{ protocol: 'tcp', port_range: '30722', source_addresses: ['10.110.0.0/16', '10.120.0.0/16'] }],
    });
    expect(json).toHaveResourceWithProperties(Firewall, {
      name: 'videocall-eu-central-nats-gateway',
      inbound_rule: [{ protocol: 'tcp', port_range: '30722', source_addresses: ['10.100.0.0/16', '10.110.0.0/16'] }],
    });
    // the firewall targets the node pool's tag, the same tag resource the pool carries
    for (const fw of Object.values(byType(parsed, 'digitalocean_firewall'))) {
      expect(fw.tags).toEqual([expect.stringMatching(/^\$\{digitalocean_tag\.[^.]+\.name\}$/)]);
    }
  });

  it('has no gateway firewall for a single region (nothing to admit)', () => {
    const { parsed } = synth([usEast]);
    expect(byType(parsed, 'digitalocean_firewall')).toEqual({});
    expect(byType(parsed, 'digitalocean_vpc_peering')).toEqual({});
  });

  it('outputs cluster id, endpoint, VPC id, node IPs and a sensitive kubeconfig under stable names', () => {
    const { parsed } = synth();
    const out = parsed.output;
    for (const name of ['us_east_cluster_id', 'us_east_cluster_endpoint', 'us_east_vpc_id', 'us_east_kubernetes_version', 'us_east_kubeconfig', 'singapore_kubeconfig']) {
      expect(out[name]).toBeDefined();
    }
    expect(out.us_east_kubeconfig.sensitive).toBe(true);
    expect(out.us_east_cluster_id.sensitive).toBeFalsy();
    expect(out[nodeIpsOutputName('us-east')].value).toMatch(/^\$\{\[ for key, val in toset\(data\.digitalocean_droplets\.us-east_nodes_[0-9A-F]+\.droplets\): val\.ipv4_address_private\]\}$/);
  });

  it('keeps state locally by default and in Spaces when asked', () => {
    expect(synth().parsed.terraform.backend).toEqual({ local: { path: 'terraform.videocall-global.tfstate' } });
    const s3 = synth(regions, { spacesBackend: { bucket: 'state', region: 'fra1' } }).parsed.terraform.backend.s3;
    expect(s3).toMatchObject({
      bucket: 'state',
      key: 'videocall-global/terraform.tfstate',
      endpoints: { s3: 'https://fra1.digitaloceanspaces.com' },
      skip_credentials_validation: true,
    });
  });
});
