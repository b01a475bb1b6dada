// RelayService: the synthesized objects of one region, field by field.
import { Chart, Testing } from 'cdk8s';
import { RELAY_PUBLIC_PATH, RelayService, RelayServiceProps, webtransportPorts } from '../../constructs/relay-service';
import { regions } from '../../regions';
import { NATS_CLIENT_URL, RELAY_PORT, k8sNames, natsPorts, podLabels } from '../../topology/constants';
import { Topology, buildTopology } from '../../topology/topology';
import { frankfurt, singapore, usEast, withRegion, testTopology, TEST_RELAY_IMAGE } from './fixtures';

type Manifest = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> }; spec: any };
type Labels = Readonly<Record<string, string>>;

function synth(topology: Topology, region: string, extra: Partial<RelayServiceProps> = {}): { manifests: Manifest[]; relay: RelayService } {
  const chart = new Chart(Testing.app(), 'relay', { namespace: k8sNames.namespace });
  const relay = new RelayService(chart, 'relay', { topology, region, ...extra });
  return { manifests: Testing.synth(chart) as Manifest[], relay };
}

function one(manifests: Manifest[], kind: string, name: string): Manifest {
  const found = manifests.filter((m) => m.kind === kind && m.metadata.name === name);
  if (found.length !== 1) throw new Error(`expected one ${kind}/${name}, found ${found.length} among ${manifests.map((m) => `${m.kind}/${m.metadata.name}`).join(', ')}`);
  return found[0];
}

