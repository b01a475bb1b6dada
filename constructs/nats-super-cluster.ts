// One region's member of the NATS super-cluster: the equivalent of the official NATS Helm chart
// (StatefulSet with JetStream, routes through a headless Service) plus a gateway NodePort that the
// other regions dial over VPC peering.
import { createHash } from 'node:crypto';
import { k8s } from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import { NATS_RESOURCES, k8sNames, natsPorts, podLabels } from '../topology/constants';
import { GatewayPlan, RegionPlan } from '../topology/topology';
import { natsConfig, natsEnv, natsPaths, renderNatsConf } from './nats-config';

/**
 * What all three probes ask. nats-server's /healthz checks, in order: ready for connections,
 * JetStream enabled, then a JetStream meta leader and its assets; `js-enabled-only=true` stops
 * after "JetStream enabled" (server/monitor.go, healthz(): "Only check if JS is enabled, skip meta
 * and asset check", in v2.9.10 and v2.10.29 alike; `js-server-only` still requires the meta leader).
 * The NATS Helm chart uses it for liveness; we use it for startup and readiness too.
 */
export const NATS_HEALTHZ_PATH = '/healthz?js-enabled-only=true';

/** Service annotation that keeps DigitalOcean's cloud-controller-manager out of a NodePort's firewall rules. */
export const DO_FIREWALL_MANAGED_ANNOTATION = 'kubernetes.digitalocean.com/firewall-managed';

export interface NatsSuperClusterProps {
  /** This region's plan (replicas, storage, NodePort, Secrets). */
  readonly plan: RegionPlan;
  /** The super-cluster's gateway list (`Topology.gateways`): every region, this one included. */
  readonly gateways: readonly GatewayPlan[];
}

/** Pods that may read the NATS monitor port besides the kubelet (a Prometheus exporter): opt in with this label. */
export const NATS_MONITOR_ACCESS_LABEL = { 'videocall.global/nats-monitor': 'true' } as const;

/**
 * Construct IDs (a contract: renaming one replaces the object): config, statefulset, headless,
 * client, gateway, pdb, network-policy.
 */
export class NatsSuperCluster extends Construct {
  /** The rendered nats.conf this region's servers run. */
  readonly configText: string;
  readonly plan: RegionPlan;

