// One region's WebTransport server: videocall-rs's `webtransport_server` behind a UDP
// LoadBalancer, its certificate from cert-manager and its DNS name from external-dns, as the
// relay's Ingress gets both.
import { ApiObject } from 'cdk8s';
import { k8s } from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import { NATS_CLIENT_URL, WEBTRANSPORT_RESOURCES, k8sNames, podLabels } from '../topology/constants';
import { RegionPlan } from '../topology/topology';

/** The WebTransport server's ports: QUIC on UDP, its HTTP `/healthz` on TCP. */
export const webtransportPorts = { quic: 443, health: 444 } as const;

/** Where the WebTransport server finds the certificate it serves (the cert-manager Secret). */
const WEBTRANSPORT_TLS_DIR = '/etc/webtransport/tls';

/** external-dns creates the record a LoadBalancer Service names here (an Ingress needs none: its hosts). */
export const EXTERNAL_DNS_HOSTNAME_ANNOTATION = 'external-dns.alpha.kubernetes.io/hostname';

export interface WebTransportServiceProps {
  /** The region's plan; it must have `webtransport`. */
  readonly plan: RegionPlan;
  /**
   * Extra annotations on the LoadBalancer Service, e.g. DigitalOcean load balancer settings.
   * @default - only the external-dns host name (the DigitalOcean CCM picks the health check itself)
   */
  readonly serviceAnnotations?: Readonly<Record<string, string>>;
}

/** Construct IDs (a contract: renaming one replaces the object): `deployment`, `service`, `certificate`. */
export class WebTransportService extends Construct {
  readonly deployment: k8s.KubeDeployment;
  readonly service: k8s.KubeService;
  readonly certificate: ApiObject;

