// StatefulSet pod management as the manifest says: with OrderedReady, pod N+1 is created only once
// pod N is Running and Ready; with Parallel (what the generated manifests say today) all at once.
import { K8sObject } from '../../local/manifests';
import { SuperCluster, startSuperCluster } from '../support/supercluster';

jest.setTimeout(90_000);

/**
 * The StatefulSet with `policy`. Its NATS probes skip the JetStream meta-leader check here: with
 * OrderedReady, pod 0 starts alone and cannot elect a meta leader among routes that are not up yet,
 * so a probe that needs one would never let pod 1 be created (the emulation shows that too).
 */
const withPolicy = (policy: string) => (_region: string, objects: K8sObject[]) =>
  objects.map((o) => {
    if (o.kind !== 'StatefulSet') return o;
    const podSpec = o.spec.template.spec;
    const lenient = (p: any) => ({ ...p, httpGet: { ...p.httpGet, path: '/healthz?js-enabled-only=true' } }); // eslint-disable-line @typescript-eslint/no-explicit-any
    const containers = podSpec.containers.map((c: any) => // eslint-disable-line @typescript-eslint/no-explicit-any
      c.name === 'nats' ? { ...c, startupProbe: lenient(c.startupProbe), readinessProbe: lenient(c.readinessProbe) } : c);
    return { ...o, spec: { ...o.spec, podManagementPolicy: policy, template: { ...o.spec.template, spec: { ...podSpec, containers } } } };
  });

/** First time each pod was seen running and Ready, sampled until every pod is Ready. */
async function watch(cluster: SuperCluster): Promise<Map<string, { running: number; ready: number }>> {
  const seen = new Map<string, { running: number; ready: number }>();
  const t0 = Date.now();
  while (Date.now() - t0 < 60_000) {
    for (const s of cluster.servers) {
      const key = `${s.region}/${s.podName}`;
      const entry = seen.get(key) ?? { running: Infinity, ready: Infinity };
      if (s.status.running) entry.running = Math.min(entry.running, Date.now() - t0);
      if (s.status.ready) entry.ready = Math.min(entry.ready, Date.now() - t0);
      seen.set(key, entry);
    }
    if (cluster.pods().every((p) => p.ready)) return seen;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`not every pod Ready: ${JSON.stringify([...seen])}`);
}

describe('StatefulSet pod management', () => {
  let cluster: SuperCluster | undefined;
  afterEach(async () => {
    await cluster?.stop();
    cluster = undefined;
  });

  it('OrderedReady: each us-east pod is created only after the one before it is Ready', async () => {
    cluster = await startSuperCluster(undefined, { readyTimeoutMs: 0, transformManifests: withPolicy('OrderedReady') });
    const seen = await watch(cluster);
    for (const i of [1, 2]) {
      expect(seen.get(`us-east/nats-${i}`)!.running).toBeGreaterThanOrEqual(seen.get(`us-east/nats-${i - 1}`)!.ready);
    }
  });

  it('Parallel: every pod of a region is created before any is Ready', async () => {
    cluster = await startSuperCluster(undefined, { readyTimeoutMs: 0, transformManifests: withPolicy('Parallel') });
    const seen = await watch(cluster);
    const firstReady = Math.min(...[0, 1, 2].map((i) => seen.get(`us-east/nats-${i}`)!.ready));
    for (const i of [0, 1, 2]) expect(seen.get(`us-east/nats-${i}`)!.running).toBeLessThan(firstReady);
  });
});
