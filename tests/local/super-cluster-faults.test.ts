// What must hold for the generated manifests, run as Kubernetes runs them (local/nats-supercluster.ts):
// bootstrap in deploy order, a region back after a full outage, partitions that stay inside their
// link. These need the manifests of issue 8 (probes that skip the JetStream meta-leader check, a
// gateway Service publishing not-ready addresses); with the deadlocking form they fail.
import { RelayProcess, startRelay } from '../support/relay';
import { SuperCluster, TEST_TIME_SCALE, startSuperCluster } from '../support/supercluster';
import { TestClient, closeAllClients } from '../relay/helpers';
import { Call, THREE_REGIONS, until } from './emulation-helpers';

jest.setTimeout(180_000);

describe('the super-cluster from the generated manifests, under faults', () => {
  let cluster: SuperCluster | undefined;
  const calls: Call[] = [];
  /** One relay per region on its NATS client Service, as the relay manifest's NATS_URL says. */
  const relays: Record<string, RelayProcess> = {};

  afterAll(async () => {
    await Promise.all(calls.map((c) => c.close()));
    closeAllClients();
    await Promise.all(Object.values(relays).map((r) => r.stop()));
    await cluster?.stop();
  });

  const call = async (from: string, to: string, room: string) => {
    const c = await Call.open(relays[from].url, relays[to].url, room);
    calls.push(c);
    c.start();
    return c;
  };
  const linkUp = async (a: string, b: string) => (await cluster!.gatewayLinks()).filter((l) => (l.from === a && l.to === b) || (l.from === b && l.to === a)).every((l) => l.up);

  it('bootstraps in deploy order: every pod Ready within 60 s, gateways a full mesh', async () => {
    const t0 = Date.now();
    cluster = await startSuperCluster(THREE_REGIONS, { deployOrder: 'sequential', readyTimeoutMs: 60_000 });
    expect(Date.now() - t0).toBeLessThan(60_000);
    expect(cluster.pods().every((p) => p.ready)).toBe(true);
    expect((await cluster.gatewayLinks()).filter((l) => !l.up)).toEqual([]);
    for (const region of ['us-east', 'singapore']) {
      relays[region] = await startRelay({ natsUrl: cluster.serviceUrls[region], region, serverId: `${region}-relay-0` });
    }
  });

  it('brings a region back within 30 s of a full outage while the others stay Ready and their calls go on', async () => {
    const local = await call('us-east', 'us-east', 'outage-local');
    const cross = await call('us-east', 'singapore', 'outage-cross');
    await until(() => local.received.size > 0 && cross.received.size > 0, 10_000, 'both calls flowing');
    await cluster!.stopRegion('eu-central', 'kill');
    const marks = [local.sentCount, cross.sentCount];
    const t0 = Date.now();
    cluster!.startRegion('eu-central');
    while (!cluster!.regionReady('eu-central')) {
      expect(cluster!.regionReady('us-east') && cluster!.regionReady('singapore')).toBe(true);
      expect(Date.now() - t0).toBeLessThan(30_000);
      await new Promise((r) => setTimeout(r, 200));
    }
    await until(() => local.receivedSince(marks[0]) > 10 && cross.receivedSince(marks[1]) > 10, 5_000, 'calls between the other regions going on');
    await until(async () => (await linkUp('eu-central', 'us-east')) && (await linkUp('eu-central', 'singapore')), 15_000, 'eu-central gateways back');
  });

  it('reports a silently partitioned gateway link down within 10 s, keeps calls inside each region whole, and resumes cross-region media within 2 s of the heal', async () => {
    const usLocal = await call('us-east', 'us-east', 'partition-us');
    const sgLocal = await call('singapore', 'singapore', 'partition-sg');
    const cross = await call('us-east', 'singapore', 'partition-cross');
    await until(() => usLocal.received.size > 0 && sgLocal.received.size > 0 && cross.received.size > 0, 10_000, 'calls flowing');
    const marks = [usLocal.sentCount, sgLocal.sentCount];

    cluster!.partition('us-east', 'singapore', 'blackhole');
    const detectedMs = await until(async () => !(await linkUp('us-east', 'singapore')), 10_000, 'the black-holed link reported down');
    expect(detectedMs).toBeLessThan(10_000);
    await new Promise((r) => setTimeout(r, 2_000));
    const crossMark = cross.sentCount;
    const ends = [usLocal.sentCount, sgLocal.sentCount];

    cluster!.heal('us-east', 'singapore');
    const resumedMs = await until(() => cross.receivedSince(crossMark) > 0, 2_000, 'cross-region media after the heal');
    expect(resumedMs).toBeLessThan(2_000);
    await until(() => usLocal.missing(marks[0], ends[0]).length === 0 && sgLocal.missing(marks[1], ends[1]).length === 0, 5_000, 'every in-region frame sent during the partition');
  });

  it('resets a partitioned link loudly, and heals it', async () => {
    cluster!.partition('us-east', 'eu-central', 'reset');
    await until(async () => !(await linkUp('us-east', 'eu-central')), 5_000, 'the reset link down');
    cluster!.heal('us-east', 'eu-central');
    await until(() => linkUp('us-east', 'eu-central'), 10_000, 'the link back');
  });

  it('tells a relay\'s clients to fail over on SIGTERM (1001), and drops them on SIGKILL', async () => {
    const extra: RelayProcess[] = [];
    for (const id of ['drained', 'killed']) extra.push(await startRelay({ natsUrl: cluster!.serviceUrls['us-east'], region: 'us-east', serverId: `us-east-${id}` }));
    const [drained, killed] = extra;
    const a = await TestClient.open(`${drained.url}/lobby/dora/fault-relay`);
    const b = await TestClient.open(`${killed.url}/lobby/eli/fault-relay`);
    await drained.stop();
    killed.kill('SIGKILL');
    expect((await a.closed).code).toBe(1001);
    expect((await b.closed).code).toBe(1006);
  });

  it('restarts a hung (SIGSTOPped) server through its liveness probe', async () => {
    const target = cluster!.servers.find((s) => s.region === 'singapore')!;
    const before = target.status.restarts;
    cluster!.pause(target.serverName);
    // liveness: 3 failures × 30 s period at the test's time scale, plus the grace period
    await until(() => target.status.restarts > before, (3 * 30 + 60) * 1000 * TEST_TIME_SCALE + 20_000, 'a liveness restart');
    await until(() => target.status.ready, 30_000, 'the restarted pod Ready');
  });
});
