// WebTransportService: videocall-rs's WebTransport server of one region, field by field.
import { Chart, Testing } from 'cdk8s';
import { WebTransportService, WebTransportServiceProps, webtransportPorts } from '../../constructs/webtransport-service';
import { regions } from '../../regions';
import { NATS_CLIENT_URL, k8sNames, podLabels } from '../../topology/constants';
import { Topology, regionPlan } from '../../topology/topology';
import { frankfurt, usEast, withRegion, testTopology, Manifest, one, matches, container } from './fixtures';

function synth(topology: Topology, region: string, extra: Partial<WebTransportServiceProps> = {}): { manifests: Manifest[]; wt: WebTransportService } {
  const chart = new Chart(Testing.app(), 'relay', { namespace: k8sNames.namespace });
  const wt = new WebTransportService(chart, 'webtransport', { plan: regionPlan(topology, region, 'test'), ...extra });
  return { manifests: Testing.synth(chart) as Manifest[], wt };
}

const topology = testTopology(regions);
const { manifests, wt } = synth(topology, usEast.name);
const plan = topology.regions.find((r) => r.name === usEast.name)!;

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
      // What the upstream server reads for diagnostics and tokens.
      { name: 'REGION', value: 'us-east' },
      { name: 'HOSTNAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      { name: 'SERVER_ID', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      { name: 'SERVICE_TYPE', value: 'webtransport' },
      { name: 'JWT_SECRET', valueFrom: { secretKeyRef: { name: 'relay-jwt', key: 'jwt-secret', optional: true } } },
    ]);
  });

  test('CERT_PATH and KEY_PATH lie in a read-only mount of the TLS Secret', () => {
    const mount = c.volumeMounts.find((v: { mountPath: string }) => v.mountPath === '/etc/webtransport/tls');
    expect(mount.readOnly).toBe(true);
    const volume = deployment.spec.template.spec.volumes.find((v: { name: string }) => v.name === mount.name);
    expect(volume.secret).toEqual({ secretName: 'webtransport-tls' });
  });

  test('its certificate comes from cert-manager for its host, with the relay\'s ClusterIssuer, into the Secret it mounts', () => {
    const cert = one(m, 'Certificate', k8sNames.webtransport);
    expect(cert.apiVersion).toBe('cert-manager.io/v1');
    expect(cert.spec).toEqual({ secretName: 'webtransport-tls', dnsNames: ['wt.example.org'], issuerRef: { kind: 'ClusterIssuer', name: 'letsencrypt' } });
    const staging = testTopology([withRegion(usEast, { relay: { clusterIssuer: 'staging' }, webtransport: { host: 'wt.example.org' } })]);
    expect(one(synth(staging, usEast.name).manifests, 'Certificate', k8sNames.webtransport).spec.issuerRef.name).toBe('staging');
  });

  test('the built-in region uses the pinned videocall media server image and the cert-manager Secret', () => {
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
    // external-dns creates the host's record, as it does for the relay Ingress hosts.
    expect(svc.metadata.annotations).toEqual({ 'external-dns.alpha.kubernetes.io/hostname': 'wt.example.org' });
  });

  test('replicas and LoadBalancer annotations are configurable', () => {
    const annotations = { 'service.beta.kubernetes.io/do-loadbalancer-name': 'us-east-webtransport' };
    const three = testTopology([withRegion(usEast, { webtransport: { host: 'wt.example.org', replicas: 3 } })]);
    const out = synth(three, usEast.name, { serviceAnnotations: annotations }).manifests;
    expect(one(out, 'Deployment', k8sNames.webtransport).spec.replicas).toBe(3);
    expect(one(out, 'Service', k8sNames.webtransport).metadata.annotations).toEqual({ 'external-dns.alpha.kubernetes.io/hostname': 'wt.example.org', ...annotations });
  });

  test('a region without webtransport is refused by the construct (region-charts adds it only when set)', () => {
    expect(frankfurt.webtransport).toBeUndefined();
    expect(() => synth(testTopology([usEast, frankfurt]), frankfurt.name)).toThrow(
      'WebTransportService: region "eu-central": webtransport is not set in the region (got undefined)',
    );
  });

  test('construct IDs are stable', () => {
    expect(wt.node.children.map((x) => x.node.id)).toEqual(['certificate', 'deployment', 'service']);
  });
});
