// The generated nats.conf of every region, every replica, run by real nats-server processes on
// loopback: gateways connect, a message crosses regions, JetStream is healthy everywhere.
import { connect } from '@nats-io/transport-node';

type NatsConnection = Awaited<ReturnType<typeof connect>>;
import { SuperCluster, startSuperCluster } from '../support/supercluster';

jest.setTimeout(90_000);

describe('a real super-cluster from the generated configuration', () => {
  let cluster: SuperCluster;
  const connections: NatsConnection[] = [];

  beforeAll(async () => {
    cluster = await startSuperCluster();
  });

  afterAll(async () => {
    await Promise.all(connections.map((c) => c.close()));
    await cluster?.stop();
  });

  it('starts every replica of every region with its derived server name', () => {
    expect(cluster.servers.map((s) => s.serverName)).toEqual([
      'us-east-nats-0', 'us-east-nats-1', 'us-east-nats-2', 'singapore-nats-0', 'singapore-nats-1',
    ]);
  });

  it('connects every gateway on every server', async () => {
    for (const s of cluster.servers) {
      const gatewayz = await (await fetch(`${s.monitorUrl}/gatewayz`)).json();
      expect(gatewayz.name).toBe(s.region);
      const other = s.region === 'us-east' ? 'singapore' : 'us-east';
      expect(Object.keys(gatewayz.outbound_gateways)).toEqual([other]);
      const varz = await (await fetch(`${s.monitorUrl}/varz`)).json();
      expect(varz.server_name).toBe(s.serverName);
      expect(varz.cluster.name).toBe(s.region);
    }
  });

  it('answers /healthz?js-enabled-only=true with 200 on every server', async () => {
    for (const s of cluster.servers) {
      const res = await fetch(`${s.monitorUrl}/healthz?js-enabled-only=true`);
      expect({ server: s.serverName, status: res.status }).toEqual({ server: s.serverName, status: 200 });
    }
  });

  it.each([
    ['us-east', 'singapore'],
    ['singapore', 'us-east'],
  ])('carries a message published in %s to a subscriber in %s', async (from, to) => {
    const subscriber = await connect({ servers: cluster.clientUrls[to][1 % cluster.clientUrls[to].length] });
    const publisher = await connect({ servers: cluster.clientUrls[from][0] });
    connections.push(subscriber, publisher);
    const subject = `room.cross-${from}.42`;
    const sub = subscriber.subscribe(subject, { max: 1 });
    await subscriber.flush();
    const payload = new TextEncoder().encode(`hello from ${from}`);
    // Interest crosses the gateway asynchronously; publish until it arrives.
    const received = (async () => {
      for await (const m of sub) return m.data;
      return undefined;
    })();
    const timer = setInterval(() => publisher.publish(subject, payload), 100);
    try {
      expect(Buffer.from((await received)!).toString()).toBe(`hello from ${from}`);
    } finally {
      clearInterval(timer);
    }
  });
});
