// ConnectionManager: opens every candidate, elects the fastest by measured RTT, keeps the runner-up
// as a warm standby and fails over to it. A state machine driven only by transport events and the
// injected clock's timers, so the same code runs in browsers, in Node and under a fake clock.
import { CodecError, PacketType, decodePacketWrapper, encodeRttProbe, readRttProbeTimestamp, utf8 } from '../protocol';
import { systemClock, type Clock, type TimerHandle } from './clock';
import { DEFAULT_ELECTION_RULES, decide, provenBetter, validateRules, type CandidateEvidence, type ElectionRules } from './election';
import { Emitter } from './emitter';
import { median, p90, SampleWindow } from './stats';
import {
  CLOSE_NORMAL, redactText, redactUrl,
  type ServerEntry, type Transport, type TransportClose, type TransportFactory, type TransportKind,
} from './transport';
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
  /** probe interval during an election (default 50 ms) */
  probeIntervalMs?: number;
  /** probe interval of the active connection (default 1000 ms) */
  activeProbeIntervalMs?: number;
  /** probe interval of the warm standby (default 2000 ms) */
  standbyProbeIntervalMs?: number;
  /** an unanswered probe older than this counts as lost (default 2000 ms) */
  probeTimeoutMs?: number;
  /** an election decides with what it has after this long (default 3000 ms) */
  electionTimeoutMs?: number;
  /** the "clearly ahead" rule and the transport preference (see election.ts); defaults in DEFAULT_ELECTION_RULES */
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

export type ManagerState = 'idle' | 'electing' | 'active' | 'lost' | 'closed';
export type CandidateRole = 'candidate' | 'active' | 'standby';
/** 'better': after a failover, a surviving server proved faster than the one taken over */
export type SwitchReason = 'closed' | 'error' | 'silent' | 'degraded' | 'better';

export interface ElectedEvent {
  server: ServerEntry;
  /** median RTT it was elected with */
  rttMs: number;
  /** 'clear': decided early by the "clearly ahead" rule; 'timeout': decided at the election timeout */
  why: 'clear' | 'timeout';
  /** ms from the start of the election */
  elapsedMs: number;
  standby?: ServerEntry;
}

export interface SwitchedEvent {
  from: ServerEntry;
  to: ServerEntry;
  reason: SwitchReason;
  /** the new connection's median RTT */
  rttMs: number;
  /** close code when reason is 'closed' (1001: the relay is draining) */
  code?: number;
}

export interface LostEvent {
  /** consecutive failed elections */
  attempt: number;
  /** when the next one starts, unless the browser reports it is online first */
  retryInMs: number;
}

export interface CandidateDiagnostics {
  /** no credentials, query string or fragment */
  url: string;
  region: string;
  transport: TransportKind;
  role: CandidateRole;
  state: 'connecting' | 'open' | 'closed';
  samples: number[];
  medianMs: number | null;
  p90Ms: number | null;
  loss: number;
  lastRttMs: number | null;
  outstandingProbes: number;
  bufferedFrames: number;
  droppedFrames: number;
  lastClose: TransportClose | null;
}

export interface Diagnostics {
  at: number;
  state: ManagerState;
  active: string | null;
  standby: string | null;
  election: { background: boolean; reason: string; elapsedMs: number } | null;
  queuedSends: number;
  droppedSends: number;
  /** one per configured server, in list order: its live connection, or its last one */
  candidates: CandidateDiagnostics[];
}

export interface ConnectionManagerEvents {
  elected: ElectedEvent;
  switched: SwitchedEvent;
  message: Uint8Array;
  diagnostics: Diagnostics;
  lost: LostEvent;
}

