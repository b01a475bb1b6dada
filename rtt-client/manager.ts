// ConnectionManager: elections and failover. It opens every candidate, elects the fastest by measured
// RTT (the rule is election.ts), keeps the runner-up (or, until one has answered, every reachable
// candidate) as a warm standby, fails over to it, and then lets the survivors prove themselves against
// it. A provisional election (a likely, not certain, leader at the checkpoint) is confirmed the same way:
// the call starts on the leader, and the others keep being measured against it until the election's
// timeout. A state machine driven only by its candidates' events (candidate.ts) and the injected clock's
// timers, so the same code runs in browsers, in Node and under a fake clock.
import { Candidate, type CandidateContext, type CandidateDiagnostics, type CandidateEvents } from './candidate';
import type { Clock, TimerHandle } from './clock';
import { decide, provenBetter, type ElectionRules } from './election';
import { Emitter } from './emitter';
import { joinUrl, resolveOptions, type ConnectionManagerOptions, type OnlineEventSource, type Settings } from './options';
import { ReconnectPolicy } from './reconnect';
import { median } from './stats';
import { redactUrl, type ServerEntry, type TransportClose } from './transport';

export type { ConnectionManagerOptions, OnlineEventSource } from './options';
export type { CandidateDiagnostics, CandidateRole } from './candidate';

export type ManagerState = 'idle' | 'electing' | 'active' | 'lost' | 'closed';
/** 'better': another server ranks first against the active one, after a failover or when confirming a provisional election */
export type SwitchReason = 'closed' | 'error' | 'silent' | 'degraded' | 'better';

export interface ElectedEvent {
  server: ServerEntry;
  /** median RTT it was elected with */
  rttMs: number;
  /** 'clear': decided early by the "clearly ahead" rule; 'timeout': decided at the election timeout */
  why: 'clear' | 'timeout';
  /**
   * Decided at the checkpoint on a likely, not certain, lead: every candidate stays open and measured
   * until the election timeout, and the call moves (`switched`, reason 'better') if another then ranks first.
   */
  provisional: boolean;
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

interface Election {
  /** background: a connection stays active meanwhile */
  background: boolean;
  /**
   * 'recheck': after a failover the new active competes with the survivors and yields to the one ranked first;
   * 'confirm': the same after a provisional election, until that election's timeout
   */
  reason: 'start' | 'retry' | 'online' | 'failover' | 'standby' | 'degraded' | 'recheck' | 'confirm';
  startedAt: number;
  candidates: Set<Candidate>;
  /** the timeout, and the checkpoint where the bar for an early decision drops (see election.ts) */
  timers: TimerHandle[];
}

export class ConnectionManager extends Emitter<ConnectionManagerEvents> {
  private readonly servers: readonly ServerEntry[];
  private readonly settings: Settings;
  private readonly rules: ElectionRules;
  private readonly clock: Clock;
  private readonly reconnect: ReconnectPolicy;
  private readonly candidateContext: CandidateContext;
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
    const o = resolveOptions(options);
    this.servers = o.servers;
    this.settings = o.settings;
    this.rules = o.rules;
    this.clock = o.clock;
    this.reconnect = new ReconnectPolicy(o.settings.reconnectBaseMs, o.settings.reconnectMaxMs, o.random);
    this.onlineSource = o.onlineSource;
    const events: CandidateEvents = {
      message: (_c, frame) => this.emit('message', frame),
      sample: (c) => this.handleSample(c),
      probed: (c) => {
        if (c.inElection) this.evaluate();
      },
      closed: (c, info) => this.handleClose(c, info),
      silent: (c) => this.handleSilence(c),
    };
    this.candidateContext = { clock: o.clock, userId: o.userId, settings: o.settings, factory: o.factory, running: () => this.state !== 'closed', events };
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
      this.active.send(frame);
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
    for (const t of [this.retryTimer, this.standbyTimer, this.diagnosticsTimer, ...(this.election?.timers ?? [])]) if (t !== undefined) this.clock.clearTimeout(t);
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
    const candidates: CandidateDiagnostics[] = [...this.latest].sort(([a], [b]) => a - b).map(([, c]) => c.diagnostics(round));
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

  /** `timeoutMs`: when it decides with what it has (a confirmation ends when the election it confirms would have) */
  private startElection(background: boolean, reason: Election['reason'], timeoutMs = this.rules.timeoutMs): void {
    if (this.state === 'closed') return; // a listener may have closed us mid-transition
    const challenge = isChallenge(reason);
    const candidates = new Set<Candidate>();
    this.servers.forEach((_server, index) => {
      const live = this.latest.get(index);
      if (live !== undefined && live === this.active) {
        if (challenge) candidates.add(live);
        return;
      }
      if (live !== undefined && live.state !== 'closed') {
        candidates.add(live); // already open (a standby, or kept to find one): it competes as it is
        return;
      }
      // a confirmation goes on with the election's own candidates: one that failed there stays out
      if (reason !== 'confirm') candidates.add(this.openCandidate(index));
    });
    if (!background) this.state = 'electing';
    const election: Election = {
      background,
      reason,
      startedAt: this.clock.now(),
      candidates,
      timers: [
        // at the timeout it decides, even if the timer fired a hair before the clock says so
        this.clock.setTimeout(() => this.evaluate(this.rules.timeoutMs), timeoutMs),
        // at the checkpoint it looks again, even if no sample arrives then (a confirmation has had its look)
        ...(reason !== 'confirm' && this.rules.checkpointMs < timeoutMs ? [this.clock.setTimeout(() => this.evaluate(this.rules.checkpointMs, 'checkpoint'), this.rules.checkpointMs)] : []),
      ],
    };
    this.election = election;
    for (const c of candidates) c.enterElection();
    this.evaluate();
  }

