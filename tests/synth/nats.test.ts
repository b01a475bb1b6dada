import { App, Chart, Testing } from 'cdk8s';
import { addRegionCharts } from '../../constructs/region-charts';
import { NatsSuperCluster } from '../../constructs/nats-super-cluster';
import { natsConfig, parseRenderedNatsConf, renderNatsConf } from '../../constructs/nats-config';
import { MAX_FRAME_BYTES } from '../../protocol/packets';
import { NATS_MAX_PAYLOAD, SESSION_ID_STAMP_BYTES, k8sNames, natsPorts, podLabels } from '../../topology/constants';
import { buildTopology, regionPlan } from '../../topology/topology';
import { NATS_HEALTHZ_PATH, NATS_MONITOR_ACCESS_LABEL } from '../../constructs/nats-super-cluster';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NATS_SERVER_BIN } from '../../local/nats-supercluster';
import { freePort } from '../support/ports';
import { spawnProcess, waitForHttp } from '../support/processes';
import { regions } from '../../regions';
import { Labels, matches, threeRegions, usEast, singapore, withRegion } from './fixtures';

function synth(specs = regions, region = 'us-east') {
  const chart = new Chart(Testing.app(), 'nats', { namespace: 'videocall' });
  const topology = buildTopology(specs);
  const member = new NatsSuperCluster(chart, 'nats', { plan: regionPlan(topology, region, 'test'), gateways: topology.gateways });
  const objects = Testing.synth(chart);
  const find = (kind: string, name?: string) => objects.find((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  return { objects, find, member, conf: parseRenderedNatsConf(member.configText) as any };
}

describe('NatsSuperCluster config (nats.conf)', () => {
  it('names server, cluster and gateway after the region', () => {
    const { conf } = synth();
    expect(conf.server_name).toEqual({ $var: 'SERVER_NAME' });
    expect(conf.cluster.name).toBe('us-east');
    expect(conf.gateway.name).toBe('us-east');
  });

  it('routes to every pod through the headless service', () => {
    expect(synth().conf.cluster.routes).toEqual([
      'nats://nats-0.nats-headless:6222',
      'nats://nats-1.nats-headless:6222',
      'nats://nats-2.nats-headless:6222',
    ]);
    expect(synth(regions, 'singapore').conf.cluster.routes).toHaveLength(2);
  });

  it('lists every region with all its endpoints as gateways, advertising the node IP NodePort', () => {
    const { conf } = synth(threeRegions, 'singapore');
    expect(conf.gateway.port).toBe(7222);
    expect(conf.gateway.advertise).toEqual({ $var: 'GATEWAY_ADVERTISE' });
    expect(conf.gateway.gateways).toEqual([
      { name: 'us-east', urls: ['nats://10.100.0.2:30722'] },
      { name: 'singapore', urls: ['nats://10.110.0.2:30722'] },
      { name: 'eu-central', urls: ['nats://10.120.0.2:30722', 'nats://10.120.0.3:30722'] },
    ]);
  });

  it('sizes JetStream from the region and puts it on the PVC', () => {
    expect(synth().conf.jetstream).toEqual({ store_dir: '/data', max_file_store: Math.floor(5 * 2 ** 30 * 0.8), max_memory_store: 0 });
    expect(synth(regions, 'singapore').conf.jetstream.max_file_store).toBe(Math.floor(3 * 2 ** 30 * 0.8));
    // The PVC keeps the full size: max_file_store leaves headroom on it.
    const pvc = synth().find('StatefulSet').spec.volumeClaimTemplates[0];
    expect(pvc.spec.resources.requests.storage).toBe('5Gi');
  });

  it('allows the largest relay frame plus a stamped session id as payload', () => {
    expect(synth().conf.max_payload).toBe(NATS_MAX_PAYLOAD);
    expect(NATS_MAX_PAYLOAD).toBe(MAX_FRAME_BYTES + SESSION_ID_STAMP_BYTES);
  });

  it('sets lame-duck mode and the monitor port', () => {
    const { conf } = synth();
    expect(conf).toMatchObject({ http_port: 8222, port: 4222, lame_duck_duration: '30s', lame_duck_grace_period: '10s' });
  });

  it('renders environment references bare and round-trips', () => {
    const topology = buildTopology(regions);
    const text = renderNatsConf(natsConfig(topology.regions[0], topology.gateways));
    expect(text).toContain('"server_name": $SERVER_NAME,');
    expect(text).toContain('"advertise": $GATEWAY_ADVERTISE,');
    expect(renderNatsConf(parseRenderedNatsConf(text))).toBe(text);
  });

  it('reads client credentials from the environment when client auth is on', () => {
    const { conf, find } = synth([withRegion(usEast, { nats: { clientAuthSecret: 'nats-auth' } }), singapore]);
    expect(conf.authorization).toEqual({ user: { $var: 'NATS_USER' }, password: { $var: 'NATS_PASSWORD' } });
    const env = find('StatefulSet').spec.template.spec.containers[0].env;
    expect(env.slice(6)).toEqual([
      { name: 'NATS_USER', valueFrom: { secretKeyRef: { name: 'nats-auth', key: 'user' } } },
      { name: 'NATS_PASSWORD', valueFrom: { secretKeyRef: { name: 'nats-auth', key: 'password' } } },
    ]);
  });

  it('authorizes gateways with credentials from a Secret, through the environment only', () => {
    const { conf, find, member } = synth();
    expect(conf.gateway.authorization).toEqual({ user: { $var: 'GATEWAY_USER' }, password: { $var: 'GATEWAY_PASSWORD' } });
    expect(conf.gateway.reject_unknown_cluster).toBe(true);
    const env = find('StatefulSet').spec.template.spec.containers[0].env;
    expect(env.slice(4, 6)).toEqual([
      { name: 'GATEWAY_USER', valueFrom: { secretKeyRef: { name: 'nats-gateway-auth', key: 'user' } } },
      { name: 'GATEWAY_PASSWORD', valueFrom: { secretKeyRef: { name: 'nats-gateway-auth', key: 'password' } } },
    ]);
    // Nothing secret in the ConfigMap: the rendered text carries the references bare.
    expect(member.configText).toContain('"user": $GATEWAY_USER');
    expect(member.configText).toContain('"password": $GATEWAY_PASSWORD');
    const other = synth([withRegion(usEast, { nats: { gatewayAuthSecret: 'gw-auth' } }), singapore]).find('StatefulSet').spec.template.spec.containers[0].env;
    expect(other[4].valueFrom.secretKeyRef.name).toBe('gw-auth');
  });

  it('turns on gateway TLS from a mounted Secret when configured', () => {
    const specs = [withRegion(usEast, { nats: { gatewayTlsSecret: 'gw-tls' } }), withRegion(singapore, { nats: { gatewayTlsSecret: 'gw-tls' } })];
    const { conf, find } = synth(specs);
    expect(conf.gateway.tls).toEqual({
      cert_file: '/etc/nats-certs/gateway/tls.crt',
      key_file: '/etc/nats-certs/gateway/tls.key',
      ca_file: '/etc/nats-certs/gateway/ca.crt',
      verify: true,
    });
    const pod = find('StatefulSet').spec.template.spec;
    expect(pod.volumes).toContainEqual({ name: 'gateway-tls', secret: { secretName: 'gw-tls' } });
    expect(pod.containers[0].volumeMounts).toContainEqual({ name: 'gateway-tls', mountPath: '/etc/nats-certs/gateway', readOnly: true });
  });

  it('region charts refuse a region that is not in the topology, naming it', () => {
    expect(() => addRegionCharts(new App(), buildTopology(regions), 'mars')).toThrow(
      'region charts: region "mars" is not in the topology (regions: us-east, singapore)',
    );
  });
});

describe('NatsSuperCluster objects', () => {
  it('declares HOST_IP before the variables that use it', () => {
    const env = synth().find('StatefulSet').spec.template.spec.containers[0].env;
    expect(env.slice(0, 4)).toEqual([
      { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      { name: 'HOST_IP', valueFrom: { fieldRef: { fieldPath: 'status.hostIP' } } },
      { name: 'SERVER_NAME', value: 'us-east-$(POD_NAME)' },
      { name: 'GATEWAY_ADVERTISE', value: '$(HOST_IP):30722' },
    ]);
  });

  it('runs probes, ports, lame-duck preStop and a non-root context', () => {
    const sts = synth().find('StatefulSet');
    const pod = sts.spec.template.spec;
    const c = pod.containers[0];
    expect(sts.spec.replicas).toBe(3);
    expect(sts.spec.serviceName).toBe('nats-headless');
    expect(c.ports).toEqual([
      { name: 'nats', containerPort: 4222 },
      { name: 'cluster', containerPort: 6222 },
      { name: 'gateway', containerPort: 7222 },
      { name: 'monitor', containerPort: 8222 },
    ]);
    // No probe waits for a JetStream meta leader (see the nats-server test below).
    for (const probe of [c.startupProbe, c.readinessProbe, c.livenessProbe]) {
      expect(probe.httpGet).toEqual({ path: '/healthz?js-enabled-only=true', port: 'monitor' });
    }
    expect(c.lifecycle.preStop.exec.command).toEqual(['nats-server', '-sl=ldm=/var/run/nats/nats.pid']);
    expect(c.args).toEqual(['--config', '/etc/nats-config/nats.conf']);
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000, fsGroup: 1000 });
    expect(c.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    expect(pod.nodeSelector).toEqual({ 'topology.kubernetes.io/region': 'nyc1' });
    expect(pod.topologySpreadConstraints[0]).toMatchObject({ topologyKey: 'kubernetes.io/hostname', maxSkew: 1 });
    expect(sts.spec.volumeClaimTemplates[0]).toMatchObject({
      metadata: { name: 'jetstream' },
      spec: { storageClassName: 'do-block-storage', resources: { requests: { storage: '5Gi' } } },
    });
    expect(c.volumeMounts).toContainEqual({ name: 'jetstream', mountPath: '/data' });
  });

  it('rolls the pods when the gateway list changes (config checksum)', () => {
    const checksum = (specs: typeof regions) => synth(specs).find('StatefulSet').spec.template.metadata.annotations['checksum/config'];
    expect(checksum(regions)).toMatch(/^[0-9a-f]{64}$/);
    expect(checksum(regions)).toBe(checksum(regions));
    expect(checksum(threeRegions)).not.toBe(checksum(regions));
  });

  it('carries the rendered config in the ConfigMap the pods mount', () => {
    const { find, member } = synth();
    const cm = find('ConfigMap');
    expect(cm.data['nats.conf']).toBe(member.configText);
    expect(find('StatefulSet').spec.template.spec.volumes).toContainEqual({ name: 'config', configMap: { name: cm.metadata.name } });
  });

  it('exposes headless, client and gateway NodePort services and a PDB', () => {
    const { find } = synth();
    const headless = find('Service', 'nats-headless');
    expect(headless.spec).toMatchObject({ clusterIP: 'None', publishNotReadyAddresses: true });
    expect(headless.spec.ports.map((p: any) => p.port)).toEqual([4222, 6222, 7222, 8222]);
    expect(find('Service', 'nats').spec.ports).toEqual([{ name: 'nats', port: 4222, targetPort: 'nats' }]);
    expect(find('Service', 'nats-gateway').spec).toMatchObject({
      type: 'NodePort',
      // Forwards to starting pods too: a restarting region learns its meta leader through it.
      publishNotReadyAddresses: true,
      ports: [{ name: 'gateway', port: 7222, targetPort: 'gateway', nodePort: 30722 }],
    });
    expect(find('PodDisruptionBudget').spec).toMatchObject({ maxUnavailable: 1 });
    // Keeps DigitalOcean's CCM from opening the gateway NodePort to the internet.
    expect(find('Service', 'nats-gateway').metadata.annotations).toEqual({ 'kubernetes.digitalocean.com/firewall-managed': 'false' });
    expect(find('Service', 'nats').metadata.annotations).toBeUndefined();
    for (const svc of ['nats-headless', 'nats', 'nats-gateway']) {
      expect(find('Service', svc).spec.selector).toEqual(find('StatefulSet').spec.selector.matchLabels);
    }
  });

  it('uses a region\'s own gateway NodePort everywhere it appears', () => {
    const specs = [withRegion(usEast, { nats: { gatewayNodePort: 31000, gatewayEndpoints: ['10.100.0.2:31000'] } }), singapore];
    const { find, conf } = synth(specs);
    expect(find('Service', 'nats-gateway').spec.ports[0].nodePort).toBe(31000);
    expect(find('StatefulSet').spec.template.spec.containers[0].env[3]).toEqual({ name: 'GATEWAY_ADVERTISE', value: '$(HOST_IP):31000' });
    expect(conf.gateway.gateways[0].urls).toEqual(['nats://10.100.0.2:31000']);
  });
});

describe('NetworkPolicy nats (with the NATS construct)', () => {
  const policy = synth().find('NetworkPolicy', 'nats');
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

  test('gateways stay reachable from outside (remote regions arrive through the NodePort)', () => {
    expect(admits(null, natsPorts.gateway)).toBe(true);
  });

  test('monitor port: NATS pods and opted-in monitoring pods only (the kubelet probes from the node, always admitted)', () => {
    expect(admits(natsPod, natsPorts.monitor)).toBe(true);
    expect(admits({ ...NATS_MONITOR_ACCESS_LABEL, app: 'prometheus' }, natsPorts.monitor)).toBe(true);
    expect(admits(relayPod, natsPorts.monitor)).toBe(false);
    expect(admits(otherPod, natsPorts.monitor)).toBe(false);
    expect(admits(null, natsPorts.monitor)).toBe(false);
  });

  test('a region without WebTransport admits no WebTransport pods', () => {
    const p = synth(threeRegions, 'eu-central').find('NetworkPolicy', 'nats');
    expect(JSON.stringify(p.spec)).not.toContain('webtransport');
  });

  test('construct IDs are stable', () => {
    expect(synth().member.node.children.map((c) => c.node.id)).toEqual(['config', 'statefulset', 'headless', 'client', 'gateway', 'pdb', 'network-policy']);
  });
});


describe('the NATS probe path against a real nats-server (Debian 2.9.10 in CI)', () => {
  jest.setTimeout(30_000);

  it('is healthy on a JetStream server that has no meta leader, where plain /healthz is not', async () => {
    // One server of a three-server JetStream cluster whose peers never come: no meta leader, as
    // in a region whose pods all restart while the gateways are not yet connected.
    const dir = mkdtempSync(join(tmpdir(), 'vcg-probe-'));
    const [client, cluster, monitor, ...deadRoutes] = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort()];
    writeFileSync(join(dir, 'nats.conf'), [
      'server_name: probe-0',
      `listen: "127.0.0.1:${client}"`,
      `http: "127.0.0.1:${monitor}"`,
      `jetstream: { store_dir: "${join(dir, 'js')}" }`,
      `cluster: { name: probe, listen: "127.0.0.1:${cluster}", routes: [${deadRoutes.map((p) => `"nats://127.0.0.1:${p}"`).join(', ')}] }`,
    ].join('\n'));
    const server = spawnProcess(NATS_SERVER_BIN, ['-c', join(dir, 'nats.conf')], { name: 'nats-server probe-0' });
    try {
      const base = `http://127.0.0.1:${monitor}`;
      // Ready through the probe path alone: it must answer 200 without ever seeing a meta leader.
      await server.waitUntil((signal) => waitForHttp(`${base}${NATS_HEALTHZ_PATH}`, { timeoutMs: 15_000, signal }));
      const probe = await fetch(`${base}${NATS_HEALTHZ_PATH}`);
      expect({ status: probe.status, body: await probe.json() }).toEqual({ status: 200, body: { status: 'ok' } });
      const plain = await fetch(`${base}/healthz`);
      expect(plain.status).toBe(503);
      expect((await plain.json()).error).toMatch(/meta leader/);
    } finally {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