interface Candidate {
  index: number;
  server: ServerEntry;
  transport?: Transport;
  state: 'connecting' | 'open' | 'closed';
  role: CandidateRole;
  inElection: boolean;
  connectStartedAt: number;
  window: SampleWindow;
  /** probe timestamp sent → when it was sent */
  outstanding: Map<number, number>;
  lastRttMs?: number;
  buffered: Uint8Array[];
  droppedFrames: number;
  probeTimer?: TimerHandle;
  silenceTimer?: TimerHandle;
  /** the RTT it was elected with, for the degradation test */
  baselineMs?: number;
  lastClose?: TransportClose;
}

interface Election {
  /** background: a connection stays active meanwhile */
  background: boolean;
  /** 'recheck': after a failover the new active competes with the survivors and yields to a proven-better one */
  reason: 'start' | 'retry' | 'online' | 'failover' | 'standby' | 'degraded' | 'recheck';
  startedAt: number;
  candidates: Set<Candidate>;
  timer: TimerHandle;
}

const DEFAULTS = {
  path: '',
  // a sample every 50 ms: the samples, not the rule, are what a decision within 1 s lacks at 200 ms
  probeIntervalMs: 25,
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

type Settings = { -readonly [K in keyof typeof DEFAULTS]: (typeof DEFAULTS)[K] extends string ? string : number };

const TRANSPORT_KINDS: readonly TransportKind[] = ['websocket', 'webtransport'];

export class ConnectionManager extends Emitter<ConnectionManagerEvents> {
  private readonly servers: readonly ServerEntry[];
  private readonly userId: Uint8Array;
  private readonly settings: Settings;
  private readonly rules: ElectionRules;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly factory: TransportFactory;
  private readonly onlineSource: OnlineEventSource | null;
  private readonly onOnline = () => this.handleOnline();

  private state: ManagerState = 'idle';
  private active?: Candidate;
  private standby?: Candidate;
  private election?: Election;
  /** the latest connection to each server, for diagnostics */
  private readonly latest = new Map<number, Candidate>();
  private readonly outbox: Uint8Array[] = [];
  private droppedSends = 0;
  private failedElections = 0;
  private standbyAttempts = 0;
  private retryTimer?: TimerHandle;
  private standbyTimer?: TimerHandle;
  private diagnosticsTimer?: TimerHandle;
  private reelectAfter = -Infinity;

  constructor(options: ConnectionManagerOptions) {
    super();
    this.servers = validateServers(options.servers);
    this.userId = typeof options.userId === 'string' ? utf8.encode(options.userId) : options.userId;
    if (!(this.userId instanceof Uint8Array) || this.userId.length === 0) throw new TypeError('userId must be a non-empty string or Uint8Array');
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
    this.settings = settings;
    this.rules = { ...DEFAULT_ELECTION_RULES, ...options.election, timeoutMs: settings.electionTimeoutMs };
    validateRules(this.rules);
    if (this.rules.preferTransport !== undefined && !TRANSPORT_KINDS.includes(this.rules.preferTransport)) {
      throw new RangeError(`election.preferTransport must be one of ${TRANSPORT_KINDS.join(', ')}, got ${String(this.rules.preferTransport)}`);
    }
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? Math.random;
    this.factory = options.transportFactory ?? defaultFactory(options.webSocket, options.webTransport);
    this.onlineSource = options.onlineEvents !== undefined ? options.onlineEvents : defaultOnlineSource();
  }

  /** Opens every candidate and starts the election. */
  start(): void {
    if (this.state === 'closed') throw new Error('ConnectionManager is closed');
    if (this.state !== 'idle') throw new Error('ConnectionManager already started');
    this.onlineSource?.addEventListener('online', this.onOnline);
    this.scheduleDiagnostics();
    this.startElection(false, 'start');
  }

  /**
   * Sends one frame on the active connection. While none is active (electing, failing over with no
   * standby, lost) frames wait, up to maxQueuedSends (the oldest are dropped), for the next one.
   */
  send(frame: Uint8Array): void {
    if (this.state === 'closed') throw new Error('ConnectionManager is closed');
    if (!(frame instanceof Uint8Array)) throw new TypeError('send takes a Uint8Array');
    if (this.active?.state === 'open') {
      this.active.transport!.send(frame);
      return;
    }
    this.outbox.push(frame);
    if (this.outbox.length > this.settings.maxQueuedSends) {
      this.outbox.shift();
      this.droppedSends++;
    }
  }

  /** Closes every connection and stops every timer; the manager cannot be restarted. */
  close(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.onlineSource?.removeEventListener('online', this.onOnline);
    for (const t of [this.retryTimer, this.standbyTimer, this.diagnosticsTimer, this.election?.timer]) if (t !== undefined) this.clock.clearTimeout(t);
    for (const c of this.latest.values()) this.dropCandidate(c, 'client closing');
    this.election = undefined;
    this.active = undefined;
    this.standby = undefined;
    this.outbox.length = 0;
  }

  get currentState(): ManagerState {
    return this.state;
  }

  get activeServer(): ServerEntry | undefined {
    return this.active?.server;
  }

  get standbyServer(): ServerEntry | undefined {
    return this.standby?.server;
  }

  diagnostics(): Diagnostics {
    const now = this.clock.now();
    const candidates: CandidateDiagnostics[] = [];
    for (const [, c] of [...this.latest].sort(([a], [b]) => a - b)) {
      const s = c.window.summary();
      candidates.push({
        url: redactUrl(c.server.url),
        region: c.server.region,
        transport: c.server.transport,
        role: c.role,
        state: c.state,
        samples: s.samples.map(round),
        medianMs: s.count > 0 ? round(s.median) : null,
        p90Ms: s.count > 0 ? round(s.p90) : null,
        loss: s.loss,
        lastRttMs: c.lastRttMs !== undefined ? round(c.lastRttMs) : null,
        outstandingProbes: c.outstanding.size,
        bufferedFrames: c.buffered.length,
        droppedFrames: c.droppedFrames,
        lastClose: c.lastClose ?? null,
      });
    }
    return {
      at: now,
      state: this.state,
      active: this.active ? redactUrl(this.active.server.url) : null,
      standby: this.standby ? redactUrl(this.standby.server.url) : null,
      election: this.election
        ? { background: this.election.background, reason: this.election.reason, elapsedMs: round(now - this.election.startedAt) }
        : null,
      queuedSends: this.outbox.length,
      droppedSends: this.droppedSends,
      candidates,
    };
  }

  // ---- elections ----

  private startElection(background: boolean, reason: Election['reason']): void {
    if (this.state === 'closed') return; // a listener may have closed us mid-transition
    const candidates = new Set<Candidate>();
    this.servers.forEach((_server, index) => {
      const live = this.latest.get(index);
      if (live !== undefined && live === this.active) {
        if (reason === 'recheck') candidates.add(live);
        return;
      }
      if (live !== undefined && live.state !== 'closed') {
        candidates.add(live); // already open (a standby, or kept to find one): it competes as it is
        return;
      }
      candidates.add(this.openCandidate(index));
    });
    if (!background) this.state = 'electing';
    const election: Election = {
      background,
      reason,
      startedAt: this.clock.now(),
      candidates,
      // at the timeout it decides, even if the timer fired a hair before the clock says so
      timer: this.clock.setTimeout(() => this.evaluate(true), this.rules.timeoutMs),
    };
    this.election = election;
    for (const c of candidates) {
      c.inElection = true;
      if (c.state === 'open') this.scheduleProbe(c, 0);
    }
    this.evaluate();
  }

  private evaluate(timedOut = false): void {
    const election = this.election;
    if (election === undefined || this.state === 'closed') return;
    const now = this.clock.now();
    const elapsedMs = timedOut ? Math.max(now - election.startedAt, this.rules.timeoutMs) : now - election.startedAt;
    const evidence: CandidateEvidence[] = [...election.candidates].map((c) => ({
      index: c.index,
      transport: c.server.transport,
      alive: c.state !== 'closed',
      samples: c.window.samples(),
      pendingMs: pendingMs(c, now),
      connecting: c.state === 'connecting',
      pendingAges: [...c.outstanding.values()].map((sentAt) => now - sentAt),
    }));
    const decision = decide(evidence, this.rules, elapsedMs);
    if (decision.kind === 'undecided') return;

    this.clock.clearTimeout(election.timer);
    this.election = undefined;
    const byIndex = (i: number | undefined) => [...election.candidates].find((c) => c.index === i);
    const winner = decision.kind === 'elected' ? byIndex(decision.winner) : undefined;
    const runnerUp = decision.kind === 'elected' ? byIndex(decision.runnerUp) : undefined;
    for (const c of election.candidates) c.inElection = false;
    // No runner-up with a sample yet (an early decision): keep the others open and measure them for a
    // standby rather than leave the call without one.
    const seekStandby = (!election.background || election.reason === 'recheck') && winner !== undefined && runnerUp === undefined &&
      [...election.candidates].some((c) => c !== winner && c !== this.active && c.state !== 'closed');
    for (const c of election.candidates) {
      if (c !== winner && c !== runnerUp && c !== this.active && !seekStandby) this.dropCandidate(c, 'not elected');
    }

    if (!election.background) {
      if (winner === undefined || decision.kind !== 'elected') {
        this.enterLost();
        return;
      }
      this.failedElections = 0;
      this.setStandby(runnerUp);
      const rttMs = median(winner.window.samples());
      this.activate(winner);
      this.emit('elected', { server: winner.server, rttMs, why: decision.why, elapsedMs, standby: runnerUp?.server });
      this.deliverBuffered(winner);
      this.flushOutbox();
      if (seekStandby && this.state === 'active' && this.election === undefined) this.startElection(true, 'standby');
      return;
    }

    const active = this.active!;
    if (election.reason === 'recheck') {
      this.concludeRecheck(active, winner, runnerUp, decision.kind === 'elected' ? decision.why : undefined, seekStandby);
      return;
    }
    const currentMs = median(active.window.samples(this.settings.degradeSamples));
    if (election.reason === 'degraded' && winner !== undefined && provenBetter(winner.window.samples(), currentMs, this.rules)) {
      this.setStandby(runnerUp);
      this.switchTo(winner, 'degraded');
      this.dropCandidate(active, 'degraded');
      return;
    }
    // nothing proven better: the working call stays where it is
    if (runnerUp !== undefined) this.dropCandidate(runnerUp, 'not elected');
    if (election.reason === 'degraded') this.reelectAfter = now + this.settings.reelectionCooldownMs;
    this.setStandby(winner);
    if (winner === undefined) this.scheduleStandbySearch();
    else this.standbyAttempts = 0;
  }

  /**
   * After a failover the active connection competed with the survivors: a survivor that beat it
   * clearly takes over; otherwise it stays and the best of the others is the standby.
   */
  private concludeRecheck(active: Candidate, winner: Candidate | undefined, runnerUp: Candidate | undefined, why: 'clear' | 'timeout' | undefined, seekStandby: boolean): void {
    if (winner !== undefined && winner !== active && why === 'clear') {
      this.switchTo(winner, 'better');
      if (runnerUp === active) this.setStandby(active);
      else {
        this.dropCandidate(active, 'a faster server took over');
        this.setStandby(runnerUp);
      }
    } else {
      const next = winner === active ? runnerUp : winner;
      if (runnerUp !== undefined && runnerUp !== next && runnerUp !== active) this.dropCandidate(runnerUp, 'not elected');
      this.setStandby(next);
    }
    if (this.state !== 'active' || this.election !== undefined) return;
    if (seekStandby || this.standby === undefined) {
      if ([...this.latest.values()].some((c) => c !== this.active && c.state !== 'closed')) this.startElection(true, 'standby');
      else this.scheduleStandbySearch();
    } else this.standbyAttempts = 0;
  }

  /** Stops the running election without deciding; its candidates stay open for the next one. */
  private abandonElection(): void {
    const election = this.election;
    if (election === undefined) return;
    this.clock.clearTimeout(election.timer);
    for (const c of election.candidates) c.inElection = false;
    this.election = undefined;
  }

  private enterLost(): void {
    this.state = 'lost';
    const attempt = ++this.failedElections;
    const retryInMs = this.backoff(attempt);
    this.retryTimer = this.clock.setTimeout(() => {
      this.retryTimer = undefined;
      this.startElection(false, 'retry');
    }, retryInMs);
    this.emit('lost', { attempt, retryInMs });
  }

  /** Full jitter on the lower half: [d/2, d) with d = base × 2^(attempt-1), capped. */
  private backoff(attempt: number): number {
    const d = Math.min(this.settings.reconnectMaxMs, this.settings.reconnectBaseMs * 2 ** Math.min(attempt - 1, 30));
    return d / 2 + (d / 2) * this.random();
  }

  private handleOnline(): void {
    if (this.state === 'lost') {
      if (this.retryTimer !== undefined) this.clock.clearTimeout(this.retryTimer);
      this.retryTimer = undefined;
      this.startElection(false, 'online');
    } else if (this.state === 'active' && this.standby === undefined && this.election === undefined) {
      if (this.standbyTimer !== undefined) this.clock.clearTimeout(this.standbyTimer);
      this.standbyTimer = undefined;
      this.startElection(true, 'standby');
    }
  }

  private scheduleStandbySearch(): void {
    if (this.servers.length < 2 || this.state !== 'active' || this.standbyTimer !== undefined) return;
    const delay = this.backoff(++this.standbyAttempts);
    this.standbyTimer = this.clock.setTimeout(() => {
      this.standbyTimer = undefined;
      if (this.state === 'active' && this.standby === undefined && this.election === undefined) this.startElection(true, 'standby');
    }, delay);
  }

  // ---- roles ----

  private activate(c: Candidate): void {
    this.active = c;
    c.role = 'active';
    c.baselineMs = median(c.window.samples());
    this.state = 'active';
    this.armSilenceTimer(c);
    this.scheduleProbe(c, this.settings.activeProbeIntervalMs);
  }

  private setStandby(c: Candidate | undefined): void {
    this.standby = c;
    if (c === undefined) return;
    c.role = 'standby';
    this.armSilenceTimer(c);
    this.scheduleProbe(c, this.settings.standbyProbeIntervalMs);
  }

  private switchTo(next: Candidate, reason: SwitchReason, code?: number): void {
    const from = this.active!.server;
    this.activate(next);
    this.emit('switched', { from, to: next.server, reason, rttMs: median(next.window.samples()), ...(code !== undefined ? { code } : {}) });
    this.deliverBuffered(next);
    this.flushOutbox();
  }

  /** The active connection is gone or unusable: the standby takes over at once, else a new election. */
  private failActive(failed: Candidate, reason: SwitchReason, code?: number): void {
    if (failed.state !== 'closed') this.dropCandidate(failed, reason);
    const standby = this.standby;
    if (standby !== undefined && standby.state === 'open') {
      this.standby = undefined;
      this.election?.candidates.delete(standby);
      standby.inElection = false;
      this.switchTo(standby, reason, code);
      // the standby may have been the wrong runner-up: keep measuring the survivors against it
      this.abandonElection();
      this.startElection(true, 'recheck');
      return;
    }
    this.active = undefined;
    this.state = 'electing';
    if (this.election !== undefined) {
      // the background election now decides where the call goes
      this.election.background = false;
      this.evaluate();
    } else {
      this.startElection(false, 'failover');
    }
  }

  // ---- one connection ----

  private openCandidate(index: number): Candidate {
    const server = this.servers[index];
    const c: Candidate = {
      index,
      server,
      state: 'connecting',
      role: 'candidate',
      inElection: false,
      connectStartedAt: this.clock.now(),
      window: new SampleWindow(this.settings.windowSize),
      outstanding: new Map(),
      buffered: [],
      droppedFrames: 0,
    };
    this.latest.set(index, c);
    try {
      c.transport = this.factory(server, joinUrl(server.url, this.settings.path), {
        onOpen: () => this.handleOpen(c),
        onMessage: (frame) => this.handleMessage(c, frame),
        onClose: (info) => this.handleClose(c, info),
      });
    } catch (err) {
      c.state = 'closed';
      c.lastClose = { code: 0, reason: '', error: redactText(err instanceof Error ? err.message : String(err)) };
    }
    return c;
  }

  private handleOpen(c: Candidate): void {
    if (c.state !== 'connecting' || this.state === 'closed') return;
    c.state = 'open';
    this.scheduleProbe(c, 0);
  }

  private handleMessage(c: Candidate, frame: Uint8Array): void {
    if (c.state === 'closed' || this.state === 'closed') return;
    const timestamp = readRttProbeTimestamp(frame);
    if (timestamp !== undefined) {
      this.handleProbeReply(c, frame, timestamp);
      return;
    }
    if (c === this.active) {
      this.emit('message', frame);
      return;
    }
    // Before it is active, keep what the application will need (session, meeting and room events);
    // media is real-time and would be stale by then.
    let packetType: number;
    try {
      packetType = decodePacketWrapper(frame).packetType;
    } catch (e) {
      if (e instanceof CodecError) return;
      throw e;
    }
    if (packetType === PacketType.MEDIA) return;
    if (c.buffered.length >= this.settings.maxBufferedFrames) c.droppedFrames++;
    else c.buffered.push(frame);
  }

  private handleProbeReply(c: Candidate, frame: Uint8Array, timestamp: number): void {
    const sentAt = c.outstanding.get(timestamp);
    if (sentAt === undefined || !bytesEqual(decodePacketWrapper(frame).userId, this.userId)) return; // not one of ours
    c.outstanding.delete(timestamp);
    const now = this.clock.now();
    const rtt = now - sentAt;
    c.window.addSample(rtt);
    c.lastRttMs = rtt;
    if (c === this.active || c === this.standby) this.armSilenceTimer(c);
    if (c === this.active) this.checkDegradation(c, now);
    if (c.inElection) this.evaluate();
  }

  private handleClose(c: Candidate, info: TransportClose): void {
    if (c.state === 'closed' || this.state === 'closed') return;
    c.lastClose = { code: info.code, reason: redactText(info.reason), ...(info.error !== undefined ? { error: redactText(info.error) } : {}) };
    this.stopCandidate(c);
    if (c === this.active) {
      this.failActive(c, info.error !== undefined ? 'error' : 'closed', info.code);
      return;
    }
    if (c === this.standby) {
      this.standby = undefined;
      if (!c.inElection) this.scheduleStandbySearch();
    }
    if (c.inElection) this.evaluate();
  }

  private sendProbe(c: Candidate): void {
    const now = this.clock.now();
    for (const [ts, sentAt] of c.outstanding) {
      if (now - sentAt > this.settings.probeTimeoutMs) {
        c.outstanding.delete(ts);
        c.window.addLoss();
      }
    }
    let timestamp = now;
    while (c.outstanding.has(timestamp)) timestamp += 0.001; // replies are matched by timestamp
    c.outstanding.set(timestamp, now);
    c.transport!.sendProbe(encodeRttProbe(this.userId, timestamp));
  }

  /** Probes now (after `firstInMs`) and then at the rate of the candidate's role. */
  private scheduleProbe(c: Candidate, firstInMs: number): void {
    if (c.probeTimer !== undefined) this.clock.clearTimeout(c.probeTimer);
    c.probeTimer = undefined;
    if (c.state !== 'open') return;
    const tick = () => {
      c.probeTimer = undefined;
      if (c.state !== 'open' || this.state === 'closed') return;
      this.sendProbe(c);
      c.probeTimer = this.clock.setTimeout(tick, this.probeInterval(c));
      // time passing is evidence too: a silent rival falls behind the leader
      if (c.inElection) this.evaluate();
    };
    if (firstInMs === 0) tick();
    else c.probeTimer = this.clock.setTimeout(tick, firstInMs);
  }

  private probeInterval(c: Candidate): number {
    if (c.inElection) return this.settings.probeIntervalMs;
    return c.role === 'active' ? this.settings.activeProbeIntervalMs : this.settings.standbyProbeIntervalMs;
  }

  /**
   * Probe replies that stop make the active connection fail over, and the standby unfit to take over
   * (it is probed more slowly, so it is given one more probe interval).
   */
  private armSilenceTimer(c: Candidate): void {
    if (c.silenceTimer !== undefined) this.clock.clearTimeout(c.silenceTimer);
    const timeout = this.settings.silenceTimeoutMs + (c.role === 'standby' ? this.settings.standbyProbeIntervalMs : 0);
    c.silenceTimer = this.clock.setTimeout(() => {
      c.silenceTimer = undefined;
      if (c.state === 'closed' || this.state === 'closed') return;
      if (c === this.active) {
        this.failActive(c, 'silent');
      } else if (c === this.standby) {
        this.dropCandidate(c, 'silent');
        if (!c.inElection) this.scheduleStandbySearch();
        else this.evaluate();
      }
    }, timeout);
  }

  private checkDegradation(c: Candidate, now: number): void {
    if (this.election !== undefined || now < this.reelectAfter || c.baselineMs === undefined) return;
    const recent = c.window.samples(this.settings.degradeSamples);
    if (recent.length < this.settings.degradeSamples) return;
    const m = median(recent);
    if (m > c.baselineMs * this.settings.degradeRatio && m > c.baselineMs + this.settings.degradeMinMs) {
      // keep using it while a better one has to prove itself
      this.startElection(true, 'degraded');
    }
  }

  private deliverBuffered(c: Candidate): void {
    if (this.state === 'closed') return;
    const frames = c.buffered.splice(0);
    for (const f of frames) this.emit('message', f);
  }

  private flushOutbox(): void {
    if (this.state === 'closed') return;
    const frames = this.outbox.splice(0);
    for (const f of frames) this.send(f);
  }

  private stopCandidate(c: Candidate): void {
    c.state = 'closed';
    if (c.probeTimer !== undefined) this.clock.clearTimeout(c.probeTimer);
    if (c.silenceTimer !== undefined) this.clock.clearTimeout(c.silenceTimer);
    c.probeTimer = undefined;
    c.silenceTimer = undefined;
    c.outstanding.clear();
  }

  /** Closes a connection we no longer want (its onClose is not called). */
  private dropCandidate(c: Candidate, reason: string): void {
    if (c === this.standby) this.standby = undefined;
    if (c.state === 'closed') return;
    this.stopCandidate(c);
    c.lastClose = { code: CLOSE_NORMAL, reason };
    c.transport?.close(CLOSE_NORMAL, reason);
  }

  private scheduleDiagnostics(): void {
    this.diagnosticsTimer = this.clock.setTimeout(() => {
      if (this.state === 'closed') return;
      this.scheduleDiagnostics();
      this.emit('diagnostics', this.diagnostics());
    }, this.settings.diagnosticsIntervalMs);
  }
}

function pendingMs(c: Candidate, now: number): number {
  if (c.state === 'connecting') return now - c.connectStartedAt;
  let oldest = Infinity;
  for (const sentAt of c.outstanding.values()) oldest = Math.min(oldest, sentAt);
  return oldest === Infinity ? 0 : now - oldest;
}

function validateServers(servers: unknown): readonly ServerEntry[] {
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
function joinUrl(base: string, path: string): string {
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

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

const round = (ms: number) => Math.round(ms * 100) / 100;
