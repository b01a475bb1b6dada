// One region's WebSocket relay (uWebSockets.js) behind the nginx Ingress, with its autoscaler.
// Sized by topology/relay-sizing.ts; the WebTransport server and the NATS NetworkPolicy have
// constructs of their own.
import { k8s } from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import { NATS_CLIENT_URL, RELAY_PORT, k8sNames, podLabels } from '../topology/constants';
import { RELAY_SIZING } from '../topology/relay-sizing';
import { RegionPlan } from '../topology/topology';

/** The only path the Ingress exposes: `/lobby?token=` and `/lobby/{user}/{room}` (PROTOCOL.md). */
export const RELAY_PUBLIC_PATH = '/lobby';

/** The relay drains within 30 s of SIGTERM (clients are told to fail over); a little margin on top. */
const RELAY_TERMINATION_GRACE_SECONDS = 35;

export interface RelayServiceProps {
  /** The region's plan: hosts, replica bounds, image, JWT Secret, lobby rule. */
  readonly plan: RegionPlan;
}

/**
 * Construct IDs (a contract: renaming one replaces the object):
 * `deployment`, `service`, `ingress`, `hpa`, `pdb`.
 */
export class RelayService extends Construct {
  readonly plan: RegionPlan;
  readonly deployment: k8s.KubeDeployment;
  readonly service: k8s.KubeService;
  readonly ingress: k8s.KubeIngress;
  readonly autoscaler: k8s.KubeHorizontalPodAutoscalerV2;
  readonly disruptionBudget: k8s.KubePodDisruptionBudget;

  constructor(scope: Construct, id: string, props: RelayServiceProps) {
    super(scope, id);
    const { plan } = props;
    this.plan = plan;
    if (plan.relay.image === undefined) {
      throw new Error(
        `RelayService: region "${plan.name}": relay.image must be named: build and push the relay image, then synth with --relay-image (no public image exists) (got undefined)`,
      );
    }
    const relayResources: k8s.ResourceRequirements = {
      requests: { cpu: k8s.Quantity.fromString(RELAY_SIZING.cpuRequest), memory: k8s.Quantity.fromString(RELAY_SIZING.memoryRequest) },
      limits: { memory: k8s.Quantity.fromString(RELAY_SIZING.memoryLimit) },
    };

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
                  // Unset, the relay serves the unauthenticated path lobby only while no JWT secret is
                  // set; the region can keep it open beside tokens, never by default.
                  ...(plan.relay.allowPathLobby ? [{ name: 'ALLOW_PATH_LOBBY', value: 'true' }] : []),
                  // The relay's total buffering budget derives from its memory limit: one fact.
                  { name: 'MEMORY_LIMIT_BYTES', valueFrom: { resourceFieldRef: { containerName: k8sNames.relay, resource: 'limits.memory' } } },
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
        metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: RELAY_SIZING.targetCpuUtilizationPercent } } }],
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

  }
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
