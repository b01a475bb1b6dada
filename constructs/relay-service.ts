// One region's media relays: the uWebSockets.js WebSocket relay behind the nginx Ingress, the
// videocall WebTransport server behind a UDP LoadBalancer, and the NetworkPolicy that keeps every
// other pod off the NATS client port.
import { k8s } from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import { NATS_CLIENT_URL, RELAY_PORT, k8sNames, natsPorts, podLabels } from '../topology/constants';
import { RegionPlan, Topology, regionPlan } from '../topology/topology';

/** The WebTransport server's ports: QUIC on UDP, its HTTP `/healthz` on TCP. */
export const webtransportPorts = { quic: 443, health: 444 } as const;

/** Where the WebTransport server finds the certificate it serves (a kubernetes.io/tls Secret). */
const WEBTRANSPORT_TLS_DIR = '/etc/webtransport/tls';

/** The only path the Ingress exposes: `/lobby?token=` and `/lobby/{user}/{room}` (PROTOCOL.md). */
export const RELAY_PUBLIC_PATH = '/lobby';

/** The relay drains within 30 s of SIGTERM (clients are told to fail over); a little margin on top. */
const RELAY_TERMINATION_GRACE_SECONDS = 35;

export interface RelayServiceProps {
  /** The whole topology; this construct reads the plan of `region`. */
  readonly topology: Topology;
  /** Name of the region this chart is for. */
  readonly region: string;
  /**
   * CPU and memory of each relay container. Must request CPU: the autoscaler scales on CPU utilization.
   * @default requests 250m CPU / 256Mi, memory limit 512Mi
   */
  readonly relayResources?: k8s.ResourceRequirements;
  /**
   * Average CPU utilization (percent of the request) the autoscaler keeps the relays at.
   * @default 70
   */
  readonly targetCpuUtilization?: number;
  /**
   * WebTransport server pods. The WebTransport options are ignored in a region without `webtransport`.
   * @default 1
   */
  readonly webtransportReplicas?: number;
  /**
   * CPU and memory of each WebTransport container.
   * @default requests 250m CPU / 256Mi, memory limit 1Gi
   */
  readonly webtransportResources?: k8s.ResourceRequirements;
  /**
   * Extra annotations on the WebTransport LoadBalancer Service, e.g. DigitalOcean load balancer settings.
   * @default - none (the DigitalOcean CCM picks the health check port itself)
   */
  readonly webtransportServiceAnnotations?: Readonly<Record<string, string>>;
}

/**
 * Construct IDs (a contract: renaming one replaces the object):
 * `deployment`, `service`, `ingress`, `hpa`, `pdb`, `nats-client-access`, and, when the region has
 * WebTransport, `webtransport-deployment`, `webtransport-service`.
 */
export class RelayService extends Construct {
  readonly plan: RegionPlan;
  readonly deployment: k8s.KubeDeployment;
  readonly service: k8s.KubeService;
  readonly ingress: k8s.KubeIngress;
  readonly autoscaler: k8s.KubeHorizontalPodAutoscalerV2;
  readonly disruptionBudget: k8s.KubePodDisruptionBudget;
  readonly natsClientAccess: k8s.KubeNetworkPolicy;
  /** Present when the region has WebTransport. */
  readonly webtransportDeployment?: k8s.KubeDeployment;
  readonly webtransportService?: k8s.KubeService;

