import { natsConfig, parseRenderedNatsConf, renderNatsConf } from '../../constructs/nats-config';
import { LoopbackRegionPlan, loopbackNatsConf } from '../../local/nats-loopback';
import { buildTopology } from '../../topology/topology';
import { regions } from '../../regions';

const ports = (base: number) => ({ client: base, cluster: base + 1, gateway: base + 2, monitor: base + 3 });
const plans: LoopbackRegionPlan[] = [
  { region: 'us-east', servers: [0, 1, 2].map((i) => ({ serverName: `us-east-nats-${i}`, ports: ports(10000 + i * 10), gatewayAdvertisePort: 20000 + i })) },
  { region: 'singapore', servers: [0, 1].map((i) => ({ serverName: `singapore-nats-${i}`, ports: ports(11000 + i * 10), gatewayAdvertisePort: 21000 + i })) },
];

describe('loopback re-addressing of a generated nats.conf', () => {
  const topology = buildTopology(regions);
  const generated = renderNatsConf(natsConfig(topology.regions[0], topology.gateways));
  const out = loopbackNatsConf(generated, plans, 'us-east', 1, '/tmp/x');
  const before = parseRenderedNatsConf(generated) as any;
  const after = parseRenderedNatsConf(out.text) as any;

  it('changes only addresses, ports and paths', () => {
    const strip = (c: any) => {
      const { host, port, http, http_port, pid_file, cluster, jetstream, gateway, ...rest } = c;
      return {
        rest,
        cluster: { ...cluster, host: undefined, port: undefined, routes: undefined },
        jetstream: { ...jetstream, store_dir: undefined },
        gateway: { ...gateway, host: undefined, port: undefined, gateways: gateway.gateways.map((g: any) => g.name) },
      };
    };
    expect(strip(after)).toEqual(strip(before));
  });

  it('binds loopback ports and routes to every replica of its region, itself included', () => {
    expect(after).toMatchObject({ host: '127.0.0.1', port: 10010, http: '127.0.0.1:10013', pid_file: '/tmp/x/nats.pid' });
    expect(after.cluster).toMatchObject({ host: '127.0.0.1', port: 10011, routes: ['nats://127.0.0.1:10001', 'nats://127.0.0.1:10011', 'nats://127.0.0.1:10021'] });
    expect(after.jetstream.store_dir).toBe('/tmp/x/jetstream');
  });

  it('dials each gateway at that region\'s advertised ports and advertises its own', () => {
    expect(after.gateway.port).toBe(10012);
    expect(after.gateway.gateways).toEqual([
      { name: 'us-east', urls: ['nats://127.0.0.1:20000', 'nats://127.0.0.1:20001', 'nats://127.0.0.1:20002'] },
      { name: 'singapore', urls: ['nats://127.0.0.1:21000', 'nats://127.0.0.1:21001'] },
    ]);
    expect(out.env).toEqual({
      SERVER_NAME: 'us-east-nats-1',
      GATEWAY_ADVERTISE: '127.0.0.1:20001',
      // The generated config reads gateway credentials from the environment; loopback makes its own.
      GATEWAY_USER: 'loopback',
      GATEWAY_PASSWORD: expect.stringMatching(/^loopback-[0-9a-f]{36}$/),
    });
    expect(after.gateway.authorization).toEqual({ user: { $var: 'GATEWAY_USER' }, password: { $var: 'GATEWAY_PASSWORD' } });
  });
});