const matches = (selector: Labels, labels: Labels) => Object.entries(selector).every(([k, v]) => labels[k] === v);
const container = (d: Manifest) => d.spec.template.spec.containers[0];

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

  test('environment in order: PORT, NATS_URL, REGION, SERVER_ID from the pod name, optional JWT_SECRET', () => {
    expect(c.env).toEqual([
      { name: 'PORT', value: String(RELAY_PORT) },
      { name: 'NATS_URL', value: NATS_CLIENT_URL },
      { name: 'REGION', value: 'us-east' },
      { name: 'SERVER_ID', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      { name: 'JWT_SECRET', valueFrom: { secretKeyRef: { name: 'relay-jwt', key: 'jwt-secret', optional: true } } },
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

  test('requests CPU (the autoscaler measures against it) and limits memory', () => {
    expect(c.resources.requests.cpu).toBe('250m');
    expect(c.resources.limits.memory).toBe('512Mi');
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
    const m = synth(custom, usEast.name, { targetCpuUtilization: 55 }).manifests;
    const hpa = one(m, 'HorizontalPodAutoscaler', k8sNames.relay);
    expect([hpa.spec.minReplicas, hpa.spec.maxReplicas]).toEqual([3, 7]);
    expect(hpa.spec.metrics[0].resource.target.averageUtilization).toBe(55);
    const deployment = one(m, 'Deployment', k8sNames.relay);
    const jwt = container(deployment).env.find((e: { name: string }) => e.name === 'JWT_SECRET');
    expect(jwt.valueFrom.secretKeyRef.name).toBe('lobby-jwt');
  });

  test('PDB: at most one relay pod disrupted at a time', () => {
    const pdb = one(manifests, 'PodDisruptionBudget', k8sNames.relay);
    expect(pdb.spec).toEqual({ maxUnavailable: 1, selector: { matchLabels: podLabels.relay } });
  });
});

describe('WebTransport server', () => {
  const custom = testTopology([
    withRegion(usEast, { webtransport: { host: 'wt.example.org', image: 'example/media-server:1.2.3' } }),
  ]);
  const m = synth(custom, usEast.name).manifests;
  const deployment = one(m, 'Deployment', k8sNames.webtransport);
  const c = container(deployment);

  test('runs webtransport_server from the configured image with listen, health, certificate and NATS settings', () => {
    expect(c.image).toBe('example/media-server:1.2.3');
    expect(c.command).toEqual(['webtransport_server']);
    expect(c.env).toEqual([
      { name: 'LISTEN_URL', value: '0.0.0.0:443' },
      { name: 'HEALTH_LISTEN_URL', value: '0.0.0.0:444' },
      { name: 'CERT_PATH', value: '/etc/webtransport/tls/tls.crt' },
      { name: 'KEY_PATH', value: '/etc/webtransport/tls/tls.key' },
      { name: 'NATS_URL', value: NATS_CLIENT_URL },
    ]);
  });

  test('CERT_PATH and KEY_PATH lie in a read-only mount of the TLS Secret', () => {
    const mount = c.volumeMounts.find((v: { mountPath: string }) => v.mountPath === '/etc/webtransport/tls');
    expect(mount.readOnly).toBe(true);
    const volume = deployment.spec.template.spec.volumes.find((v: { name: string }) => v.name === mount.name);
    expect(volume.secret).toEqual({ secretName: 'webtransport-tls' });
  });

  test('the built-in region uses the videocall media server image and the default TLS Secret', () => {
    const d = one(manifests, 'Deployment', k8sNames.webtransport);
    expect(container(d).image).toBe('securityunion/videocall-media-server:main-2ce33a5e');
    expect(d.spec.template.spec.volumes).toContainEqual({ name: 'tls', secret: { secretName: 'webtransport-tls' } });
  });

  test('ports UDP 443 and TCP 444, probes on the health port, pods labelled and pinned to the region', () => {
    expect(c.ports).toEqual([
      { name: 'quic', containerPort: 443, protocol: 'UDP' },
      { name: 'health', containerPort: 444, protocol: 'TCP' },
    ]);
    for (const probe of [c.startupProbe, c.readinessProbe, c.livenessProbe]) {
      expect(probe.httpGet).toEqual({ path: '/healthz', port: 'health' });
    }
    expect(deployment.spec.selector.matchLabels).toEqual(podLabels.webtransport);
    expect(matches(podLabels.webtransport, deployment.spec.template.metadata.labels)).toBe(true);
    expect(deployment.spec.template.spec.nodeSelector).toEqual(plan.nodeSelector);
    expect(c.securityContext.capabilities).toEqual({ drop: ['ALL'], add: ['NET_BIND_SERVICE'] });
  });

  test('LoadBalancer Service: UDP 443 and TCP 444, externalTrafficPolicy Local, WebTransport pods only', () => {
    const svc = one(m, 'Service', k8sNames.webtransport);
    expect(svc.spec.type).toBe('LoadBalancer');
    expect(svc.spec.externalTrafficPolicy).toBe('Local');
    expect(svc.spec.ports).toEqual([
      { name: 'quic', port: webtransportPorts.quic, targetPort: 'quic', protocol: 'UDP' },
      { name: 'health', port: webtransportPorts.health, targetPort: 'health', protocol: 'TCP' },
    ]);
    expect(svc.spec.selector).toEqual(podLabels.webtransport);
    expect(matches(svc.spec.selector, podLabels.relay)).toBe(false);
    expect(svc.metadata.annotations).toBeUndefined();
  });

  test('replicas and LoadBalancer annotations are configurable', () => {
    const annotations = { 'service.beta.kubernetes.io/do-loadbalancer-name': 'us-east-webtransport' };
    const out = synth(custom, usEast.name, { webtransportReplicas: 3, webtransportServiceAnnotations: annotations }).manifests;
    expect(one(out, 'Deployment', k8sNames.webtransport).spec.replicas).toBe(3);
    expect(one(out, 'Service', k8sNames.webtransport).metadata.annotations).toEqual(annotations);
  });

  test('a region without webtransport gets no WebTransport objects', () => {
    const t = testTopology([usEast, frankfurt]);
    expect(frankfurt.webtransport).toBeUndefined();
    const out = synth(t, frankfurt.name);
    const names = out.manifests.map((x) => `${x.kind}/${x.metadata.name}`);
    expect(names.filter((n) => n.endsWith(`/${k8sNames.webtransport}`))).toEqual([]);
    expect(out.relay.webtransportDeployment).toBeUndefined();
    const policy = one(out.manifests, 'NetworkPolicy', 'nats-client-access');
    expect(JSON.stringify(policy.spec)).not.toContain('webtransport');
    // The relay itself is still there.
    expect(names).toEqual(expect.arrayContaining([`Deployment/${k8sNames.relay}`, `Ingress/${k8sNames.relay}`]));
  });
});

describe('NetworkPolicy nats-client-access', () => {
  const policy = one(manifests, 'NetworkPolicy', 'nats-client-access');
  type Rule = { from?: Array<{ podSelector?: { matchLabels: Labels } }>; ports: Array<{ protocol: string; port: number }> };

  /** What Kubernetes does with this policy: may a source (pod labels, or null for outside the cluster) reach `port`? */
  function admits(source: Labels | null, port: number): boolean {
    return (policy.spec.ingress as Rule[]).some(
      (rule) =>
        rule.ports.some((p) => p.protocol === 'TCP' && p.port === port) &&
        (rule.from === undefined || rule.from.some((peer) => source !== null && peer.podSelector !== undefined && matches(peer.podSelector.matchLabels, source))),
    );
  }

  const relayPod = { ...podLabels.relay, 'videocall.global/region': 'us-east' };
  const webtransportPod = { ...podLabels.webtransport };
  const natsPod = { ...podLabels.nats, 'app.kubernetes.io/part-of': 'videocall-global' };
  const otherPod = { 'app.kubernetes.io/name': 'something-else' };

  test('selects the NATS pods and governs ingress only', () => {
    expect(policy.spec.podSelector).toEqual({ matchLabels: podLabels.nats });
    expect(policy.spec.policyTypes).toEqual(['Ingress']);
    expect(policy.metadata.namespace).toBe(k8sNames.namespace);
  });

  test('client port: relay and WebTransport pods only', () => {
    expect(admits(relayPod, natsPorts.client)).toBe(true);
    expect(admits(webtransportPod, natsPorts.client)).toBe(true);
    expect(admits(otherPod, natsPorts.client)).toBe(false);
    expect(admits(natsPod, natsPorts.client)).toBe(false);
    expect(admits(null, natsPorts.client)).toBe(false);
  });

  test('routes stay open between NATS pods, and only between them', () => {
    expect(admits(natsPod, natsPorts.cluster)).toBe(true);
    expect(admits(relayPod, natsPorts.cluster)).toBe(false);
    expect(admits(null, natsPorts.cluster)).toBe(false);
  });

  test('gateways (remote regions through the NodePort) and monitoring stay reachable from anywhere', () => {
    for (const port of [natsPorts.gateway, natsPorts.monitor]) {
      expect(admits(null, port)).toBe(true);
      expect(admits(otherPod, port)).toBe(true);
    }
  });
});

describe('contract and errors', () => {
  test('construct IDs are stable', () => {
    expect(relay.node.children.map((c) => c.node.id)).toEqual([
      'deployment', 'service', 'ingress', 'hpa', 'pdb', 'webtransport-deployment', 'webtransport-service', 'nats-client-access',
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

  test('an unknown region is refused with its name and the known ones', () => {
    expect(() => synth(topology, 'mars-1')).toThrow('RelayService: region "mars-1" is not in the topology (regions: us-east, singapore)');
  });

  test.each<[string, Partial<RelayServiceProps>, string]>([
    ['CPU target of 0', { targetCpuUtilization: 0 }, 'RelayService: region "us-east": targetCpuUtilization must be an integer percentage from 1 to 100 (got 0)'],
    ['CPU target above 100', { targetCpuUtilization: 150 }, 'targetCpuUtilization must be an integer percentage from 1 to 100 (got 150)'],
    ['resources without a CPU request', { relayResources: { limits: {} } }, 'RelayService: region "us-east": relayResources.requests.cpu must be set'],
    ['no WebTransport pods', { webtransportReplicas: 0 }, 'webtransportReplicas must be an integer ≥ 1 (got 0)'],
  ])('%s is refused, naming region, field and value', (_name, extra, message) => {
    expect(() => synth(topology, usEast.name, extra)).toThrow(message);
  });

  test('synthesis is deterministic', () => {
    expect(synth(topology, usEast.name).manifests).toEqual(manifests);
  });
});
