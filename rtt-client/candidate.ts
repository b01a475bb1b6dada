// One connection to one server: its transport, its probes and their samples, its silence timer, and
// the frames it holds until it becomes active. The manager decides roles; a Candidate only carries
// them out (probe rate, silence allowance) and reports what happens through `CandidateEvents`.
import { CodecError, PacketType, bytesEqual, decodePacketWrapper, encodeRttProbe, readRttProbeTimestamp } from '../protocol';
import type { Clock, TimerHandle } from './clock';
import type { CandidateEvidence } from './election';
import type { Settings } from './options';
import { SampleWindow } from './stats';
import { CLOSE_NORMAL, redactText, redactUrl, type ServerEntry, type Transport, type TransportClose, type TransportFactory } from './transport';

export type CandidateRole = 'candidate' | 'active' | 'standby';

export interface CandidateDiagnostics {
  /** no credentials, query string or fragment */
  url: string;
  region: string;
  transport: ServerEntry['transport'];
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

/** What a candidate tells its manager; none is called after the candidate is closed. */
export interface CandidateEvents {
  /** a frame that is not a probe reply */
  message(c: Candidate, frame: Uint8Array): void;
  /** a reply to one of our probes was taken as a sample */
  sample(c: Candidate): void;
  /** a probe went out while electing: time passing is evidence too */
  probed(c: Candidate): void;
  /** the server closed it or it failed (not called for `drop`) */
  closed(c: Candidate, info: TransportClose): void;
  /** no probe reply for its silence allowance while active or standby */
  silent(c: Candidate): void;
}

export interface CandidateContext {
  clock: Clock;
  userId: Uint8Array;
  settings: Settings;
  factory: TransportFactory;
  /** false once the manager is closed: late transport callbacks are ignored */
  running(): boolean;
  events: CandidateEvents;
}

export class Candidate {
  state: 'connecting' | 'open' | 'closed' = 'connecting';
  role: CandidateRole = 'candidate';
  /** probed at the election rate and evaluated on every sample */
  inElection = false;
  /** the RTT it was elected with, for the degradation test */
  baselineMs?: number;
  lastClose?: TransportClose;
  readonly window: SampleWindow;
  private readonly connectStartedAt: number;
  private readonly transport?: Transport;
  /** probe timestamp sent → when it was sent */
  private readonly outstanding = new Map<number, number>();
  private lastRttMs?: number;
  /** the window's first sample is the handshake (see handleOpen) */
  private handshakeSampled = false;
  private buffered: Uint8Array[] = [];
  private droppedFrames = 0;
  private probeTimer?: TimerHandle;
  /** when the last probe went out */
  private lastProbeAt = -Infinity;
  private silenceTimer?: TimerHandle;

  constructor(readonly index: number, readonly server: ServerEntry, url: string, private readonly ctx: CandidateContext) {
    this.window = new SampleWindow(ctx.settings.windowSize);
    this.connectStartedAt = ctx.clock.now();
    try {
      this.transport = ctx.factory(server, url, {
        onOpen: () => this.handleOpen(),
        onMessage: (frame) => this.handleMessage(frame),
        onClose: (info) => this.handleClose(info),
      });
    } catch (err) {
      this.state = 'closed';
      this.lastClose = { code: 0, reason: '', error: redactText(err instanceof Error ? err.message : String(err)) };
    }
  }

  get live(): boolean {
    return this.state !== 'closed';
  }

  send(frame: Uint8Array): void {
    this.transport!.send(frame);
  }

  /** What the election sees of it now. */
  evidence(now: number): CandidateEvidence {
    return {
      index: this.index,
      transport: this.server.transport,
      alive: this.live,
      samples: this.window.samples(),
      handshakeRounds: this.handshakeSampled && this.window.holdsFirst() ? handshakeRoundTrips(this.server) : 0,
      pendingMs: this.pendingMs(now),
      connecting: this.state === 'connecting',
      connectRounds: handshakeRoundTrips(this.server),
      pendingAges: [...this.outstanding.values()].map((sentAt) => now - sentAt),
    };
  }

