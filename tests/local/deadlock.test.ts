// The emulation can fail: with manifests whose NATS startup and readiness probes need a JetStream
// meta leader and whose gateway Service lists only Ready pods, regions applied after the first in
// deploy order never become Ready: their meta leader can only reach them through their own gateway
// Service, which admits nobody until they are Ready. This is the deadlock issue 8 removes from the
// generated manifests; here it is reproduced on purpose, on a deliberately broken copy of them.
import { withMetaLeaderProbes } from '../../local/manifests';
import { SuperCluster, startSuperCluster } from '../support/supercluster';
import { THREE_REGIONS } from './emulation-helpers';

jest.setTimeout(120_000);

describe('the emulation on deliberately deadlocking manifests', () => {
  let cluster: SuperCluster | undefined;
  afterAll(async () => {
    await cluster?.stop();
  });

  it('never makes the one-replica region (or the others applied after the first) Ready', async () => {
    cluster = await startSuperCluster(THREE_REGIONS, {
      deployOrder: 'sequential',
      readyTimeoutMs: 0,
      transformManifests: (_region, objects) => withMetaLeaderProbes(objects),
    });
    // 20 s is 200 s of manifest time at the test's time scale: twenty readiness periods.
    const deadline = Date.now() + 20_000;
    let everRunning = false;
    while (Date.now() < deadline) {
      expect(cluster.regionPods('eu-central').map((p) => p.ready)).toEqual([false]);
      expect(cluster.regionReady('singapore')).toBe(false);
      everRunning ||= cluster.regionPods('eu-central')[0].running;
      await new Promise((r) => setTimeout(r, 500));
    }
    // Not a crash: the server runs, and nobody can dial into its region.
    expect(everRunning).toBe(true);
    const links = await cluster.gatewayLinks();
    expect(links.filter((l) => l.to === 'eu-central').map((l) => l.up)).toEqual([false, false]);

    // The way out (issue 8's probes): nats-server 2.9.10 answers js-enabled-only without a meta
    // leader (server/monitor.go healthz returns before the meta checks), unlike the other forms.
    const monitor = cluster.servers.find((s) => s.region === 'eu-central')!.monitorUrl;
    const status = async (query: string) => (await fetch(`${monitor}/healthz${query}`)).status;
    expect({ plain: await status(''), serverOnly: await status('?js-server-only=true'), enabledOnly: await status('?js-enabled-only=true') })
      .toEqual({ plain: 503, serverOnly: 503, enabledOnly: 200 });
  });
});
