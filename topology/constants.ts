// Ports, names and limits of a region's NATS cluster and relay, stated once.
// The synthesized manifests, the NATS config, the firewall and the tests all read them from here.
import { SESSION_ID_STAMP_BYTES } from '../protocol/limits';
import { MAX_FRAME_BYTES } from '../protocol/packets';

export const natsPorts = {
  client: 4222,
  cluster: 6222,
  gateway: 7222,
  monitor: 8222,
} as const;

/** Every node of a region exposes its NATS gateway on this NodePort; peers dial `<node private IP>:30722`. */
export const DEFAULT_GATEWAY_NODE_PORT = 30722;

/** The Kubernetes NodePort range; a gateway NodePort outside it is refused by the API server. */
export const NODE_PORT_RANGE = { min: 30000, max: 32767 } as const;

// The relay (whose image holds only relay/ and protocol/) needs the stamp size too: it lives there.
export { SESSION_ID_STAMP_BYTES };
export const NATS_MAX_PAYLOAD = MAX_FRAME_BYTES + SESSION_ID_STAMP_BYTES;

/**
 * JetStream's `max_file_store` is this fraction of the volume: the filesystem, JetStream's own
 * index and snapshot files and a stream being compacted need room beyond the stored messages.
 */
export const JETSTREAM_VOLUME_HEADROOM = 0.2;

/** Names of what every region's cluster runs; one cluster per region, so they repeat across regions. */
export const k8sNames = {
  namespace: 'videocall',
  nats: 'nats',
  natsHeadless: 'nats-headless',
  natsGateway: 'nats-gateway',
  relay: 'relay',
  webtransport: 'webtransport',
} as const;

/** Environment variable naming the relay image when neither the region nor `--relay-image` does. */
export const RELAY_IMAGE_ENV = 'VIDEOCALL_RELAY_IMAGE';
/** NATS server image, as the NATS Helm chart pins it. */
export const DEFAULT_NATS_IMAGE = 'nats:2.10.29-alpine';

/** The relay's container port: its own default, so image and manifests agree. */
export { DEFAULT_PORT as RELAY_PORT } from '../relay/config';

/** DigitalOcean regions that run DOKS, as accepted by the API (`doctl kubernetes options regions`). */
export const DIGITALOCEAN_REGIONS = [
  'nyc1', 'nyc3', 'sfo2', 'sfo3', 'ams3', 'sgp1', 'lon1', 'fra1', 'tor1', 'blr1', 'syd1', 'atl1',
] as const;

/**
 * Datacenters without cross-datacenter VPC peering: DigitalOcean's VPC limits page
 * (docs.digitalocean.com/products/networking/vpc/details/limits/) lists BLR1 as the datacenter where
 * VPC peering across datacenters is unavailable. A region here can only be a topology of its own.
 */
export const NO_CROSS_DATACENTER_PEERING: readonly string[] = ['blr1'];

/** Pod labels that selectors (Services, PDBs, NetworkPolicies) match on. */
export const podLabels = {
  nats: { 'app.kubernetes.io/name': 'nats', 'app.kubernetes.io/component': 'nats' },
  relay: { 'app.kubernetes.io/name': 'relay', 'app.kubernetes.io/component': 'websocket' },
  webtransport: { 'app.kubernetes.io/name': 'relay', 'app.kubernetes.io/component': 'webtransport' },
} as const;

/** Where a region's relays reach its NATS cluster: the client Service in the same namespace. */
export const NATS_CLIENT_URL = `nats://${k8sNames.nats}.${k8sNames.namespace}.svc:${natsPorts.client}`;

/** Requests and limits of one container, as Kubernetes quantities. */
export interface ContainerResources {
  readonly cpuRequest: string;
  readonly memoryRequest: string;
  readonly memoryLimit: string;
}

/** Each NATS server (the NATS Helm chart sets none; these hold a small JetStream deployment). */
export const NATS_RESOURCES: ContainerResources = { cpuRequest: '250m', memoryRequest: '512Mi', memoryLimit: '1Gi' };

/** Each WebTransport server pod. */
export const WEBTRANSPORT_RESOURCES: ContainerResources = { cpuRequest: '250m', memoryRequest: '256Mi', memoryLimit: '1Gi' };
