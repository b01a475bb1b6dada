// One region's DigitalOcean infrastructure: VPC, a DOKS cluster inside it, a firewall that opens
// the NATS gateway NodePort to the other regions only, and the outputs operators and
// `npm run synth -- --tf-outputs` need.
import { Firewall } from '@cdktf/provider-digitalocean/lib/firewall';
import { KubernetesCluster } from '@cdktf/provider-digitalocean/lib/kubernetes-cluster';
import { Tag } from '@cdktf/provider-digitalocean/lib/tag';
import { Vpc } from '@cdktf/provider-digitalocean/lib/vpc';
import { DataDigitaloceanDroplets } from '@cdktf/provider-digitalocean/lib/data-digitalocean-droplets';
import { DataDigitaloceanKubernetesVersions } from '@cdktf/provider-digitalocean/lib/data-digitalocean-kubernetes-versions';
import { ITerraformDependable, TerraformIterator, TerraformOutput, dependable } from 'cdktf';
import { Construct } from 'constructs';
import { nodeIpsOutputName } from '../topology/file';
import { RegionPlan } from '../topology/topology';

export interface RegionProps {
  readonly plan: RegionPlan;
  /** Tags on every taggable resource of the region. @default ['videocall-global'] */
  readonly tags?: readonly string[];
  /** Keep the cluster highly available (paid control plane). @default false */
  readonly highAvailability?: boolean;
}

/**
 * Construct IDs (a contract: renaming one destroys and recreates the resource): vpc, node-tag,
 * kubernetes-versions, cluster, gateway-firewall (only when there are other regions), nodes, and
 * outputs cluster_id, cluster_endpoint, vpc_id, kubernetes_version, node_private_ips, kubeconfig.
 */
export class Region extends Construct {
  readonly vpc: Vpc;
  readonly cluster: KubernetesCluster;
  readonly plan: RegionPlan;

  constructor(scope: Construct, id: string, props: RegionProps) {
    super(scope, id);
    const { plan } = props;
    this.plan = plan;
    const tags = [...(props.tags ?? ['videocall-global']), `region-${plan.name}`];
    const prefix = `videocall-${plan.name}`;

    this.vpc = new Vpc(this, 'vpc', {
      name: `${prefix}-vpc`,
      region: plan.slug,
      ipRange: plan.vpcCidr,
      description: `videocall-global ${plan.name}`,
    });

    // The firewall finds the nodes by this tag; a tag resource keeps the two bound by reference.
    const nodeTag = new Tag(this, 'node-tag', { name: `${prefix}-nodes` });

    // DigitalOcean creates clusters only on current patch releases, so the version comes from the
    // API at plan time: the newest patch of the region's minor version (provider docs,
    // data-sources/kubernetes_versions "Pin a Kubernetes cluster to a specific minor version").
    const versions = new DataDigitaloceanKubernetesVersions(this, 'kubernetes-versions', {
      versionPrefix: plan.kubernetesVersionPrefix,
    });

    const autoScale = plan.nodePool.autoScale;
    this.cluster = new KubernetesCluster(this, 'cluster', {
      name: `${prefix}-k8s`,
      region: plan.slug,
      version: versions.latestVersion,
      // DigitalOcean applies patch releases in the maintenance window. The provider replaces a
      // cluster whose configured version is lower than its actual one (terraform-provider-digitalocean
      // digitalocean/kubernetes/resource_kubernetes_cluster.go, CustomizeDiff ForceNewIfChange("version")),
      // so once created the version is DigitalOcean's to move, never Terraform's.
      autoUpgrade: true,
      surgeUpgrade: true,
      maintenancePolicy: { day: 'sunday', startTime: '04:00' },
      lifecycle: { ignoreChanges: ['version'] },
      vpcUuid: this.vpc.id,
      // Custom ranges make a VPC-native cluster: only when the operator asked for them.
      ...(plan.podCidr !== undefined ? { clusterSubnet: plan.podCidr } : {}),
      ...(plan.serviceCidr !== undefined ? { serviceSubnet: plan.serviceCidr } : {}),
      ha: props.highAvailability ?? false,
      // `cdktf destroy` also deletes the load balancers, volumes and volume snapshots the cluster
      // created through Kubernetes (the WebTransport LoadBalancer, ingress-nginx's, the JetStream
      // volumes): the provider then deletes through DigitalOcean's
      // DELETE /v2/kubernetes/clusters/{id}/destroy_with_associated_resources/dangerous.
      destroyAllAssociatedResources: true,
      tags,
      nodePool: {
        name: `${prefix}-pool`,
        size: plan.nodePool.size,
        nodeCount: plan.nodePool.count,
        ...(autoScale ? { autoScale: true, minNodes: autoScale.minNodes, maxNodes: autoScale.maxNodes } : {}),
        tags: [nodeTag.name],
        labels: { 'videocall.global/region': plan.name },
      },
    });

    if (plan.peerVpcCidrs.length > 0) {
      new Firewall(this, 'gateway-firewall', {
        name: `${prefix}-nats-gateway`,
        tags: [nodeTag.name],
        inboundRule: [
          {
            protocol: 'tcp',
            portRange: String(plan.nats.gatewayNodePort),
            // Only the peered regions' VPCs may dial this region's NATS gateways.
            sourceAddresses: [...plan.peerVpcCidrs],
          },
        ],
      });
    }

    const nodes = new DataDigitaloceanDroplets(this, 'nodes', {
      filter: [{ key: 'tags', values: [nodeTag.name] }],
      sort: [{ key: 'name', direction: 'asc' }],
      dependsOn: [this.cluster],
    });

    const output = (outputId: string, value: unknown, description: string, sensitive = false) => {
      const o = new TerraformOutput(this, outputId, { value, description, sensitive });
      // Stable names in `cdktf output --outputs-file`, whatever the construct path.
      o.overrideLogicalId(`${plan.name.replace(/-/g, '_')}_${outputId}`);
      return o;
    };
    output('cluster_id', this.cluster.id, `DOKS cluster id of ${plan.name}`);
    output('cluster_endpoint', this.cluster.endpoint, `Kubernetes API endpoint of ${plan.name}`);
    output('vpc_id', this.vpc.id, `VPC id of ${plan.name}`);
    output('kubernetes_version', versions.latestVersion, `DOKS version ${plan.name}'s cluster was created on`);
    const ips = new TerraformOutput(this, 'node_private_ips', {
      value: TerraformIterator.fromList(nodes.droplets).forExpressionForList('val.ipv4_address_private'),
      description: `Private IPs of ${plan.name}'s nodes: its NATS gateway endpoints (feed to --tf-outputs)`,
    });
    ips.overrideLogicalId(nodeIpsOutputName(plan.name));
    output('kubeconfig', this.cluster.kubeConfig.get(0).rawConfig, `kubeconfig of ${plan.name}`, true);
  }

  /**
   * Creates the cluster only after `resources` (the VPC peerings of this region's VPC):
   * DigitalOcean adds peering routes only to droplets created after the peering exists
   * (docs.digitalocean.com/products/networking/vpc/how-to/update-peering-routes/).
   */
  createClusterAfter(resources: readonly ITerraformDependable[]): void {
    for (const r of resources) this.cluster.dependsOn = [...(this.cluster.dependsOn ?? []), dependable(r)];
  }
}
