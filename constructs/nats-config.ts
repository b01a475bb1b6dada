// A region's nats.conf, derived from the topology. Pure: the NatsSuperCluster ConfigMap, the
// loopback super-cluster of `npm run local` and the tests all render it from here.
import { NATS_MAX_PAYLOAD, natsPorts, k8sNames } from '../topology/constants';
import { GatewayPlan, RegionPlan } from '../topology/topology';

/** A reference to an environment variable, rendered unquoted so nats-server substitutes it. */
export interface NatsVar {
  readonly $var: string;
}
export type NatsValue = string | number | boolean | NatsVar | readonly NatsValue[] | { readonly [k: string]: NatsValue };

/** Environment variables the pod sets and nats.conf reads. */
export const natsEnv = {
  podName: 'POD_NAME',
  hostIp: 'HOST_IP',
  serverName: 'SERVER_NAME',
  gatewayAdvertise: 'GATEWAY_ADVERTISE',
  user: 'NATS_USER',
  password: 'NATS_PASSWORD',
  /** Gateway credentials, from the region's gateway auth Secret (keys `user`, `password`). */
  gatewayUser: 'GATEWAY_USER',
  gatewayPassword: 'GATEWAY_PASSWORD',
} as const;

/** Paths inside the NATS container. */
export const natsPaths = {
  configDir: '/etc/nats-config',
  configFile: 'nats.conf',
  pidDir: '/var/run/nats',
  pidFile: '/var/run/nats/nats.pid',
  jetstreamDir: '/data',
  gatewayTlsDir: '/etc/nats-certs/gateway',
} as const;

/** Lame-duck mode lets clients move off a stopping server before it exits (as the NATS Helm chart). */
export const LAME_DUCK = { duration: '30s', gracePeriod: '10s' } as const;

/**
 * Keepalive of every connection, gateways included: a silently partitioned gateway (packets
 * vanish, nothing closes) is closed as stale within (pingMax + 1) × interval = 8 s, so the link is
 * reported down and re-dialled well inside 10 s (the defaults, 2 min capped at 15 s for gateways and
 * ping_max 2, take up to 45 s).
 * nats-server (2.9.10 and 2.10.29, server/client.go processPingTimer) always pings GATEWAY
 * connections every ping_interval (capped at 15 s, gateway.go gwMaxPingInterval), and closes one
 * with "Stale Connection" once ping_max PINGs are unanswered; it also applies to routes and clients.
 * Three missed PONGs (6 s) tolerate a busy peer and 234 ms RTT without flapping.
 */
export const KEEPALIVE = { pingInterval: '2s', pingMax: 3 } as const;

export function routeUrls(plan: RegionPlan): string[] {
  return Array.from(
    { length: plan.nats.replicas },
    (_, i) => `nats://${k8sNames.nats}-${i}.${k8sNames.natsHeadless}:${natsPorts.cluster}`,
  );
}

/** The nats.conf of the region `plan` as a value tree, gateways to every region; render it with renderNatsConf. */
export function natsConfig(plan: RegionPlan, gateways: readonly GatewayPlan[]): Record<string, NatsValue> {
  const v = (name: string): NatsVar => ({ $var: name });
  const tls: Record<string, NatsValue> = plan.nats.gatewayTlsSecret
    ? {
        tls: {
          cert_file: `${natsPaths.gatewayTlsDir}/tls.crt`,
          key_file: `${natsPaths.gatewayTlsDir}/tls.key`,
          ca_file: `${natsPaths.gatewayTlsDir}/ca.crt`,
          verify: true,
        },
      }
    : {};
  return {
    server_name: v(natsEnv.serverName),
    port: natsPorts.client,
    http_port: natsPorts.monitor,
    pid_file: natsPaths.pidFile,
    lame_duck_duration: LAME_DUCK.duration,
    lame_duck_grace_period: LAME_DUCK.gracePeriod,
    ping_interval: KEEPALIVE.pingInterval,
    ping_max: KEEPALIVE.pingMax,
    // The relay publishes frames of up to MAX_FRAME_BYTES plus a stamped session id.
    max_payload: NATS_MAX_PAYLOAD,
    ...(plan.nats.clientAuthSecret
      ? { authorization: { user: v(natsEnv.user), password: v(natsEnv.password) } }
      : {}),
    cluster: {
      // nats-server refuses a gateway whose name differs from its cluster's name.
      name: plan.name,
      port: natsPorts.cluster,
      no_advertise: true,
      routes: routeUrls(plan),
    },
    jetstream: {
      store_dir: natsPaths.jetstreamDir,
      // Below the volume size: the filesystem and JetStream's own index files need the rest.
      max_file_store: plan.nats.jetstreamMaxFileStoreBytes,
      max_memory_store: 0,
    },
    gateway: {
      name: plan.name,
      port: natsPorts.gateway,
      // Peers reach this server through the NodePort on its node's private IP.
      advertise: v(natsEnv.gatewayAdvertise),
      // Every gateway requires these credentials and, dialling a URL without user info, presents
      // them itself (nats-server server/gateway.go: outbound CONNECT falls back to
      // opts.Gateway.Username/Password), so one Secret with the same contents in every region
      // authorizes the whole mesh. The values come from the environment, never this file.
      authorization: { user: v(natsEnv.gatewayUser), password: v(natsEnv.gatewayPassword) },
      // A server of a cluster that is not in `gateways` is refused, even with the credentials.
      reject_unknown_cluster: true,
      ...tls,
      gateways: gateways.map((g) => ({ name: g.name, urls: [...g.urls] })),
    },
  };
}

/** nats.conf text: JSON syntax (which nats-server reads) with environment references left bare. */
export function renderNatsConf(config: Record<string, NatsValue>): string {
  return `${render(config, '')}\n`;
}

function render(value: NatsValue, indent: string): string {
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return JSON.stringify(value);
  const inner = `${indent}  `;
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    return `[\n${value.map((x) => inner + render(x, inner)).join(',\n')}\n${indent}]`;
  }
  if (isVar(value)) return `$${value.$var}`;
  const entries = Object.entries(value as Record<string, NatsValue>);
  return `{\n${entries.map(([k, x]) => `${inner}${JSON.stringify(k)}: ${render(x, inner)}`).join(',\n')}\n${indent}}`;
}

function isVar(value: object): value is NatsVar {
  return typeof (value as NatsVar).$var === 'string';
}

/**
 * Parses text written by renderNatsConf back into a value tree (bare `$NAME` become NatsVars),
 * so tools can re-address a generated config without re-deriving it.
 */
export function parseRenderedNatsConf(text: string): Record<string, NatsValue> {
  const quoted = text.replace(/(:\s*|^\s*)\$([A-Z_][A-Z0-9_]*)(\s*,?\s*)$/gm, '$1{"$var":"$2"}$3');
  return JSON.parse(quoted) as Record<string, NatsValue>;
}
