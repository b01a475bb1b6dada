// The ConnectionManager's options: defaults, validation and the URL each candidate is opened with.
// Everything a manager reads from its options is resolved here once, so bad input fails at construction.
import { utf8 } from '../protocol';
import { systemClock, type Clock } from './clock';
import { DEFAULT_ELECTION_RULES, validateRules, type ElectionRules } from './election';
import { redactUrl, type ServerEntry, type TransportFactory, type TransportKind } from './transport';
import { WebSocketTransport, globalWebSocket, type WebSocketConstructor } from './websocket-transport';
import { WebTransportTransport, globalWebTransport, type WebTransportConstructor } from './webtransport-transport';

/** Where the browser's `online` event comes from (window); null switches it off. */
export interface OnlineEventSource {
  addEventListener(type: 'online', listener: () => void): void;
  removeEventListener(type: 'online', listener: () => void): void;
}

export interface ConnectionManagerOptions {
  /** the candidates, e.g. dist/servers.json's `servers` */
  servers: readonly ServerEntry[];
  /** written into every probe; replies must carry it back */
  userId: Uint8Array | string;
  /** appended to every server URL, e.g. `/lobby/alice/room-1` or `/lobby?token=…` (default: none) */
  path?: string;
  /** probe interval during an election (default 200 ms, the videocall client's) */
  probeIntervalMs?: number;
  /** probe interval of the active connection (default 1000 ms) */
  activeProbeIntervalMs?: number;
  /** probe interval of the warm standby (default 2000 ms) */
  standbyProbeIntervalMs?: number;
  /** an unanswered probe older than this counts as lost (default 2000 ms) */
  probeTimeoutMs?: number;
  /** an election decides with what it has after this long (default 2000 ms, the videocall client's election period) */
  electionTimeoutMs?: number;
  /** when an election may decide early (confidence, the 1 s checkpoint) and the transport preference (see election.ts); defaults in DEFAULT_ELECTION_RULES */
  election?: Partial<Omit<ElectionRules, 'timeoutMs'>>;
  /** the active connection fails over when no probe reply came for this long (default 2500 ms) */
  silenceTimeoutMs?: number;
  /** degraded: the median of the last `degradeSamples` RTTs is above baseline × degradeRatio … (default 2) */
  degradeRatio?: number;
  /** … and above baseline + degradeMinMs (default 50 ms); the baseline is the RTT it was elected with */
  degradeMinMs?: number;
  /** how many recent active samples the degradation test looks at (default 5) */
  degradeSamples?: number;
  /** after a degradation re-election that found nothing better, wait this long before the next (default 15000 ms) */
  reelectionCooldownMs?: number;
  /** reconnect backoff: first delay (default 500 ms), doubled per attempt up to reconnectMaxMs (default 30000 ms), jittered down by up to half */
  reconnectBaseMs?: number;
  reconnectMaxMs?: number;
  /** probes remembered per candidate for median, p90 and loss (default 20) */
  windowSize?: number;
  /** how often 'diagnostics' is emitted (default 1000 ms) */
  diagnosticsIntervalMs?: number;
  /** non-media frames kept per candidate before it becomes active, replayed when it does (default 128) */
  maxBufferedFrames?: number;
  /** frames `send` keeps while no connection is active, flushed to the next one (default 256) */
  maxQueuedSends?: number;
  /** opens a connection; default: WebSocketTransport or WebTransportTransport by the entry's transport */
  transportFactory?: TransportFactory;
  /** WebSocket implementation for the default factory (default: globalThis.WebSocket; rtt-client/node passes `ws`) */
  webSocket?: WebSocketConstructor;
  /** WebTransport implementation for the default factory (default: globalThis.WebTransport) */
  webTransport?: WebTransportConstructor;
  clock?: Clock;
  /** in [0, 1), for the backoff jitter (default Math.random) */
  random?: () => number;
  /** default: globalThis when it has addEventListener (browsers), otherwise none */
  onlineEvents?: OnlineEventSource | null;
}

export const DEFAULTS = {
  path: '',
  // the product's and the videocall client's probe rate: the rule must decide on what it measures
  probeIntervalMs: 200,
  activeProbeIntervalMs: 1000,
  standbyProbeIntervalMs: 2000,
  probeTimeoutMs: 2000,
  electionTimeoutMs: DEFAULT_ELECTION_RULES.timeoutMs,
  silenceTimeoutMs: 2500,
  degradeRatio: 2,
  degradeMinMs: 50,
  degradeSamples: 5,
  reelectionCooldownMs: 15000,
  reconnectBaseMs: 500,
  reconnectMaxMs: 30000,
  windowSize: 20,
  diagnosticsIntervalMs: 1000,
  maxBufferedFrames: 128,
  maxQueuedSends: 256,
} as const;

export type Settings = { -readonly [K in keyof typeof DEFAULTS]: (typeof DEFAULTS)[K] extends string ? string : number };

