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

/** DOKS defaults when a region does not set its own pod and service ranges. */
export const DEFAULT_POD_CIDR = '10.244.0.0/16';
export const DEFAULT_SERVICE_CIDR = '10.245.0.0/16';

/** Names of what every region's cluster runs; one cluster per region, so they repeat across regions. */
export const k8sNames = {
  namespace: 'videocall',
  nats: 'nats',
  natsHeadless: 'nats-headless',
  natsGateway: 'nats-gateway',
  relay: 'relay',
  webtransport: 'webtransport',
} as const;

/** The relay image built by this repository's Dockerfile. */
export const DEFAULT_RELAY_IMAGE = 'ghcr.io/videocall-global/relay:0.1.0';
/** The existing videocall media server image, which runs the WebTransport server. */
export const DEFAULT_WEBTRANSPORT_IMAGE = 'securityunion/videocall-media-server:latest';

/** The relay's container port: its own default, so image and manifests agree. */
export { DEFAULT_PORT as RELAY_PORT } from '../relay/config';

/** DigitalOcean regions that run DOKS, as accepted by the API (`doctl kubernetes options regions`). */
export const DIGITALOCEAN_REGIONS = [
  'nyc1', 'nyc3', 'sfo2', 'sfo3', 'ams3', 'sgp1', 'lon1', 'fra1', 'tor1', 'blr1', 'syd1', 'atl1',
] as const;

/** Pod labels that selectors (Services, PDBs, NetworkPolicies) match on. */
export const podLabels = {
  nats: { 'app.kubernetes.io/name': 'nats', 'app.kubernetes.io/component': 'nats' },
  relay: { 'app.kubernetes.io/name': 'relay', 'app.kubernetes.io/component': 'websocket' },
  webtransport: { 'app.kubernetes.io/name': 'relay', 'app.kubernetes.io/component': 'webtransport' },
} as const;

/** Where a region's relays reach its NATS cluster: the client Service in the same namespace. */
export const NATS_CLIENT_URL = `nats://${k8sNames.nats}.${k8sNames.namespace}.svc:${natsPorts.client}`;
