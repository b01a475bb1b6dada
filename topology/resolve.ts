// Every default of a RegionSpec, applied once. Validation and derivation read only what this
// returns. Pure; tolerates malformed input (validation reports it), never throws.
import { DEFAULT_GATEWAY_NODE_PORT, DEFAULT_NATS_IMAGE } from './constants';
import { DEFAULT_KUBERNETES_VERSION_PREFIX, RegionSpec } from './spec';

/**
 * The WebTransport server: videocall-rs's media server image, pinned. Upstream's
 * .github/workflows/upload-api-docker-hub.yaml pushes `<branch>-<sha8>` and `latest` on every main
 * commit touching the server; this is the tag of main 2ce33a5e (2026-07-20), the newest such commit.
 */
export const DEFAULT_WEBTRANSPORT_IMAGE = 'securityunion/videocall-media-server:main-2ce33a5e';
export const DEFAULT_NODE_SIZE = 's-4vcpu-8gb';
/** A pool that holds the defaults with the relays at their HPA maximum (topology/capacity.ts). */
export const DEFAULT_NODE_POOL_AUTOSCALE = { minNodes: 2, maxNodes: 4 } as const;

export interface ResolveOptions {
  /** The relay image for every region that does not name its own (`--relay-image`). */
  readonly relayImage?: string;
}

export interface ResolvedRegion {
  readonly name: string;
  readonly slug: string;
  readonly vpcCidr: string;
  readonly kubernetesVersionPrefix: string;
  /** Only when the operator set them: otherwise DigitalOcean chooses. */
  readonly podCidr?: string;
  readonly serviceCidr?: string;
  readonly nodePool: {
    readonly size: string;
    /** Nodes at creation (minNodes when autoscaling). */
    readonly count: number;
    readonly autoScale?: { readonly minNodes: number; readonly maxNodes: number };
  };
  readonly nats: {
    readonly replicas: number;
    readonly jetstreamStorage: string;
    readonly gatewayEndpoints: readonly string[];
    readonly gatewayNodePort: number;
    readonly image: string;
    readonly storageClassName: string;
    readonly clientAuthSecret?: string;
    readonly gatewayAuthSecret: string;
    readonly gatewayTlsSecret?: string;
  };
  readonly relay: {
    readonly hosts: readonly string[];
    readonly minReplicas: number;
    readonly maxReplicas: number;
    /** Undefined when nobody named it: manifests cannot be written then. */
    readonly image?: string;
    readonly jwtSecretName: string;
    readonly allowPathLobby: boolean;
    readonly clusterIssuer: string;
  };
  readonly webtransport?: {
    readonly host: string;
    readonly image: string;
    readonly replicas: number;
    /** The relay's JWT Secret: one token signs clients in on either transport. */
    readonly jwtSecretName: string;
    readonly clusterIssuer: string;
    /** Where cert-manager writes the certificate. */
    readonly tlsSecretName: string;
  };
}

export function resolveRegion(spec: RegionSpec, options: ResolveOptions = {}): ResolvedRegion {
  const pool = spec.nodePool ?? {};
  const nats = spec.nats ?? ({} as Partial<RegionSpec['nats']>);
  const relay = spec.relay ?? ({} as Partial<RegionSpec['relay']>);
  const minReplicas = relay.minReplicas ?? 2;
  const clusterIssuer = relay.clusterIssuer ?? 'letsencrypt';
  const jwtSecretName = relay.jwtSecretName ?? 'relay-jwt';
  // Kept when either bound is set, so validation can name a half-set pair.
  const autoScale =
    pool.minNodes !== undefined || pool.maxNodes !== undefined
      ? { minNodes: pool.minNodes as number, maxNodes: pool.maxNodes as number }
      : pool.count === undefined
        ? DEFAULT_NODE_POOL_AUTOSCALE
        : undefined;
  const image = relay.image ?? options.relayImage;
  return {
    name: spec.name,
    slug: spec.slug,
    vpcCidr: spec.vpcCidr,
    kubernetesVersionPrefix: spec.kubernetesVersion ?? DEFAULT_KUBERNETES_VERSION_PREFIX,
    ...(spec.podCidr !== undefined ? { podCidr: spec.podCidr } : {}),
    ...(spec.serviceCidr !== undefined ? { serviceCidr: spec.serviceCidr } : {}),
    nodePool: {
      size: pool.size ?? DEFAULT_NODE_SIZE,
      count: pool.count ?? autoScale?.minNodes ?? 1,
      ...(autoScale ? { autoScale } : {}),
    },
    nats: {
      replicas: nats.replicas as number,
      jetstreamStorage: nats.jetstreamStorage as string,
      gatewayEndpoints: Array.isArray(nats.gatewayEndpoints) ? [...nats.gatewayEndpoints] : (nats.gatewayEndpoints as never),
      gatewayNodePort: nats.gatewayNodePort ?? DEFAULT_GATEWAY_NODE_PORT,
      image: nats.image ?? DEFAULT_NATS_IMAGE,
      storageClassName: nats.storageClassName ?? 'do-block-storage',
      ...(nats.clientAuthSecret !== undefined ? { clientAuthSecret: nats.clientAuthSecret } : {}),
      gatewayAuthSecret: nats.gatewayAuthSecret ?? 'nats-gateway-auth',
      ...(nats.gatewayTlsSecret !== undefined ? { gatewayTlsSecret: nats.gatewayTlsSecret } : {}),
    },
    relay: {
      hosts: Array.isArray(relay.hosts) ? [...relay.hosts] : (relay.hosts as never),
      minReplicas,
      maxReplicas: relay.maxReplicas ?? Math.max(10, minReplicas),
      ...(image !== undefined ? { image } : {}),
      jwtSecretName,
      allowPathLobby: relay.allowPathLobby ?? false,
      clusterIssuer,
    },
    ...(spec.webtransport
      ? {
          webtransport: {
            host: spec.webtransport.host,
            image: spec.webtransport.image ?? DEFAULT_WEBTRANSPORT_IMAGE,
            replicas: spec.webtransport.replicas ?? 1,
            jwtSecretName,
            clusterIssuer: spec.webtransport.clusterIssuer ?? clusterIssuer,
            tlsSecretName: 'webtransport-tls',
          },
        }
      : {}),
  };
}

/** resolve(spec) for every region. */
export function resolve(specs: readonly RegionSpec[], options: ResolveOptions = {}): ResolvedRegion[] {
  return specs.map((s) => resolveRegion(s, options));
}
