// The emulation can fail: with manifests whose NATS probes need a JetStream meta leader and whose
// gateway Service lists only Ready pods, a region restarted after a full outage never becomes
// Ready again (its meta leader can only reach it through that same gateway Service). This is the
// deadlock issue 8 removes from the generated manifests; here it is reproduced on purpose.
import { withMetaLeaderProbes } from '../../local/manifests';
import { SuperCluster, startSuperCluster } from '../support/supercluster';
import { withoutMetaLeaderDependency } from './emulation-helpers';

jest.setTimeout(120_000);

describe('the emulation on deliberately deadlocking manifests', () => {
  let cluster: SuperCluster | undefined;
  afterAll(async () => {
    await cluster?.stop();
  });

  it('keeps a region not-Ready after a full restart, while the other region stays Ready', async () => {
    // History: the regions came up with manifests that do not deadlock, so one JetStream meta
    // group spans both (singapore holds 2 of its 5 peers: no quorum alone).
    cluster = await startSuperCluster(undefined, {
      deployOrder: 'sequential',
      transformManifests: (_region, objects) => withoutMetaLeaderDependency(objects),
    });
    // Gateways connected both ways, JetStream's meta group spreads over them.
    await new Promise((r) => setTimeout(r, 3_000));

    // The deadlocking form applied, then singapore loses every pod.
    for (const region of ['us-east', 'singapore']) cluster.applyManifests(region, withMetaLeaderProbes);
    await cluster.stopRegion('singapore', 'kill');
    cluster.startRegion('singapore');

    // 15 s is 150 s of manifest time at the test's time scale: many startup and readiness periods.
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      expect(cluster.regionPods('singapore').map((p) => p.ready)).toEqual([false, false]);
      expect(cluster.regionReady('us-east')).toBe(true);
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(cluster.regionPods('singapore').every((p) => p.running)).toBe(true);
    const links = await cluster.gatewayLinks();
    expect(links.find((l) => l.from === 'us-east' && l.to === 'singapore')?.up).toBe(false);
  });
});
