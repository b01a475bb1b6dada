// What an operator writes for a region: regions/*.ts in TypeScript, or a YAML/JSON topology file
// with the same fields. Everything optional here has a default that a normal deployment wants.

export interface NodePoolSpec {
  /** Droplet size slug. @default 's-2vcpu-4gb' */
  readonly size?: string;
  /** Nodes when autoscaling is off, starting nodes when on. @default 1 */
  readonly count?: number;
  /** With maxNodes, turns on the DOKS autoscaler. @default - no autoscaling */
  readonly minNodes?: number;
  /** @default - no autoscaling */
  readonly maxNodes?: number;
}

export interface NatsSpec {
  /** NATS servers (StatefulSet replicas) in this region. */
  readonly replicas: number;
  /** JetStream file storage per server, a Kubernetes quantity (`5Gi`); sizes the PVC and `max_file_store`. */
  readonly jetstreamStorage: string;
  /**
   * `<node private IP>:<NodePort>` of this region's nodes, dialled by the other regions' gateways.
   * List several: any node serves a NodePort, so one dead node is not a single point of failure.
   * `--tf-outputs` replaces them with the node IPs the Terraform stack reports.
   */
  readonly gatewayEndpoints: readonly string[];
  /** @default 30722 */
  readonly gatewayNodePort?: number;
  /** @default 'nats:2.10.29-alpine' */
  readonly image?: string;
  /** @default 'do-block-storage' */
  readonly storageClassName?: string;
  /** Secret holding `user` and `password` for client connections. @default - no client auth */
  readonly clientAuthSecret?: string;
  /** kubernetes.io/tls Secret (with ca.crt) for gateway TLS; all regions or none. @default - plain gateways */
  readonly gatewayTlsSecret?: string;
}

export interface RelaySpec {
  /** Public host names of this region's WebSocket relay (Ingress hosts, TLS via cert-manager). */
  readonly hosts: readonly string[];
  /** @default 2 */
  readonly minReplicas?: number;
  /** @default 10 */
  readonly maxReplicas?: number;
  /** @default DEFAULT_RELAY_IMAGE */
  readonly image?: string;
  /** Secret with key `jwt-secret` for `/lobby?token=`. @default 'relay-jwt' */
  readonly jwtSecretName?: string;
  /** cert-manager ClusterIssuer for the Ingress certificate. @default 'letsencrypt' */
  readonly clusterIssuer?: string;
}

export interface WebTransportSpec {
  /** Public host name of the WebTransport server (UDP 443 on a LoadBalancer). */
  readonly host: string;
  /** @default DEFAULT_WEBTRANSPORT_IMAGE */
  readonly image?: string;
  /** kubernetes.io/tls Secret with the certificate it serves. @default 'webtransport-tls' */
  readonly tlsSecretName?: string;
}

export interface RegionSpec {
  /** Region name: NATS cluster and gateway name, server-name prefix, resource-name prefix. A DNS label. */
  readonly name: string;
  /** DigitalOcean region slug (`nyc1`). */
  readonly slug: string;
  /** The region's VPC range; pairwise disjoint across regions so they can be peered. */
  readonly vpcCidr: string;
  /** DOKS version slug. @default DEFAULT_KUBERNETES_VERSION */
  readonly kubernetesVersion?: string;
  /** @default one s-2vcpu-4gb node */
  readonly nodePool?: NodePoolSpec;
  /** @default '10.244.0.0/16' (DOKS default) */
  readonly podCidr?: string;
  /** @default '10.245.0.0/16' (DOKS default) */
  readonly serviceCidr?: string;
  readonly nats: NatsSpec;
  readonly relay: RelaySpec;
  /** @default - no WebTransport server in this region */
  readonly webtransport?: WebTransportSpec;
}

export const DEFAULT_KUBERNETES_VERSION = '1.33.1-do.0';