  constructor(scope: Construct, id: string, props: WebTransportServiceProps) {
    super(scope, id);
    const { plan } = props;
    const wt = plan.webtransport;
    if (!wt) throw new Error(`WebTransportService: region "${plan.name}": webtransport is not set in the region (got undefined)`);

    const labels = { ...podLabels.webtransport, 'app.kubernetes.io/part-of': 'videocall-global', 'videocall.global/region': plan.name };
    const selector = { ...podLabels.webtransport };
    const health = k8s.IntOrString.fromString('health');
    const podName: k8s.EnvVarSource = { fieldRef: { fieldPath: 'metadata.name' } };

    // cert-manager keeps the Secret the pods mount current; the ClusterIssuer is the relay's.
    this.certificate = new ApiObject(this, 'certificate', {
      apiVersion: 'cert-manager.io/v1',
      kind: 'Certificate',
      metadata: { name: k8sNames.webtransport, labels },
      spec: {
        secretName: wt.tlsSecretName,
        dnsNames: [wt.host],
        issuerRef: { kind: 'ClusterIssuer', name: wt.clusterIssuer },
      },
    });

    this.deployment = new k8s.KubeDeployment(this, 'deployment', {
      metadata: { name: k8sNames.webtransport, labels },
      spec: {
        replicas: wt.replicas,
        selector: { matchLabels: selector },
        strategy: {
          type: 'RollingUpdate',
          rollingUpdate: { maxUnavailable: k8s.IntOrString.fromNumber(0), maxSurge: k8s.IntOrString.fromNumber(1) },
        },
        template: {
          metadata: { labels },
          spec: {
            nodeSelector: { ...plan.nodeSelector },
            enableServiceLinks: false,
            automountServiceAccountToken: false,
            securityContext: { seccompProfile: { type: 'RuntimeDefault' } },
            topologySpreadConstraints: [
              { maxSkew: 1, topologyKey: 'kubernetes.io/hostname', whenUnsatisfiable: 'ScheduleAnyway', labelSelector: { matchLabels: selector } },
            ],
            containers: [
              {
                name: k8sNames.webtransport,
                image: wt.image,
                command: ['webtransport_server'],
                ports: [
                  { name: 'quic', containerPort: webtransportPorts.quic, protocol: 'UDP' },
                  { name: 'health', containerPort: webtransportPorts.health, protocol: 'TCP' },
                ],
                // What videocall-rs's server reads (actix-api/src/bin/webtransport_server.rs,
                // src/webtransport/mod.rs, src/server_diagnostics.rs; as its helm values set them).
                env: [
                  { name: 'LISTEN_URL', value: `0.0.0.0:${webtransportPorts.quic}` },
                  { name: 'HEALTH_LISTEN_URL', value: `0.0.0.0:${webtransportPorts.health}` },
                  { name: 'CERT_PATH', value: `${WEBTRANSPORT_TLS_DIR}/tls.crt` },
                  { name: 'KEY_PATH', value: `${WEBTRANSPORT_TLS_DIR}/tls.key` },
                  { name: 'NATS_URL', value: NATS_CLIENT_URL },
                  { name: 'REGION', value: plan.name },
                  { name: 'HOSTNAME', valueFrom: podName },
                  { name: 'SERVER_ID', valueFrom: podName },
                  { name: 'SERVICE_TYPE', value: 'webtransport' },
                  // The relay's Secret: one token signs a client in on either transport. Without it
                  // the server refuses `?token=` (upstream: "JWT_SECRET not set").
                  { name: 'JWT_SECRET', valueFrom: { secretKeyRef: { name: wt.jwtSecretName, key: 'jwt-secret', optional: true } } },
                ],
                volumeMounts: [
                  { name: 'tls', mountPath: WEBTRANSPORT_TLS_DIR, readOnly: true },
                  { name: 'tmp', mountPath: '/tmp' },
                ],
                resources: {
                  requests: {
                    cpu: k8s.Quantity.fromString(WEBTRANSPORT_RESOURCES.cpuRequest),
                    memory: k8s.Quantity.fromString(WEBTRANSPORT_RESOURCES.memoryRequest),
                  },
                  limits: { memory: k8s.Quantity.fromString(WEBTRANSPORT_RESOURCES.memoryLimit) },
                },
                // The upstream image runs as root to bind 443; keep only that capability.
                securityContext: {
                  allowPrivilegeEscalation: false,
                  readOnlyRootFilesystem: true,
                  capabilities: { drop: ['ALL'], add: ['NET_BIND_SERVICE'] },
                },
                // The health listener and the QUIC listener live in one process: UDP has no portable probe.
                startupProbe: { httpGet: { path: '/healthz', port: health }, periodSeconds: 2, timeoutSeconds: 2, failureThreshold: 30 },
                readinessProbe: { httpGet: { path: '/healthz', port: health }, periodSeconds: 5, timeoutSeconds: 2, failureThreshold: 2 },
                livenessProbe: { httpGet: { path: '/healthz', port: health }, periodSeconds: 10, timeoutSeconds: 3, failureThreshold: 3 },
              },
            ],
            volumes: [
              { name: 'tls', secret: { secretName: wt.tlsSecretName } },
              { name: 'tmp', emptyDir: {} },
            ],
          },
        },
      },
    });

    this.service = new k8s.KubeService(this, 'service', {
      metadata: {
        name: k8sNames.webtransport,
        labels,
        annotations: { [EXTERNAL_DNS_HOSTNAME_ANNOTATION]: wt.host, ...props.serviceAnnotations },
      },
      spec: {
        type: 'LoadBalancer',
        // Local: no second hop through another node, and the server sees the client's address (QUIC validates paths).
        externalTrafficPolicy: 'Local',
        selector,
        ports: [
          { name: 'quic', port: webtransportPorts.quic, targetPort: k8s.IntOrString.fromString('quic'), protocol: 'UDP' },
          { name: 'health', port: webtransportPorts.health, targetPort: health, protocol: 'TCP' },
        ],
      },
    });
  }
}