  constructor(scope: Construct, id: string, props: RelayServiceProps) {
    super(scope, id);
    const plan = regionPlan(props.topology, props.region, 'RelayService');
    this.plan = plan;
    const fail = (field: string, value: unknown, message: string): never => {
      throw new Error(`RelayService: region "${plan.name}": ${field} ${message} (got ${JSON.stringify(value)})`);
    };

    if (plan.relay.image === undefined) {
      fail('relay.image', undefined, 'must be named: build and push the relay image, then synth with --relay-image (no public image exists)');
    }
    const targetCpuUtilization = props.targetCpuUtilization ?? 70;
    if (!Number.isInteger(targetCpuUtilization) || targetCpuUtilization < 1 || targetCpuUtilization > 100) {
      fail('targetCpuUtilization', targetCpuUtilization, 'must be an integer percentage from 1 to 100');
    }
    const relayResources = props.relayResources ?? {
      requests: { cpu: k8s.Quantity.fromString('250m'), memory: k8s.Quantity.fromString('256Mi') },
      limits: { memory: k8s.Quantity.fromString('512Mi') },
    };
    if (relayResources.requests?.cpu === undefined) {
      fail('relayResources.requests.cpu', relayResources.requests, 'must be set: the autoscaler measures utilization against it');
    }
    const webtransportReplicas = props.webtransportReplicas ?? 1;
    if (!Number.isInteger(webtransportReplicas) || webtransportReplicas < 1) {
      fail('webtransportReplicas', webtransportReplicas, 'must be an integer ≥ 1');
    }

    const common = { 'app.kubernetes.io/part-of': 'videocall-global', 'videocall.global/region': plan.name };
    const relayLabels = { ...podLabels.relay, ...common };
    const relaySelector = { ...podLabels.relay };
    const http = k8s.IntOrString.fromString('http');

    this.deployment = new k8s.KubeDeployment(this, 'deployment', {
      metadata: { name: k8sNames.relay, labels: relayLabels },
      spec: {
        // No replicas: the HPA owns the count, and a re-apply must not shrink a scaled-out relay.
        selector: { matchLabels: relaySelector },
        // Never below the current capacity while rolling: a replaced relay drops its clients.
        strategy: {
          type: 'RollingUpdate',
          rollingUpdate: { maxUnavailable: k8s.IntOrString.fromNumber(0), maxSurge: k8s.IntOrString.fromNumber(1) },
        },
        template: {
          metadata: { labels: relayLabels },
          spec: {
            nodeSelector: { ...plan.nodeSelector },
            terminationGracePeriodSeconds: RELAY_TERMINATION_GRACE_SECONDS,
            enableServiceLinks: false,
            automountServiceAccountToken: false,
            securityContext: {
              runAsNonRoot: true,
              runAsUser: 10001,
              runAsGroup: 10001,
              seccompProfile: { type: 'RuntimeDefault' },
            },
            topologySpreadConstraints: [spreadAcrossNodes(relaySelector)],
            containers: [
              {
                name: k8sNames.relay,
                image: plan.relay.image!,
                ports: [{ name: 'http', containerPort: RELAY_PORT, protocol: 'TCP' }],
                env: [
                  { name: 'PORT', value: String(RELAY_PORT) },
                  { name: 'NATS_URL', value: NATS_CLIENT_URL },
                  { name: 'REGION', value: plan.name },
                  // Pod names are unique in the region, and the region prefix is in REGION.
                  { name: 'SERVER_ID', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
                  // Optional: without it the relay serves /lobby/{user}/{room} and refuses tokens.
                  { name: 'JWT_SECRET', valueFrom: { secretKeyRef: { name: plan.relay.jwtSecretName, key: 'jwt-secret', optional: true } } },
                ],
                resources: relayResources,
                securityContext: {
                  allowPrivilegeEscalation: false,
                  readOnlyRootFilesystem: true,
                  capabilities: { drop: ['ALL'] },
                },
                startupProbe: { httpGet: { path: '/healthz', port: http }, periodSeconds: 2, timeoutSeconds: 2, failureThreshold: 30 },
                // /readyz fails while NATS is unreachable and while draining, so the Service stops sending new clients.
                readinessProbe: { httpGet: { path: '/readyz', port: http }, periodSeconds: 5, timeoutSeconds: 2, failureThreshold: 2 },
                livenessProbe: { httpGet: { path: '/healthz', port: http }, periodSeconds: 10, timeoutSeconds: 3, failureThreshold: 3 },
              },
            ],
          },
        },
      },
    });

    this.service = new k8s.KubeService(this, 'service', {
      metadata: { name: k8sNames.relay, labels: relayLabels },
      spec: {
        type: 'ClusterIP',
        selector: relaySelector,
        ports: [{ name: 'http', port: 80, targetPort: http, protocol: 'TCP' }],
      },
    });

    const tlsSecretName = `${k8sNames.relay}-tls`;
    this.ingress = new k8s.KubeIngress(this, 'ingress', {
      metadata: {
        name: k8sNames.relay,
        labels: relayLabels,
        annotations: {
          'cert-manager.io/cluster-issuer': plan.relay.clusterIssuer,
          // nginx closes an idle proxied connection after 60 s by default; a quiet call is still a call.
          'nginx.ingress.kubernetes.io/proxy-read-timeout': '3600',
          'nginx.ingress.kubernetes.io/proxy-send-timeout': '3600',
        },
      },
      spec: {
        ingressClassName: 'nginx',
        tls: [{ hosts: [...plan.relay.hosts], secretName: tlsSecretName }],
        // Clients only ever open /lobby…; /metrics and the probes stay inside the cluster.
        rules: plan.relay.hosts.map((host) => ({
          host,
          http: {
            paths: [{ path: RELAY_PUBLIC_PATH, pathType: 'Prefix', backend: { service: { name: k8sNames.relay, port: { name: 'http' } } } }],
          },
        })),
      },
    });

    this.autoscaler = new k8s.KubeHorizontalPodAutoscalerV2(this, 'hpa', {
      metadata: { name: k8sNames.relay, labels: relayLabels },
      spec: {
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: k8sNames.relay },
        minReplicas: plan.relay.minReplicas,
        maxReplicas: plan.relay.maxReplicas,
        metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: targetCpuUtilization } } }],
        // Removing a relay moves all its clients at once: scale down one pod at a time, after a calm spell.
        behavior: {
          scaleDown: { stabilizationWindowSeconds: 300, policies: [{ type: 'Pods', value: 1, periodSeconds: 120 }] },
        },
      },
    });

    // maxUnavailable rather than minAvailable: a one-replica region must still let nodes drain.
    this.disruptionBudget = new k8s.KubePodDisruptionBudget(this, 'pdb', {
      metadata: { name: k8sNames.relay, labels: relayLabels },
      spec: { maxUnavailable: k8s.IntOrString.fromNumber(1), selector: { matchLabels: relaySelector } },
    });

    const wt = plan.webtransport;
    if (wt) {
      const wtLabels = { ...podLabels.webtransport, ...common };
      const wtSelector = { ...podLabels.webtransport };
      const health = k8s.IntOrString.fromString('health');
      this.webtransportDeployment = new k8s.KubeDeployment(this, 'webtransport-deployment', {
        metadata: { name: k8sNames.webtransport, labels: wtLabels },
        spec: {
          replicas: webtransportReplicas,
          selector: { matchLabels: wtSelector },
          strategy: {
            type: 'RollingUpdate',
            rollingUpdate: { maxUnavailable: k8s.IntOrString.fromNumber(0), maxSurge: k8s.IntOrString.fromNumber(1) },
          },
          template: {
            metadata: { labels: wtLabels },
            spec: {
              nodeSelector: { ...plan.nodeSelector },
              enableServiceLinks: false,
              automountServiceAccountToken: false,
              securityContext: { seccompProfile: { type: 'RuntimeDefault' } },
              topologySpreadConstraints: [spreadAcrossNodes(wtSelector)],
              containers: [
                {
                  name: k8sNames.webtransport,
                  image: wt.image,
                  command: ['webtransport_server'],
                  ports: [
                    { name: 'quic', containerPort: webtransportPorts.quic, protocol: 'UDP' },
                    { name: 'health', containerPort: webtransportPorts.health, protocol: 'TCP' },
                  ],
                  env: [
                    { name: 'LISTEN_URL', value: `0.0.0.0:${webtransportPorts.quic}` },
                    { name: 'HEALTH_LISTEN_URL', value: `0.0.0.0:${webtransportPorts.health}` },
                    { name: 'CERT_PATH', value: `${WEBTRANSPORT_TLS_DIR}/tls.crt` },
                    { name: 'KEY_PATH', value: `${WEBTRANSPORT_TLS_DIR}/tls.key` },
                    { name: 'NATS_URL', value: NATS_CLIENT_URL },
                  ],
                  volumeMounts: [
                    { name: 'tls', mountPath: WEBTRANSPORT_TLS_DIR, readOnly: true },
                    { name: 'tmp', mountPath: '/tmp' },
                  ],
                  resources: props.webtransportResources ?? {
                    requests: { cpu: k8s.Quantity.fromString('250m'), memory: k8s.Quantity.fromString('256Mi') },
                    limits: { memory: k8s.Quantity.fromString('1Gi') },
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

      this.webtransportService = new k8s.KubeService(this, 'webtransport-service', {
        metadata: {
          name: k8sNames.webtransport,
          labels: wtLabels,
          ...(props.webtransportServiceAnnotations ? { annotations: { ...props.webtransportServiceAnnotations } } : {}),
        },
        spec: {
          type: 'LoadBalancer',
          // Local: no second hop through another node, and the server sees the client's address (QUIC validates paths).
          externalTrafficPolicy: 'Local',
          selector: wtSelector,
          ports: [
            { name: 'quic', port: webtransportPorts.quic, targetPort: k8s.IntOrString.fromString('quic'), protocol: 'UDP' },
            { name: 'health', port: webtransportPorts.health, targetPort: health, protocol: 'TCP' },
          ],
        },
      });
    }

    // Selecting the NATS pods makes every port not listed here unreachable, so the policy must also
    // reopen routes (cluster port, NATS pods only), gateways (remote regions arrive through the
    // NodePort, so their source is not a pod) and monitoring (kubelet probes, Prometheus).
    // Anything else that speaks to NATS in-cluster (nats-box, exporters) needs its own rule.
    // A rule without `from` admits any source.
    this.natsClientAccess = new k8s.KubeNetworkPolicy(this, 'nats-client-access', {
      metadata: { name: 'nats-client-access', labels: { ...common } },
      spec: {
        podSelector: { matchLabels: { ...podLabels.nats } },
        policyTypes: ['Ingress'],
        ingress: [
          {
            from: [
              { podSelector: { matchLabels: { ...podLabels.relay } } },
              ...(wt ? [{ podSelector: { matchLabels: { ...podLabels.webtransport } } }] : []),
            ],
            ports: [tcp(natsPorts.client)],
          },
          { from: [{ podSelector: { matchLabels: { ...podLabels.nats } } }], ports: [tcp(natsPorts.cluster)] },
          { ports: [tcp(natsPorts.gateway)] },
          { ports: [tcp(natsPorts.monitor)] },
        ],
      },
    });
  }
}

function tcp(port: number): k8s.NetworkPolicyPort {
  return { protocol: 'TCP', port: k8s.IntOrString.fromNumber(port) };
}

function spreadAcrossNodes(matchLabels: Record<string, string>): k8s.TopologySpreadConstraint {
  return {
    maxSkew: 1,
    topologyKey: 'kubernetes.io/hostname',
    // Soft: a one-node region must still schedule every replica.
    whenUnsatisfiable: 'ScheduleAnyway',
    labelSelector: { matchLabels },
  };
}
