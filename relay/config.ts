// Every relay setting, stated once: the environment parser and the --help text come from this table.
import os from 'node:os';
import {
  IDLE_TIMEOUT_MS, KEYFRAME_REQUESTS_PER_SECOND, LEAVE_GRACE_MS, MAX_FRAME_BYTES, PING_INTERVAL_MS,
  ROOM_OR_USER_PATTERN,
} from '../protocol';

export interface RelayConfig {
  port: number;
  host: string;
  natsUrls: string[];
  region: string;
  serverId: string;
  /** Undefined: `/lobby?token=` answers 500, as the protocol says. */
  jwtSecret: string | undefined;
  /** ALLOW_PATH_LOBBY; unset: on without JWT_SECRET, off with it (closed by default). */
  allowPathLobby: boolean;
  /** The container's memory limit; every buffering budget below is derived from it (memoryBudgets). */
  memoryLimitBytes: number;
  maxFrameBytes: number;
  maxBufferedBytes: number;
  slowSocketCloseMs: number;
  leaveGraceMs: number;
  idleTimeoutMs: number;
  pingIntervalMs: number;
  keyframeRequestsPerSecond: number;
  maxSessions: number;
  drainTimeoutMs: number;
  drainLingerMs: number;
  logLevel: LogLevelName;
}

export type LogLevelName = 'debug' | 'info' | 'warn' | 'error';
const LOG_LEVELS: readonly LogLevelName[] = ['debug', 'info', 'warn', 'error'];

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

interface Setting<K extends keyof RelayConfig> {
  env: string;
  key: K;
  /** For --help when the default is not a plain value; otherwise the fallback's value is shown. */
  defaultText?: string;
  help: string;
  /** Parses a set value; throws ConfigError-free messages (plain strings) on bad input. */
  parse: (raw: string) => RelayConfig[K];
  fallback: () => RelayConfig[K];
  /** Never echo the value back in errors or logs. */
  secret?: boolean;
}

const int = (min: number, max: number) => (raw: string): number => {
  if (!/^\d+$/.test(raw.trim())) throw `must be a whole number between ${min} and ${max}`;
  const n = Number(raw.trim());
  if (!Number.isSafeInteger(n) || n < min || n > max) throw `must be a whole number between ${min} and ${max}`;
  return n;
};

const bool = (raw: string): boolean => {
  const v = raw.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(v)) return true;
  if (['0', 'false', 'no', 'off'].includes(v)) return false;
  throw 'must be one of true, false, 1, 0, yes, no, on, off';
};

const subjectToken = (what: string) => (raw: string): string => {
  if (!ROOM_OR_USER_PATTERN.test(raw)) throw `must match ${ROOM_OR_USER_PATTERN} (it is a ${what} in NATS subjects)`;
  return raw;
};

function natsUrls(raw: string): string[] {
  const urls = raw.split(',').map((u) => u.trim()).filter((u) => u.length > 0);
  if (urls.length === 0) throw 'must list at least one nats:// URL';
  for (const u of urls) {
    let parsed: URL;
    try {
      parsed = new URL(u);
    } catch {
      throw `"${u}" is not a URL (expected nats://host:port)`;
    }
    if (!['nats:', 'tls:'].includes(parsed.protocol) || parsed.hostname === '') {
      throw `"${u}" must be nats://host:port or tls://host:port`;
    }
  }
  return urls;
}

/** The host name made into a valid subject token (dots and other characters become '-'). */
function defaultServerId(): string {
  const id = os.hostname().replace(/[^a-zA-Z0-9_-]/g, '-');
  return id.length > 0 ? id : 'relay';
}

/** The port the relay listens on unless PORT says otherwise; the synthesized manifests use it too. */
export const DEFAULT_PORT = 8080;

const KIB = 1024;
const MIB = 1024 * KIB;

/** MEMORY_LIMIT_BYTES when unset: the relay manifest's memory limit (topology/relay-sizing.ts; tests/bench/relay-sizing.test.ts holds them equal). */
export const DEFAULT_MEMORY_LIMIT_BYTES = 640 * MIB;

