// Re-addresses a generated nats.conf for loopback: only addresses, ports and paths change, so
// what runs here is the configuration the clusters run. Pure.
import { randomBytes } from 'node:crypto';
import { NatsValue, natsEnv, parseRenderedNatsConf, renderNatsConf } from '../constructs/nats-config';

export interface LoopbackPorts {
  readonly client: number;
  readonly cluster: number;
  readonly gateway: number;
  readonly monitor: number;
}

export interface LoopbackServerPlan {
  readonly serverName: string;
  readonly ports: LoopbackPorts;
  /** Where the other regions dial this server's gateway (a delay proxy, or the port itself). */
  readonly gatewayAdvertisePort: number;
}

export interface LoopbackRegionPlan {
  readonly region: string;
  readonly servers: readonly LoopbackServerPlan[];
}

export interface LoopbackConf {
  readonly text: string;
  /** Environment the pod would set (server name, gateway advertise address). */
  readonly env: Readonly<Record<string, string>>;
}

const LOOPBACK = '127.0.0.1';

/** Gateway credentials for loopback runs: one per process, shared by every server it starts. */
const LOOPBACK_GATEWAY_AUTH = { user: 'loopback', password: `loopback-${randomBytes(18).toString('hex')}` };

/**
 * The conf of `regions[regionIndex].servers[serverIndex]`: listeners on loopback ports, routes to
 * the region's loopback servers, each gateway's URLs replaced by that region's advertised loopback
 * ports, JetStream and pid files under `dataDir`.
 */
export function loopbackNatsConf(
  generated: string,
  regions: readonly LoopbackRegionPlan[],
  region: string,
  serverIndex: number,
  dataDir: string,
): LoopbackConf {
  const conf = parseRenderedNatsConf(generated) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  const own = regions.find((r) => r.region === region);
  const server = own?.servers[serverIndex];
  if (!own || !server) throw new Error(`no loopback plan for ${region} server ${serverIndex}`);
  const url = (port: number) => `nats://${LOOPBACK}:${port}`;

  conf.host = LOOPBACK;
  conf.port = server.ports.client;
  delete conf.http_port;
  conf.http = `${LOOPBACK}:${server.ports.monitor}`;
  conf.pid_file = `${dataDir}/nats.pid`;
  conf.cluster = {
    ...conf.cluster,
    host: LOOPBACK,
    port: server.ports.cluster,
    // Every replica, itself included, as the generated routes list them: nats-server skips a route
    // to itself, and a one-replica region with JetStream clustered refuses to start without one.
    routes: own.servers.map((s) => url(s.ports.cluster)),
  };
  conf.jetstream = { ...conf.jetstream, store_dir: `${dataDir}/jetstream` };
  const gateways = conf.gateway.gateways as Array<{ name: string; urls: string[] }>;
  conf.gateway = {
    ...conf.gateway,
    host: LOOPBACK,
    port: server.ports.gateway,
    gateways: gateways.map((g) => {
      const target = regions.find((r) => r.region === g.name);
      if (!target) throw new Error(`generated config of ${region} names gateway "${g.name}", which has no loopback plan`);
      // Servers behind one NodePort advertise the same address: list it once.
      return { ...g, urls: [...new Set(target.servers.map((s) => url(s.gatewayAdvertisePort)))] };
    }),
  };
  return {
    text: renderNatsConf(conf as Record<string, NatsValue>),
    env: {
      [natsEnv.serverName]: server.serverName,
      [natsEnv.gatewayAdvertise]: `${LOOPBACK}:${server.gatewayAdvertisePort}`,
      [natsEnv.gatewayUser]: LOOPBACK_GATEWAY_AUTH.user,
      [natsEnv.gatewayPassword]: LOOPBACK_GATEWAY_AUTH.password,
    },
  };
}
