// What an operator writes for a region: regions/*.ts in TypeScript, or a YAML/JSON topology file
// with the same fields. Everything optional here has a default that a normal deployment wants;
// resolve() (topology/resolve.ts) applies every default, once.

export interface NodePoolSpec {
  /** Droplet size slug; one whose allocatable resources topology/capacity.ts knows. @default 's-4vcpu-8gb' */
  readonly size?: string;
  /** Nodes when autoscaling is off, starting nodes when on. @default minNodes */
  readonly count?: number;
  /** With maxNodes, turns on the DOKS autoscaler. @default 2 (autoscaling 2–4) unless count is set */
  readonly minNodes?: number;
  /** @default 4 unless count is set */
  readonly maxNodes?: number;
}

export interface NatsSpec {
  /** NATS servers (StatefulSet replicas) in this region. */
  readonly replicas: number;
  /**
   * JetStream volume per server, a Kubernetes quantity (`5Gi`): the PVC size. `max_file_store` is
   * set below it (topology/constants.ts JETSTREAM_VOLUME_HEADROOM) so the filesystem never fills.
   */
  readonly jetstreamStorage: string;
  /**
   * `<node private IP>:<NodePort>` of this region's nodes, dialled by the other regions' gateways.
   * List several: any node serves a NodePort, so one dead node is not a single point of failure.
   * `--tf-outputs` replaces them with the node IPs the Terraform stack reports.
   */
  readonly gatewayEndpoints: readonly string[];
  /** @default 30722 */
  readonly gatewayNodePort?: number;
  /** @default DEFAULT_NATS_IMAGE */
  readonly image?: string;
  /** @default 'do-block-storage' */
  readonly storageClassName?: string;
  /** Secret holding `user` and `password` for client connections. @default - no client auth */
  readonly clientAuthSecret?: string;
  /**
   * Secret holding `user` and `password` that every gateway presents and requires. The same
   * credentials must be in this Secret in every region. @default 'nats-gateway-auth'
   */
  readonly gatewayAuthSecret?: string;
  /** kubernetes.io/tls Secret (with ca.crt) for gateway TLS; all regions or none. @default - plain gateways */
  readonly gatewayTlsSecret?: string;
}

export interface RelaySpec {
  /** Public host names of this region's WebSocket relay (Ingress hosts, TLS via cert-manager). */
  readonly hosts: readonly string[];
  /** @default 2 */
  readonly minReplicas?: number;
  /** @default 10 (or minReplicas when larger) */
  readonly maxReplicas?: number;
  /**
   * The relay image this repository's Dockerfile builds, as you pushed it. No default: nobody
   * publishes one for you. @default - `npm run synth -- --relay-image IMAGE` (or VIDEOCALL_RELAY_IMAGE)
   */
  readonly image?: string;
  /** Secret with key `jwt-secret` for `/lobby?token=`. @default 'relay-jwt' */
  readonly jwtSecretName?: string;
  /**
   * Serve the unauthenticated `/lobby/{user}/{room}` even when a JWT secret is configured.
   * @default false (the relay then serves it only while no JWT secret is set)
   */
  readonly allowPathLobby?: boolean;
  /** cert-manager ClusterIssuer for the Ingress certificate. @default 'letsencrypt' */
  readonly clusterIssuer?: string;
}

export interface WebTransportSpec {
  /** Public host name of the WebTransport server (UDP 443 on a LoadBalancer). */
  readonly host: string;
  /** @default DEFAULT_WEBTRANSPORT_IMAGE (a pinned release tag) */
  readonly image?: string;
  /** @default 1 */
  readonly replicas?: number;
  /** cert-manager ClusterIssuer for its certificate. @default the relay's clusterIssuer */
  readonly clusterIssuer?: string;
}

export interface RegionSpec {
  /** Region name: NATS cluster and gateway name, server-name prefix, resource-name prefix. A DNS label. */
  readonly name: string;
  /** DigitalOcean region slug (`nyc1`). */
  readonly slug: string;
  /** The region's VPC range; pairwise disjoint across regions so they can be peered. */
  readonly vpcCidr: string;
  /**
   * DOKS version prefix (`1.33.`): the cluster is created on the newest patch DigitalOcean offers
   * for it, and DigitalOcean's automatic patch upgrades are left alone. @default DEFAULT_KUBERNETES_VERSION_PREFIX
   */
  readonly kubernetesVersion?: string;
  /** @default s-4vcpu-8gb nodes, autoscaled from 2 to 4 */
  readonly nodePool?: NodePoolSpec;
  /**
   * Pod range. Setting it (or serviceCidr) makes a VPC-native cluster, whose ranges must not overlap
   * any other VPC-native cluster or VPC in the account. @default - DigitalOcean chooses
   */
  readonly podCidr?: string;
  /** Service range; see podCidr. @default - DigitalOcean chooses */
  readonly serviceCidr?: string;
  readonly nats: NatsSpec;
  readonly relay: RelaySpec;
  /** @default - no WebTransport server in this region */
  readonly webtransport?: WebTransportSpec;
}

/** DOKS minor version new clusters are created on (newest patch of it). */
export const DEFAULT_KUBERNETES_VERSION_PREFIX = '1.33.';