  /** Takes a role: its probe rate and silence allowance follow. */
  assume(role: 'active' | 'standby'): void {
    this.role = role;
    this.armSilenceTimer();
    this.scheduleProbe(role === 'active' ? this.ctx.settings.activeProbeIntervalMs : this.ctx.settings.standbyProbeIntervalMs);
  }

  /**
   * Joins an election: probed at the election rate from now on, the next probe one election interval
   * after the last (at once when that is past), so an election that follows another never probes faster.
   */
  enterElection(): void {
    this.inElection = true;
    if (this.state === 'open') this.scheduleProbe(Math.max(0, this.lastProbeAt + this.ctx.settings.probeIntervalMs - this.ctx.clock.now()));
  }

  /** The non-media frames it kept before it became active, handed over once. */
  takeBuffered(): Uint8Array[] {
    return this.buffered.splice(0);
  }

  /** Closes a connection we no longer want (no `closed` event). */
  drop(reason: string): void {
    if (this.state === 'closed') return;
    this.stop();
    this.lastClose = { code: CLOSE_NORMAL, reason };
    this.transport?.close(CLOSE_NORMAL, reason);
  }

  diagnostics(round: (ms: number) => number): CandidateDiagnostics {
    const s = this.window.summary();
    return {
      url: redactUrl(this.server.url),
      region: this.server.region,
      transport: this.server.transport,
      role: this.role,
      state: this.state,
      samples: s.samples.map(round),
      medianMs: s.count > 0 ? round(s.median) : null,
      p90Ms: s.count > 0 ? round(s.p90) : null,
      loss: s.loss,
      lastRttMs: this.lastRttMs !== undefined ? round(this.lastRttMs) : null,
      outstandingProbes: this.outstanding.size,
      bufferedFrames: this.buffered.length,
      droppedFrames: this.droppedFrames,
      lastClose: this.lastClose ?? null,
    };
  }

  private handleOpen(): void {
    if (this.state !== 'connecting' || !this.ctx.running()) return;
    this.state = 'open';
    // The handshake is round trips we already waited for: counted as the window's first sample it
    // gives the election evidence at open, without probing faster (see handshakeRoundTrips).
    this.window.addSample((this.ctx.clock.now() - this.connectStartedAt) / handshakeRoundTrips(this.server));
    this.handshakeSampled = true;
    this.scheduleProbe(0);
  }