export const TRANSPORT_KINDS: readonly TransportKind[] = ['websocket', 'webtransport'];

/** What a manager runs with: every option validated and defaulted. */
export interface ResolvedOptions {
  servers: readonly ServerEntry[];
  userId: Uint8Array;
  settings: Settings;
  rules: ElectionRules;
  clock: Clock;
  random: () => number;
  factory: TransportFactory;
  onlineSource: OnlineEventSource | null;
}

export function resolveOptions(options: ConnectionManagerOptions): ResolvedOptions {
  const servers = validateServers(options.servers);
  const userId = typeof options.userId === 'string' ? utf8.encode(options.userId) : options.userId;
  if (!(userId instanceof Uint8Array) || userId.length === 0) throw new TypeError('userId must be a non-empty string or Uint8Array');
  const settings = { ...DEFAULTS } as Settings;
  for (const key of Object.keys(DEFAULTS) as Array<keyof Settings>) {
    const value = (options as unknown as Record<string, unknown>)[key];
    if (value === undefined) continue;
    if (key === 'path') {
      if (typeof value !== 'string') throw new TypeError(`path must be a string, got ${typeof value}`);
      settings.path = value;
    } else {
      if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) throw new RangeError(`${key} must be a positive number, got ${String(value)}`);
      (settings as Record<string, number | string>)[key] = value;
    }
  }
  for (const key of ['degradeSamples', 'windowSize', 'maxBufferedFrames', 'maxQueuedSends'] as const) {
    if (!Number.isInteger(settings[key])) throw new RangeError(`${key} must be an integer, got ${settings[key]}`);
  }
  if (settings.reconnectMaxMs < settings.reconnectBaseMs) throw new RangeError('reconnectMaxMs must be >= reconnectBaseMs');
  const rules = { ...DEFAULT_ELECTION_RULES, ...options.election, timeoutMs: settings.electionTimeoutMs };
  validateRules(rules);
  if (rules.preferTransport !== undefined && !TRANSPORT_KINDS.includes(rules.preferTransport)) {
    throw new RangeError(`election.preferTransport must be one of ${TRANSPORT_KINDS.join(', ')}, got ${String(rules.preferTransport)}`);
  }
  return {
    servers,
    userId,
    settings,
    rules,
    clock: options.clock ?? systemClock,
    random: options.random ?? Math.random,
    factory: options.transportFactory ?? defaultFactory(options.webSocket, options.webTransport),
    onlineSource: options.onlineEvents !== undefined ? options.onlineEvents : defaultOnlineSource(),
  };
}

export function validateServers(servers: unknown): readonly ServerEntry[] {
  if (!Array.isArray(servers) || servers.length === 0) throw new TypeError('servers must be a non-empty array of { url, region, transport }');
  servers.forEach((s: Partial<ServerEntry>, i) => {
    if (typeof s?.url !== 'string') throw new TypeError(`servers[${i}].url must be a string`);
    let url: URL;
    try {
      url = new URL(s.url);
    } catch {
      throw new TypeError(`servers[${i}].url is not a URL: ${redactUrl(s.url)}`);
    }
    const schemes = s.transport === 'webtransport' ? ['https:'] : ['ws:', 'wss:'];
    if (typeof s.region !== 'string' || s.region === '') throw new TypeError(`servers[${i}].region must be a non-empty string`);
    if (!TRANSPORT_KINDS.includes(s.transport as TransportKind)) throw new TypeError(`servers[${i}].transport must be one of ${TRANSPORT_KINDS.join(', ')}, got ${String(s.transport)}`);
    if (!schemes.includes(url.protocol)) throw new TypeError(`servers[${i}] (${s.transport}) needs a ${schemes.join(' or ')} URL, got ${url.protocol}`);
  });
  return servers.map((s: ServerEntry) => ({ ...s }));
}

/** `path` (with its query) appended to the server URL's path; the server URL's own query is kept. */
export function joinUrl(base: string, path: string): string {
  if (path === '') return base;
  const url = new URL(base);
  const extra = new URL(path, 'http://path.invalid/');
  url.pathname = url.pathname.replace(/\/+$/, '') + extra.pathname;
  extra.searchParams.forEach((value, key) => url.searchParams.append(key, value));
  return url.toString();
}

function defaultFactory(webSocket?: WebSocketConstructor, webTransport?: WebTransportConstructor): TransportFactory {
  return (server, url, handlers) =>
    server.transport === 'webtransport'
      ? new WebTransportTransport(url, handlers, webTransport ?? globalWebTransport())
      : new WebSocketTransport(url, handlers, webSocket ?? globalWebSocket());
}

function defaultOnlineSource(): OnlineEventSource | null {
  const g = globalThis as Partial<OnlineEventSource>;
  return typeof g.addEventListener === 'function' && typeof g.removeEventListener === 'function' ? (g as OnlineEventSource) : null;
}