  constructor(scope: Construct, id: string, props: NatsSuperClusterProps) {
    super(scope, id);
    const { plan } = props;
    this.plan = plan;
    this.configText = renderNatsConf(natsConfig(plan, props.gateways));
    const labels = { ...podLabels.nats, 'app.kubernetes.io/part-of': 'videocall-global', 'videocall.global/region': plan.name };
    const selector = { ...podLabels.nats };

    const configMap = new k8s.KubeConfigMap(this, 'config', {
      metadata: { name: `${k8sNames.nats}-config`, labels },
      data: { [natsPaths.configFile]: this.configText },
    });

    const ports = [
      { name: 'nats', containerPort: natsPorts.client },
      { name: 'cluster', containerPort: natsPorts.cluster },
      { name: 'gateway', containerPort: natsPorts.gateway },
      { name: 'monitor', containerPort: natsPorts.monitor },
    ];
    const healthz: k8s.HttpGetAction = { path: NATS_HEALTHZ_PATH, port: k8s.IntOrString.fromString('monitor') };

    // Kubernetes expands $(VAR) only from variables declared earlier in the list: order matters.
    const env: k8s.EnvVar[] = [
      { name: natsEnv.podName, valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      { name: natsEnv.hostIp, valueFrom: { fieldRef: { fieldPath: 'status.hostIP' } } },
      { name: natsEnv.serverName, value: `${plan.nats.serverNamePrefix}$(${natsEnv.podName})` },
      { name: natsEnv.gatewayAdvertise, value: `$(${natsEnv.hostIp}):${plan.nats.gatewayNodePort}` },
      { name: natsEnv.gatewayUser, valueFrom: { secretKeyRef: { name: plan.nats.gatewayAuthSecret, key: 'user' } } },
      { name: natsEnv.gatewayPassword, valueFrom: { secretKeyRef: { name: plan.nats.gatewayAuthSecret, key: 'password' } } },
      ...(plan.nats.clientAuthSecret
        ? [
            { name: natsEnv.user, valueFrom: { secretKeyRef: { name: plan.nats.clientAuthSecret, key: 'user' } } },
            { name: natsEnv.password, valueFrom: { secretKeyRef: { name: plan.nats.clientAuthSecret, key: 'password' } } },
          ]
        : []),
    ];

    const volumeMounts: k8s.VolumeMount[] = [
      { name: 'config', mountPath: natsPaths.configDir },
      { name: 'pid', mountPath: natsPaths.pidDir },
      { name: 'jetstream', mountPath: natsPaths.jetstreamDir },
      ...(plan.nats.gatewayTlsSecret ? [{ name: 'gateway-tls', mountPath: natsPaths.gatewayTlsDir, readOnly: true }] : []),
    ];
    const volumes: k8s.Volume[] = [
      { name: 'config', configMap: { name: configMap.name } },
      { name: 'pid', emptyDir: {} },
      ...(plan.nats.gatewayTlsSecret ? [{ name: 'gateway-tls', secret: { secretName: plan.nats.gatewayTlsSecret } }] : []),
    ];

    new k8s.KubeStatefulSet(this, 'statefulset', {
      metadata: { name: k8sNames.nats, labels },
      spec: {
        serviceName: k8sNames.natsHeadless,
        replicas: plan.nats.replicas,
        podManagementPolicy: 'Parallel',
        selector: { matchLabels: selector },
        template: {
          metadata: {
            labels,
            // Gateway lists cannot be hot-reloaded: a changed config must roll the pods.
            annotations: { 'checksum/config': createHash('sha256').update(this.configText).digest('hex') },
          },
          spec: {
            nodeSelector: { ...plan.nodeSelector },
            terminationGracePeriodSeconds: 60,
            enableServiceLinks: false,
            securityContext: {
              runAsNonRoot: true,
              runAsUser: 1000,
              runAsGroup: 1000,
              fsGroup: 1000,
              seccompProfile: { type: 'RuntimeDefault' },
            },
            topologySpreadConstraints: [
              {
                maxSkew: 1,
                topologyKey: 'kubernetes.io/hostname',
                whenUnsatisfiable: 'ScheduleAnyway',
                labelSelector: { matchLabels: selector },
              },
            ],
            containers: [
              {
                name: 'nats',
                image: plan.nats.image,
                args: ['--config', `${natsPaths.configDir}/${natsPaths.configFile}`],
                ports,
                env,
                volumeMounts,
                // The capacity check counts the same numbers (topology/constants.ts).
                resources: {
                  requests: { cpu: k8s.Quantity.fromString(NATS_RESOURCES.cpuRequest), memory: k8s.Quantity.fromString(NATS_RESOURCES.memoryRequest) },
                  limits: { memory: k8s.Quantity.fromString(NATS_RESOURCES.memoryLimit) },
                },
                securityContext: {
                  allowPrivilegeEscalation: false,
                  readOnlyRootFilesystem: true,
                  capabilities: { drop: ['ALL'] },
                },
                // Every probe skips the meta-leader check (NATS_HEALTHZ_PATH): Ready must never wait
                // for a JetStream quorum that can only form through this region's own gateway.
                startupProbe: { httpGet: healthz, initialDelaySeconds: 5, periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 90 },
                readinessProbe: { httpGet: healthz, periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 3 },
                livenessProbe: { httpGet: healthz, periodSeconds: 30, timeoutSeconds: 5, failureThreshold: 3 },
                // Lame-duck mode moves clients to the other servers before this one stops.
                lifecycle: { preStop: { exec: { command: ['nats-server', `-sl=ldm=${natsPaths.pidFile}`] } } },
              },
            ],
            volumes,
          },
        },
        volumeClaimTemplates: [
          {
            metadata: { name: 'jetstream' },
            spec: {
              accessModes: ['ReadWriteOnce'],
              storageClassName: plan.nats.storageClassName,
              resources: { requests: { storage: k8s.Quantity.fromString(plan.nats.jetstreamStorage) } },
            },
          },
        ],
      },
    });

    new k8s.KubeService(this, 'headless', {
      metadata: { name: k8sNames.natsHeadless, labels },
      spec: {
        clusterIp: 'None',
        // Routes must resolve peers before they are ready, or a fresh cluster never forms.
        publishNotReadyAddresses: true,
        selector,
        ports: ports.map((p) => ({ name: p.name, port: p.containerPort, targetPort: k8s.IntOrString.fromString(p.name) })),
      },
    });

    new k8s.KubeService(this, 'client', {
      metadata: { name: k8sNames.nats, labels },
      spec: {
        selector,
        ports: [{ name: 'nats', port: natsPorts.client, targetPort: k8s.IntOrString.fromString('nats') }],
      },
    });

    new k8s.KubeService(this, 'gateway', {
      metadata: {
        name: k8sNames.natsGateway,
        labels,
        // DigitalOcean's cloud-controller-manager opens every NodePort to 0.0.0.0/0 and ::/0 in the
        // cluster's worker firewall unless the Service opts out with this annotation
        // (digitalocean-cloud-controller-manager do/firewall_controller.go, isManaged(); README
        // "firewall-managed"). Our Terraform firewall, open to the peered VPCs only, is then the
        // only rule for the gateway NodePort.
        annotations: { [DO_FIREWALL_MANAGED_ANNOTATION]: 'false' },
      },
      spec: {
        type: 'NodePort',
        // A region whose servers are all starting can only learn its JetStream meta leader through
        // this gateway: it must forward to pods that are not Ready yet, or the region never starts.
        publishNotReadyAddresses: true,
        selector,
        ports: [
          {
            name: 'gateway',
            port: natsPorts.gateway,
            targetPort: k8s.IntOrString.fromString('gateway'),
            nodePort: plan.nats.gatewayNodePort,
          },
        ],
      },
    });

    new k8s.KubePodDisruptionBudget(this, 'pdb', {
      metadata: { name: k8sNames.nats, labels },
      spec: { maxUnavailable: k8s.IntOrString.fromNumber(1), selector: { matchLabels: selector } },
    });

    // Selecting the NATS pods makes every port not listed here unreachable from other pods.
    // Clients: the relays and the WebTransport server. Routes: NATS pods only. Gateways: remote
    // regions arrive through the NodePort, so their source is no pod (our DigitalOcean firewall and
    // gateway authorization guard it). Monitor: NATS pods and opted-in monitoring pods; the
    // kubelet's probes come from the node, which NetworkPolicy always admits ("traffic to and from
    // the node where a Pod is running is always allowed", kubernetes.io Network Policies).
    // A rule without `from` admits any source.
    const pods = (matchLabels: Record<string, string>): k8s.NetworkPolicyPeer => ({ podSelector: { matchLabels } });
    new k8s.KubeNetworkPolicy(this, 'network-policy', {
      metadata: { name: k8sNames.nats, labels },
      spec: {
        podSelector: { matchLabels: selector },
        policyTypes: ['Ingress'],
        ingress: [
          {
            from: [pods({ ...podLabels.relay }), ...(plan.webtransport ? [pods({ ...podLabels.webtransport })] : [])],
            ports: [tcp(natsPorts.client)],
          },
          { from: [pods(selector)], ports: [tcp(natsPorts.cluster)] },
          { ports: [tcp(natsPorts.gateway)] },
          { from: [pods(selector), pods({ ...NATS_MONITOR_ACCESS_LABEL })], ports: [tcp(natsPorts.monitor)] },
        ],
      },
    });
  }
}


function tcp(port: number): k8s.NetworkPolicyPort {
  return { protocol: 'TCP', port: k8s.IntOrString.fromNumber(port) };
}
