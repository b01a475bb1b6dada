// RelayService: the synthesized objects of one region, field by field.
import { Chart, Testing } from 'cdk8s';
import { RELAY_PUBLIC_PATH, RelayService } from '../../constructs/relay-service';
import { regions } from '../../regions';
import { NATS_CLIENT_URL, RELAY_PORT, k8sNames, natsPorts, podLabels } from '../../topology/constants';
import { RELAY_SIZING } from '../../topology/relay-sizing';
import { Topology, buildTopology, regionPlan } from '../../topology/topology';
import { singapore, usEast, withRegion, testTopology, TEST_RELAY_IMAGE, Manifest, one, matches, container } from './fixtures';

function synth(topology: Topology, region: string): { manifests: Manifest[]; relay: RelayService } {
  const chart = new Chart(Testing.app(), 'relay', { namespace: k8sNames.namespace });
  const relay = new RelayService(chart, 'relay', { plan: regionPlan(topology, region, 'test') });
  return { manifests: Testing.synth(chart) as Manifest[], relay };
}

const topology = testTopology(regions);
const { manifests, relay } = synth(topology, usEast.name);
const plan = topology.regions.find((r) => r.name === usEast.name)!;

describe('relay Deployment', () => {
  const deployment = one(manifests, 'Deployment', k8sNames.relay);
  const pod = deployment.spec.template;
  const c = container(deployment);

  test('runs the plan: image, node selector, pod labels the selector matches; the HPA owns the replica count', () => {
    expect(deployment.spec.replicas).toBeUndefined();
    expect(c.image).toBe(TEST_RELAY_IMAGE);
    expect(pod.spec.nodeSelector).toEqual(plan.nodeSelector);
    expect(deployment.spec.selector.matchLabels).toEqual(podLabels.relay);
    expect(matches(podLabels.relay, pod.metadata.labels)).toBe(true);
    expect(pod.metadata.labels['videocall.global/region']).toBe(usEast.name);
    expect(c.ports).toEqual([{ name: 'http', containerPort: RELAY_PORT, protocol: 'TCP' }]);
  });

  test('environment: PORT, NATS_URL, REGION, SERVER_ID from the pod name, optional JWT_SECRET, MEMORY_LIMIT_BYTES from the limit', () => {
    expect(c.env).toEqual([
      { name: 'PORT', value: String(RELAY_PORT) },
      { name: 'NATS_URL', value: NATS_CLIENT_URL },
      { name: 'REGION', value: 'us-east' },
      { name: 'SERVER_ID', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      { name: 'JWT_SECRET', valueFrom: { secretKeyRef: { name: 'relay-jwt', key: 'jwt-secret', optional: true } } },
      // The container's memory limit is the one fact the relay's buffering budget derives from.
      { name: 'MEMORY_LIMIT_BYTES', valueFrom: { resourceFieldRef: { containerName: 'relay', resource: 'limits.memory' } } },
    ]);
    expect(NATS_CLIENT_URL).toBe(`nats://${k8sNames.nats}.${k8sNames.namespace}.svc:${natsPorts.client}`);
  });

  test('probes: startup and liveness on /healthz, readiness on /readyz, all on the http port', () => {
    expect(c.startupProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
    expect(c.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
    expect(c.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http' });
    expect(c.startupProbe.failureThreshold * c.startupProbe.periodSeconds).toBeGreaterThanOrEqual(30);
  });

  test('non-root, read-only, no capabilities, RuntimeDefault seccomp', () => {
    expect(pod.spec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 10001, seccompProfile: { type: 'RuntimeDefault' } });
    expect(c.securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
  });

  test('drains on shutdown, rolls without losing capacity, spreads over nodes', () => {
    // The relay drains for up to 30 s after SIGTERM; the kubelet must not kill it first.
    expect(pod.spec.terminationGracePeriodSeconds).toBeGreaterThan(30);
    expect(deployment.spec.strategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } });
    expect(pod.spec.topologySpreadConstraints).toEqual([
      { maxSkew: 1, topologyKey: 'kubernetes.io/hostname', whenUnsatisfiable: 'ScheduleAnyway', labelSelector: { matchLabels: podLabels.relay } },
    ]);
  });

  test('sized from topology/relay-sizing.ts: CPU request (the autoscaler measures against it), memory request and limit', () => {
    expect(c.resources).toEqual({
      requests: { cpu: RELAY_SIZING.cpuRequest, memory: RELAY_SIZING.memoryRequest },
      limits: { memory: RELAY_SIZING.memoryLimit },
    });
    // The values themselves derive from the measured capacity (tests/bench/relay-sizing.test.ts).
    expect(RELAY_SIZING.cpuRequest).toBe('1000m');
  });

  test('leaves ALLOW_PATH_LOBBY unset by default (with a JWT secret the relay then closes /lobby/{user}/{room}); sets it only when the region allows it', () => {
    expect(c.env.find((e: { name: string }) => e.name === 'ALLOW_PATH_LOBBY')).toBeUndefined();
    const open = testTopology([withRegion(usEast, { relay: { allowPathLobby: true } })]);
    const env = container(one(synth(open, usEast.name).manifests, 'Deployment', k8sNames.relay)).env;
    expect(env.find((e: { name: string }) => e.name === 'ALLOW_PATH_LOBBY')).toEqual({ name: 'ALLOW_PATH_LOBBY', value: 'true' });
    const closed = testTopology([withRegion(usEast, { relay: { allowPathLobby: false } })]);
    const envClosed = container(one(synth(closed, usEast.name).manifests, 'Deployment', k8sNames.relay)).env;
    expect(envClosed.find((e: { name: string }) => e.name === 'ALLOW_PATH_LOBBY')).toBeUndefined();
  });
});

describe('relay Service, Ingress, HPA, PDB', () => {
  test('Service: ClusterIP port 80 to the http container port of relay pods only', () => {
    const svc = one(manifests, 'Service', k8sNames.relay);
    expect(svc.spec.type).toBe('ClusterIP');
    expect(svc.spec.ports).toEqual([{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' }]);
    expect(svc.spec.selector).toEqual(podLabels.relay);
    // WebTransport pods share app.kubernetes.io/name: the relay Service must not pick them up.
    expect(matches(svc.spec.selector, podLabels.webtransport)).toBe(false);
  });

  test('Ingress: nginx, cert-manager issuer, WebSocket timeouts, one /lobby rule per host, TLS for every host', () => {
    const custom = testTopology([
      withRegion(usEast, { relay: { hosts: ['a.relay.example.org', 'b.relay.example.org'], clusterIssuer: 'letsencrypt-staging' } }),
      singapore,
    ]);
    const ingress = one(synth(custom, usEast.name).manifests, 'Ingress', k8sNames.relay);
    expect(ingress.spec.ingressClassName).toBe('nginx');
    expect(ingress.metadata.annotations).toEqual({
      'cert-manager.io/cluster-issuer': 'letsencrypt-staging',
      'nginx.ingress.kubernetes.io/proxy-read-timeout': '3600',
      'nginx.ingress.kubernetes.io/proxy-send-timeout': '3600',
    });
    const backend = { service: { name: k8sNames.relay, port: { name: 'http' } } };
    expect(ingress.spec.rules).toEqual(
      ['a.relay.example.org', 'b.relay.example.org'].map((host) => ({ host, http: { paths: [{ path: '/lobby', pathType: 'Prefix', backend }] } })),
    );
    // Prefix matching is per path element: /lobby and /lobby/alice/room pass, /metrics and /healthz do not.
    expect(RELAY_PUBLIC_PATH).toBe('/lobby');
    expect(ingress.spec.tls).toEqual([{ hosts: ['a.relay.example.org', 'b.relay.example.org'], secretName: 'relay-tls' }]);
  });

  test('Ingress of the built-in region uses its host and the default issuer', () => {
    const ingress = one(manifests, 'Ingress', k8sNames.relay);
    expect(ingress.spec.rules.map((r: { host: string }) => r.host)).toEqual(['us-east.relay.videocall.example']);
    expect(ingress.metadata.annotations!['cert-manager.io/cluster-issuer']).toBe('letsencrypt');
  });

  test('HPA: scales the relay Deployment between the plan bounds on CPU utilization', () => {
    const hpa = one(manifests, 'HorizontalPodAutoscaler', k8sNames.relay);
    expect(hpa.apiVersion).toBe('autoscaling/v2');
    expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: k8sNames.relay });
    expect([hpa.spec.minReplicas, hpa.spec.maxReplicas]).toEqual([2, 10]);
    expect(hpa.spec.metrics).toEqual([{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } }]);
    expect(hpa.spec.behavior.scaleDown.policies).toEqual([{ type: 'Pods', value: 1, periodSeconds: 120 }]);
  });

  test('HPA and Deployment follow a region that sets its own bounds and JWT Secret', () => {
    const custom = testTopology([withRegion(usEast, { relay: { minReplicas: 3, maxReplicas: 7, jwtSecretName: 'lobby-jwt' } })]);
    const m = synth(custom, usEast.name).manifests;
    const hpa = one(m, 'HorizontalPodAutoscaler', k8sNames.relay);
    expect([hpa.spec.minReplicas, hpa.spec.maxReplicas]).toEqual([3, 7]);
    expect(hpa.spec.metrics[0].resource.target.averageUtilization).toBe(RELAY_SIZING.targetCpuUtilizationPercent);
    const deployment = one(m, 'Deployment', k8sNames.relay);
    const jwt = container(deployment).env.find((e: { name: string }) => e.name === 'JWT_SECRET');
    expect(jwt.valueFrom.secretKeyRef.name).toBe('lobby-jwt');
  });

  test('PDB: at most one relay pod disrupted at a time', () => {
    const pdb = one(manifests, 'PodDisruptionBudget', k8sNames.relay);
    expect(pdb.spec).toEqual({ maxUnavailable: 1, selector: { matchLabels: podLabels.relay } });
  });
});

describe('contract and errors', () => {
  test('construct IDs are stable', () => {
    expect(relay.node.children.map((c) => c.node.id)).toEqual([
      'deployment', 'service', 'ingress', 'hpa', 'pdb',
    ]);
  });

  test('every object lands in the chart namespace and carries the region label', () => {
    for (const m of manifests) {
      expect(m.metadata.namespace).toBe(k8sNames.namespace);
      expect(m.metadata.labels?.['videocall.global/region']).toBe('us-east');
    }
  });

  test('each region gets its own REGION and node selector', () => {
    const sg = one(synth(topology, singapore.name).manifests, 'Deployment', k8sNames.relay);
    expect(container(sg).env.find((e: { name: string }) => e.name === 'REGION').value).toBe('singapore');
    expect(sg.spec.template.spec.nodeSelector).toEqual({ 'topology.kubernetes.io/region': 'sgp1' });
  });

  test('no relay image named: refused, since no public image exists to default to', () => {
    expect(() => synth(buildTopology(regions), 'us-east')).toThrow(
      'RelayService: region "us-east": relay.image must be named: build and push the relay image, then synth with --relay-image (no public image exists) (got undefined)',
    );
  });

  test('synthesis is deterministic', () => {
    expect(synth(topology, usEast.name).manifests).toEqual(manifests);
  });
});