export interface MemoryBudgets {
  /** All sockets' send buffers together; over it, sockets above their fair share get no media. */
  socketBytes: number;
  /** Bytes handed to NATS and not yet acknowledged by the server; over it, publishes are dropped. */
  natsOutboundBytes: number;
}

/**
 * Half of the memory limit buffers frames (a quarter of that for NATS outbound, the rest for
 * sockets); the other half is Node, V8's heap and uWS's fixed cost, with room for a GC cycle.
 */
export function memoryBudgets(memoryLimitBytes: number): MemoryBudgets {
  const buffering = Math.floor(memoryLimitBytes / 2);
  const natsOutboundBytes = Math.floor(buffering / 4);
  return { socketBytes: buffering - natsOutboundBytes, natsOutboundBytes };
}

// The order here is the order of --help.
const SETTINGS = [
  { env: 'PORT', key: 'port', help: 'TCP port for HTTP and WebSocket (0 picks a free one).', parse: int(0, 65535), fallback: () => DEFAULT_PORT },
  { env: 'HOST', key: 'host', help: 'Address to listen on.', parse: (raw) => { if (!/^[0-9a-fA-F:.]+$/.test(raw)) throw 'must be an IP address'; return raw; }, fallback: () => '0.0.0.0' },
  { env: 'NATS_URL', key: 'natsUrls', help: 'NATS server URL(s), comma-separated; the relay reconnects forever.', parse: natsUrls, fallback: () => ['nats://127.0.0.1:4222'] },
  { env: 'REGION', key: 'region', help: 'Region name, used in logs and the health diagnostics subject.', parse: subjectToken('region'), fallback: () => 'local' },
  { env: 'SERVER_ID', key: 'serverId', defaultText: 'the host name', help: 'This relay\'s id in logs and the health diagnostics subject.', parse: subjectToken('server id'), fallback: defaultServerId },
  { env: 'JWT_SECRET', key: 'jwtSecret', defaultText: 'unset', help: 'HS256 secret for /lobby?token=JWT; unset, that endpoint answers 500.', parse: (raw) => raw, fallback: () => undefined, secret: true },
  // The fallback is replaced in parseConfig by the JWT_SECRET rule; it is here for the table's shape.
  { env: 'ALLOW_PATH_LOBBY', key: 'allowPathLobby', defaultText: 'true without JWT_SECRET, false with it', help: 'Serve the unauthenticated /lobby/{user}/{room} (410 when false).', parse: bool, fallback: () => true },
  { env: 'MEMORY_LIMIT_BYTES', key: 'memoryLimitBytes', help: 'The container\'s memory limit (the manifest passes limits.memory); half of it is the total buffering budget: all sockets\' send buffers plus NATS outbound (a quarter of that half).', parse: int(64 * MIB, 1024 * 1024 * MIB), fallback: () => DEFAULT_MEMORY_LIMIT_BYTES },
  { env: 'MAX_FRAME_BYTES', key: 'maxFrameBytes', help: 'Largest inbound frame; a larger one ends the session.', parse: int(1 * KIB, MAX_FRAME_BYTES), fallback: () => MAX_FRAME_BYTES },
  { env: 'MAX_BUFFERED_BYTES', key: 'maxBufferedBytes', help: 'Per-socket send buffer bound; over it media frames to that socket are dropped and counted.', parse: int(16 * KIB, 1024 * MIB), fallback: () => 4 * MIB },
  { env: 'SLOW_SOCKET_CLOSE_MS', key: 'slowSocketCloseMs', help: 'A socket over the buffer bound this long is closed (1008).', parse: int(100, 600_000), fallback: () => 10_000 },
  { env: 'LEAVE_GRACE_MS', key: 'leaveGraceMs', help: 'Delay before PARTICIPANT_LEFT, cancelled when the user rejoins.', parse: int(0, 60_000), fallback: () => LEAVE_GRACE_MS },
  { env: 'IDLE_TIMEOUT_MS', key: 'idleTimeoutMs', help: 'A session without any inbound frame (pongs count) this long is closed.', parse: int(1_000, 600_000), fallback: () => IDLE_TIMEOUT_MS },
  { env: 'PING_INTERVAL_MS', key: 'pingIntervalMs', help: 'How often the relay pings each session.', parse: int(100, 600_000), fallback: () => PING_INTERVAL_MS },
  { env: 'KEYFRAME_REQUESTS_PER_SECOND', key: 'keyframeRequestsPerSecond', help: 'KEYFRAME_REQUEST frames a session may publish per second.', parse: int(0, 1000), fallback: () => KEYFRAME_REQUESTS_PER_SECOND },
  { env: 'MAX_SESSIONS', key: 'maxSessions', help: 'Upgrades beyond this many open sessions answer 503.', parse: int(1, 1_000_000), fallback: () => 10_000 },
  { env: 'DRAIN_TIMEOUT_MS', key: 'drainTimeoutMs', help: 'On SIGTERM, the longest wait for NATS to drain before exiting.', parse: int(0, 25_000), fallback: () => 10_000 },
  { env: 'DRAIN_LINGER_MS', key: 'drainLingerMs', help: 'On SIGTERM, how long /readyz keeps answering 503 (and upgrades 503) after the drain, before the port closes.', parse: int(0, 10_000), fallback: () => 1_000 },
  { env: 'LOG_LEVEL', key: 'logLevel', help: 'debug, info, warn or error.', parse: (raw) => { if (!(LOG_LEVELS as readonly string[]).includes(raw)) throw `must be one of ${LOG_LEVELS.join(', ')}`; return raw as LogLevelName; }, fallback: () => 'info' as LogLevelName },
] as const satisfies ReadonlyArray<Setting<keyof RelayConfig>>;