  /** `reachedMs`: a timer for that point of the election fired (a real clock may read a hair earlier) */
  private evaluate(reachedMs = 0, look: 'checkpoint' | 'any' = 'any'): void {
    const election = this.election;
    if (election === undefined || this.state === 'closed') return;
    const now = this.clock.now();
    const elapsedMs = Math.max(now - election.startedAt, reachedMs);
    const evidence = [...election.candidates].map((c) => c.evidence(now));
    const decision = decide(evidence, this.rules, elapsedMs, look);
    if (decision.kind === 'undecided') return;

    for (const t of election.timers) this.clock.clearTimeout(t);
    this.election = undefined;
    const byIndex = (i: number | undefined) => [...election.candidates].find((c) => c.index === i);
    const winner = decision.kind === 'elected' ? byIndex(decision.winner) : undefined;
    const runnerUp = decision.kind === 'elected' ? byIndex(decision.runnerUp) : undefined;
    for (const c of election.candidates) c.inElection = false;
    const challenge = isChallenge(election.reason);
    // No runner-up with a sample yet (an early decision): keep the others open and measure them for a
    // standby rather than leave the call without one.
    const seekStandby = (!election.background || challenge) && winner !== undefined && runnerUp === undefined &&
      [...election.candidates].some((c) => c !== winner && c !== this.active && c.state !== 'closed');
    // A provisional decision: everyone stays open, to be measured against the winner until the timeout.
    const provisional = !election.background && decision.kind === 'elected' && decision.provisional;
    for (const c of election.candidates) {
      if (c !== winner && c !== runnerUp && c !== this.active && !seekStandby && !provisional) this.dropCandidate(c, 'not elected');
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
      this.emit('elected', { server: winner.server, rttMs, why: decision.why, provisional, elapsedMs, standby: runnerUp?.server });
      this.deliverBuffered(winner);
      this.flushOutbox();
      if (this.state !== 'active' || this.election !== undefined) return;
      if (provisional) this.startElection(true, 'confirm', Math.max(0, this.rules.timeoutMs - elapsedMs));
      else if (seekStandby) this.startElection(true, 'standby');
      return;
    }

    const active = this.active!;
    if (challenge) {
      this.concludeChallenge(active, winner, runnerUp, seekStandby);
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
   * The active connection competed with the others (the survivors of a failover, or the candidates of
   * a provisional election): one that won takes over, early or at the timeout by the same ranking as
   * any election (with 200 ms probes, holding it to a clear win would leave a call on the wrong server
   * under wide jitter); otherwise it stays and the best of the others is the standby.
   */
  private concludeChallenge(active: Candidate, winner: Candidate | undefined, runnerUp: Candidate | undefined, seekStandby: boolean): void {
    if (winner !== undefined && winner !== active) {
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
    for (const t of election.timers) this.clock.clearTimeout(t);
    for (const c of election.candidates) c.inElection = false;
    this.election = undefined;
  }

  private enterLost(): void {
    this.state = 'lost';
    const attempt = ++this.failedElections;
    const retryInMs = this.reconnect.nextDelay(attempt);
    this.retryTimer = this.clock.setTimeout(() => {
      this.retryTimer = undefined;
      this.startElection(false, 'retry');
    }, retryInMs);
    this.emit('lost', { attempt, retryInMs });
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
    const delay = this.reconnect.nextDelay(++this.standbyAttempts);
    this.standbyTimer = this.clock.setTimeout(() => {
      this.standbyTimer = undefined;
      if (this.state === 'active' && this.standby === undefined && this.election === undefined) this.startElection(true, 'standby');
    }, delay);
  }

  // ---- roles ----

  private activate(c: Candidate): void {
    this.active = c;
    c.baselineMs = median(c.window.samples());
    this.state = 'active';
    c.assume('active');
  }

  private setStandby(c: Candidate | undefined): void {
    this.standby = c;
    c?.assume('standby');
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
    const c = new Candidate(index, server, joinUrl(server.url, this.settings.path), this.candidateContext);
    this.latest.set(index, c);
    return c;
  }

  private handleSample(c: Candidate): void {
    if (c === this.active) this.checkDegradation(c, this.clock.now());
    if (c.inElection) this.evaluate();
  }

  private handleClose(c: Candidate, info: TransportClose): void {
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

  private handleSilence(c: Candidate): void {
    if (c === this.active) {
      this.failActive(c, 'silent');
    } else if (c === this.standby) {
      this.dropCandidate(c, 'silent');
      if (!c.inElection) this.scheduleStandbySearch();
      else this.evaluate();
    }
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
    const frames = c.takeBuffered();
    for (const f of frames) this.emit('message', f);
  }

  private flushOutbox(): void {
    if (this.state === 'closed') return;
    const frames = this.outbox.splice(0);
    for (const f of frames) this.send(f);
  }

  /** Closes a connection we no longer want (its onClose is not called). */
  private dropCandidate(c: Candidate, reason: string): void {
    if (c === this.standby) this.standby = undefined;
    c.drop(reason);
  }

  private scheduleDiagnostics(): void {
    this.diagnosticsTimer = this.clock.setTimeout(() => {
      if (this.state === 'closed') return;
      this.scheduleDiagnostics();
      this.emit('diagnostics', this.diagnostics());
    }, this.settings.diagnosticsIntervalMs);
  }
}

/** Elections in which the active connection competes and yields to the one ranked first. */
const isChallenge = (reason: Election['reason']) => reason === 'recheck' || reason === 'confirm';

const round = (ms: number) => Math.round(ms * 100) / 100;