  private handleMessage(frame: Uint8Array): void {
    if (this.state === 'closed' || !this.ctx.running()) return;
    const timestamp = readRttProbeTimestamp(frame);
    if (timestamp !== undefined) {
      this.handleProbeReply(frame, timestamp);
      return;
    }
    if (this.role === 'active') {
      this.ctx.events.message(this, frame);
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
    if (this.buffered.length >= this.ctx.settings.maxBufferedFrames) this.droppedFrames++;
    else this.buffered.push(frame);
  }

  private handleProbeReply(frame: Uint8Array, timestamp: number): void {
    const sentAt = this.outstanding.get(timestamp);
    if (sentAt === undefined || !bytesEqual(decodePacketWrapper(frame).userId, this.ctx.userId)) return; // not one of ours
    this.outstanding.delete(timestamp);
    const rtt = this.ctx.clock.now() - sentAt;
    this.window.addSample(rtt);
    this.lastRttMs = rtt;
    if (this.role !== 'candidate') this.armSilenceTimer();
    this.ctx.events.sample(this);
  }

  private handleClose(info: TransportClose): void {
    if (this.state === 'closed' || !this.ctx.running()) return;
    this.lastClose = { code: info.code, reason: redactText(info.reason), ...(info.error !== undefined ? { error: redactText(info.error) } : {}) };
    this.stop();
    this.ctx.events.closed(this, info);
  }

  private sendProbe(): void {
    const now = this.ctx.clock.now();
    for (const [ts, sentAt] of this.outstanding) {
      if (now - sentAt > this.ctx.settings.probeTimeoutMs) {
        this.outstanding.delete(ts);
        this.window.addLoss();
      }
    }
    let timestamp = now;
    while (this.outstanding.has(timestamp)) timestamp += 0.001; // replies are matched by timestamp
    this.outstanding.set(timestamp, now);
    this.lastProbeAt = now;
    this.transport!.sendProbe(encodeRttProbe(this.ctx.userId, timestamp));
  }

  /** Probes after `firstInMs` (at once when 0) and then at the rate of its role. */
  private scheduleProbe(firstInMs: number): void {
    const clock = this.ctx.clock;
    if (this.probeTimer !== undefined) clock.clearTimeout(this.probeTimer);
    this.probeTimer = undefined;
    if (this.state !== 'open') return;
    const tick = () => {
      this.probeTimer = undefined;
      if (this.state !== 'open' || !this.ctx.running()) return;
      this.sendProbe();
      this.probeTimer = clock.setTimeout(tick, this.probeInterval());
      if (this.inElection) this.ctx.events.probed(this);
    };
    if (firstInMs === 0) tick();
    else this.probeTimer = clock.setTimeout(tick, firstInMs);
  }

  private probeInterval(): number {
    const s = this.ctx.settings;
    if (this.inElection) return s.probeIntervalMs;
    return this.role === 'active' ? s.activeProbeIntervalMs : s.standbyProbeIntervalMs;
  }

  /**
   * Probe replies that stop make the active connection fail over, and the standby unfit to take over
   * (it is probed more slowly, so it is given one more probe interval).
   */
  private armSilenceTimer(): void {
    const { clock, settings } = this.ctx;
    if (this.silenceTimer !== undefined) clock.clearTimeout(this.silenceTimer);
    const timeout = settings.silenceTimeoutMs + (this.role === 'standby' ? settings.standbyProbeIntervalMs : 0);
    this.silenceTimer = clock.setTimeout(() => {
      this.silenceTimer = undefined;
      if (this.state === 'closed' || !this.ctx.running()) return;
      this.ctx.events.silent(this);
    }, timeout);
  }

  /** ms it has kept us waiting: its pending connection, or its oldest unanswered probe */
  private pendingMs(now: number): number {
    if (this.state === 'connecting') return now - this.connectStartedAt;
    let oldest = Infinity;
    for (const sentAt of this.outstanding.values()) oldest = Math.min(oldest, sentAt);
    return oldest === Infinity ? 0 : now - oldest;
  }

  private stop(): void {
    const clock = this.ctx.clock;
    this.state = 'closed';
    if (this.probeTimer !== undefined) clock.clearTimeout(this.probeTimer);
    if (this.silenceTimer !== undefined) clock.clearTimeout(this.silenceTimer);
    this.probeTimer = undefined;
    this.silenceTimer = undefined;
    this.outstanding.clear();
  }
}

/**
 * The fewest round trips opening this server's connection takes, so that the handshake time divided
 * by it is never below the path's RTT (DNS, TLS crypto or a TLS 1.2 server only make it longer):
 * - WebSocket: TCP's SYN / SYN-ACK, then the HTTP Upgrade request and its 101 (RFC 6455 §4.1), plus
 *   TLS 1.3's one round trip for wss: (RFC 8446 §2: the client's Finished goes with its first request);
 * - WebTransport over HTTP/3: QUIC's handshake (RFC 9000 §7, one round trip before the client can
 *   send 1-RTT data) and the extended CONNECT request and its response.
 */
export function handshakeRoundTrips(server: ServerEntry): number {
  if (server.transport === 'webtransport') return 2;
  return new URL(server.url).protocol === 'wss:' ? 3 : 2;
}