function defaultText(s: { defaultText?: string; fallback: () => unknown }): string {
  if (s.defaultText !== undefined) return s.defaultText;
  const value = s.fallback();
  return Array.isArray(value) ? value.join(',') : String(value);
}

/** Environment variables the relay reads, in --help order. */
export const SETTING_NAMES: readonly string[] = SETTINGS.map((s) => s.env);

/** Reads the relay's settings; throws ConfigError naming the variable and its value. Empty means unset. */
export function parseConfig(env: NodeJS.ProcessEnv): RelayConfig {
  const out: Partial<Record<keyof RelayConfig, unknown>> = {};
  for (const s of SETTINGS as ReadonlyArray<Setting<keyof RelayConfig>>) {
    const raw = env[s.env];
    if (raw === undefined || raw === '') {
      // Closed by default: unset ALLOW_PATH_LOBBY follows JWT_SECRET (parsed earlier in the table).
      out[s.key] = s.key === 'allowPathLobby' ? out.jwtSecret === undefined : s.fallback();
      continue;
    }
    try {
      out[s.key] = s.parse(raw);
    } catch (problem) {
      if (typeof problem !== 'string') throw problem;
      const shown = s.secret ? '(hidden)' : JSON.stringify(raw);
      throw new ConfigError(`${s.env}=${shown} ${problem}`);
    }
  }
  return out as unknown as RelayConfig;
}

export function helpText(): string {
  const width = Math.max(...SETTINGS.map((s) => s.env.length));
  const lines = SETTINGS.map((s) => `  ${s.env.padEnd(width)}  ${s.help} Default: ${defaultText(s)}.`);
  return [
    'videocall-global relay: the videocall media protocol over NATS, on uWebSockets.js.',
    '',
    'Usage: npm run relay            (or: node --import tsx relay/main.ts)',
    '       npm run relay -- --help',
    '',
    'Settings (environment variables; an empty value means unset):',
    ...lines,
    '',
    'Endpoints: GET /healthz, GET /readyz, GET /metrics,',
    '           WebSocket /lobby?token=JWT and /lobby/{user_id}/{room}.',
    'SIGTERM drains: readiness false, clients closed with 1001, PARTICIPANT_LEFT announced, NATS drained.',
  ].join('\n');
}
