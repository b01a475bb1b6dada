// 3a. Election accuracy and decision time, side by side: our rtt-client ConnectionManager itself and a
// model of the videocall client's election (bench/videocall-model.ts), on a simulated clock (no I/O),
// fed the same RTT streams and handshake times in every trial. Then the standby: is one held, and is
// the call on the best surviving server soon after the active one dies?
import {
  ConnectionManager, type Clock, type ElectedEvent, type ServerEntry, type Transport, type TransportFactory, type TransportHandlers, type TransportKind,
} from '../rtt-client';
import type { ElectionRules } from '../rtt-client';
import { fmt, type BenchResult, type Row } from './report';
import { distribution, seededRandom, type Distribution } from './stats';
import { VIDEOCALL, videocallElection, type ModelServer } from './videocall-model';

export type NetworkName = 'jitter' | 'realistic' | 'mixed' | 'loss';

export interface ElectionOptions {
  trials: number;
  /** RTT gap between the fastest and the second candidate (the third is as far behind the second) */
  gaps: number[];
  networks: NetworkName[];
  /** trials of the standby / failover simulation per network */
  standbyTrials: number;
  seed: number;
  /** election rules overriding the client's defaults (for studying variants; the report uses the defaults) */
  rules?: Partial<ElectionRules>;
}

export const ELECTION_FULL: ElectionOptions = { trials: 1000, gaps: [0.05, 0.15, 0.3, 0.5], networks: ['jitter', 'realistic', 'mixed', 'loss'], standbyTrials: 1000, seed: 20261125 };
export const ELECTION_QUICK: ElectionOptions = { ...ELECTION_FULL, trials: 20, standbyTrials: 20 };

export const TARGETS = {
  realistic: { gap: 0.15, accuracy: 0.995, p99Ms: 1000 },
  jitter: { gap: 0.15, accuracy: 0.99, p99Ms: 2000 },
  standbyHeld: 0.99,
  onBestWithinMs: 5000,
  onBest: 0.99,
} as const;

/** The videocall client's timings, for the failover benchmark's yardstick. */
export const VIDEOCALL_REFERENCE = { electionMs: VIDEOCALL.electionPeriodMs, reconnectDelayMs: VIDEOCALL.reconnectInitialDelayMs } as const;

/** Base RTT of the fastest candidate, drawn per trial (ms). */
const BASE_RTT_MS = { min: 20, max: 200 };
/** Opening a connection costs a TCP and an HTTP-upgrade round trip (WebSocket). */
const CONNECT_ROUND_TRIPS = 2;
const CANDIDATES = 3;
/** (b): queueing delay exponential with this mean, as a share of the base */
const QUEUEING_MEAN = 0.1;
const SPIKE = { probability: 0.01, ms: 200 };
const JITTER = 0.2;
const LOSS_ON_FASTEST = 0.05;
/** the standby simulation: the active relay dies this long after the start */
const KILL_AT_MS = 5000;

const NETWORKS: Record<NetworkName, string> = {
  jitter: `(a) uniform ±${JITTER * 100} % jitter`,
  realistic: `(b) realistic: floor + exp. queueing (mean ${QUEUEING_MEAN * 100} %) + ${SPIKE.probability * 100} % spikes of +${SPIKE.ms} ms`,
  mixed: '(c) as (b); fastest WebSocket, second WebTransport',
  loss: `(d) as (b); ${LOSS_ON_FASTEST * 100} % probe loss on the fastest`,
};

/** One RTT draw on a path of true RTT `base` (its floor under (b)). */
function draw(network: NetworkName, base: number, random: () => number): number {
  if (network === 'jitter') return base * (1 - JITTER + 2 * JITTER * random());
  const queueing = -QUEUEING_MEAN * base * Math.log(1 - random());
  return base + queueing + (random() < SPIKE.probability ? SPIKE.ms : 0);
}

/** A server's random streams: both clients read the k-th probe's RTT (and loss) from the same place. */
class Path {
  private readonly rtts: number[] = [];
  private readonly rttRandom: () => number;
  private readonly lossRandom: () => number;
  private readonly losses: boolean[] = [];
  readonly openAfterMs: number;

  constructor(readonly network: NetworkName, readonly base: number, readonly lossRate: number, readonly seed: number) {
    this.rttRandom = seededRandom(seed);
    this.lossRandom = seededRandom(seed ^ 0x5bd1e995);
    const handshake = seededRandom(seed ^ 0x27d4eb2f);
    this.openAfterMs = Array.from({ length: CONNECT_ROUND_TRIPS }, () => draw(network, base, handshake)).reduce((a, b) => a + b, 0);
  }

  /** the same streams from their start, for the other client */
  fresh(): Path {
    return new Path(this.network, this.base, this.lossRate, this.seed);
  }

  probeRtt(k: number): number | null {
    while (this.rtts.length <= k) {
      this.rtts.push(draw(this.network, this.base, this.rttRandom));
      this.losses.push(this.lossRandom() < this.lossRate);
    }
    return this.losses[k] ? null : this.rtts[k];
  }
}

/** A discrete-event clock: timers run in time order (then creation order), time jumps from one to the next. */
class SimClock implements Clock {
  private t = 0;
  private seq = 0;
  private timers = new Map<number, { at: number; fn: () => void }>();

  now(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): number {
    const id = ++this.seq;
    this.timers.set(id, { at: this.t + Math.max(0, ms), fn });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }

  /** Runs the next timer; false when none is left or it is beyond `limit`. */
  step(limit: number): boolean {
    let nextId = -1;
    let next: { at: number; fn: () => void } | undefined;
    for (const [id, t] of this.timers) if (next === undefined || t.at < next.at || (t.at === next.at && id < nextId)) [nextId, next] = [id, t];
    if (next === undefined || next.at > limit) return false;
    this.timers.delete(nextId);
    this.t = next.at;
    next.fn();
    return true;
  }

  runUntil(limit: number, stop: () => boolean = () => false): void {
    while (!stop() && this.step(limit));
    this.t = Math.max(this.t, limit);
  }
}

interface Trial {
  /** paths in list order; `fastest` is the index of the lowest base */
  paths: Path[];
  servers: ServerEntry[];
  fastest: number;
  tieOrder: number[];
}

function makeTrial(network: NetworkName, gap: number, random: () => number): Trial {
  const base = BASE_RTT_MS.min + (BASE_RTT_MS.max - BASE_RTT_MS.min) * random();
  // rank k is (1 + gap)^k slower than the fastest; the list order is shuffled (it breaks exact ties)
  const order = Array.from({ length: CANDIDATES }, (_, k) => k).sort(() => random() - 0.5);
  const paths = order.map((k) => new Path(network, base * (1 + gap) ** k, network === 'loss' && k === 0 ? LOSS_ON_FASTEST : 0, Math.floor(random() * 2 ** 31)));
  const transportOf = (k: number): TransportKind => (network === 'mixed' && k === 1 ? 'webtransport' : 'websocket');
  const servers = order.map((k, i): ServerEntry => ({
    url: transportOf(k) === 'webtransport' ? `https://candidate-${i}.sim/` : `ws://candidate-${i}.sim/`,
    region: `r${i}`,
    transport: transportOf(k),
  }));
  const tieOrder = order.map((_, i) => i).sort(() => random() - 0.5);
  return { paths, servers, fastest: order.indexOf(0), tieOrder };
}

/** Our side: simulated transports reading the trial's paths; a dead server refuses connections. */
class SimNetwork {
  readonly transports = new Map<number, { kill(): void }>();
  readonly dead = new Set<number>();
  /** probes sent to each server so far, over all its connections: the next reads the stream on */
  private readonly probesSent = new Map<number, number>();

  constructor(private readonly clock: SimClock, private readonly trial: Trial) {}

  /** the server dies: its open connection drops (as a killed relay's socket does) */
  kill(i: number): void {
    this.dead.add(i);
    this.transports.get(i)?.kill();
  }

  readonly factory: TransportFactory = (server, _url, handlers: TransportHandlers): Transport => {
    const clock = this.clock;
    const i = this.trial.servers.findIndex((s) => s.url === server.url);
    const path = this.trial.paths[i];
    const dead = this.dead;
    let closed = false;
    if (dead.has(i)) clock.setTimeout(() => { if (!closed) handlers.onClose({ code: 1006, reason: '', error: 'connection refused' }); }, path.base);
    else clock.setTimeout(() => { if (!closed && !dead.has(i)) handlers.onOpen(); }, path.openAfterMs);
    const transport = {
      send: () => undefined,
      sendProbe: (frame: Uint8Array) => {
        const k = this.probesSent.get(i) ?? 0;
        this.probesSent.set(i, k + 1);
        const rtt = path.probeRtt(k);
        if (rtt !== null) clock.setTimeout(() => { if (!closed && !dead.has(i)) handlers.onMessage(frame); }, rtt);
      },
      close: () => { closed = true; },
      kill: () => {
        if (closed) return;
        closed = true;
        handlers.onClose({ code: 1006, reason: '' });
      },
    };
    this.transports.set(i, transport);
    return transport;
  };
}

interface Outcome {
  correct: boolean;
  decisionMs: number;
}

/**
 * Our client on one trial. The call has settled when the election is over, and for a provisional
 * election when its confirmation is over too: the decision time is the last move until then (the
 * `elected` event, or the confirmation's `switched` with reason 'better'), and it is right when the
 * server it settled on is the fastest.
 */
function runOurs(trial: Trial, random: () => number, rules?: Partial<ElectionRules>): Outcome & { early: boolean; moved: boolean } {
  const clock = new SimClock();
  const net = new SimNetwork(clock, trial);
  const manager = new ConnectionManager({ servers: trial.servers, userId: 'bench', clock, random, onlineEvents: null, transportFactory: net.factory, election: rules });
  let elected: ElectedEvent | undefined;
  let settledMs = NaN;
  let moved = false;
  manager.on('elected', (e) => {
    elected = e;
    settledMs = e.elapsedMs;
  });
  manager.on('switched', (e) => {
    if (e.reason !== 'better') return;
    settledMs = clock.now(); // the simulated clock starts at 0 with start()
    moved = true;
  });
  manager.start();
  const settled = () => elected !== undefined && (!elected.provisional || manager.diagnostics().election?.reason !== 'confirm');
  clock.runUntil(30_000, () => settled() || manager.currentState === 'lost');
  const on = manager.activeServer;
  manager.close();
  if (elected === undefined) return { correct: false, decisionMs: NaN, early: false, moved };
  return { correct: on?.url === trial.servers[trial.fastest].url, decisionMs: settledMs, early: elected.why === 'clear', moved };
}

function modelServers(trial: Trial, dead: Set<number> = new Set()): ModelServer[] {
  return trial.paths.map((p, i) => ({ transport: trial.servers[i].transport, openAt: dead.has(i) ? undefined : p.openAfterMs, probeRtt: (k) => p.probeRtt(k) }));
}

function runTheirs(trial: Trial): Outcome {
  const r = videocallElection(modelServers(trial), trial.tieOrder);
  return { correct: r.winner === trial.fastest, decisionMs: r.winner >= 0 ? r.decisionMs : NaN };
}

interface Cell {
  network: NetworkName;
  gap: number;
  /** early: decided before the timeout; moved: a provisional election's confirmation moved the call */
  ours: { accuracy: number; decision: Distribution; early: number; moved: number; withinTarget: number };
  theirs: { accuracy: number; decision: Distribution };
}

export function runCell(network: NetworkName, gap: number, trials: number, seed: number, rules?: Partial<ElectionRules>): Cell {
  const random = seededRandom(seed);
  const ours: Array<ReturnType<typeof runOurs>> = [];
  const theirs: Outcome[] = [];
  for (let k = 0; k < trials; k++) {
    const trial = makeTrial(network, gap, random);
    theirs.push(runTheirs(trial));
    // fresh paths with the same seeds: both read the same streams from the start
    ours.push(runOurs({ ...trial, paths: trial.paths.map((p) => p.fresh()) }, random, rules));
  }
  const acc = (xs: Outcome[]) => xs.filter((x) => x.correct).length / xs.length;
  return {
    network, gap,
    ours: {
      accuracy: acc(ours),
      decision: distribution(ours.map((x) => x.decisionMs).filter(Number.isFinite)),
      early: ours.filter((x) => x.early).length,
      moved: ours.filter((x) => x.moved).length,
      withinTarget: ours.filter((x) => x.decisionMs <= TARGETS.realistic.p99Ms).length / ours.length,
    },
    theirs: { accuracy: acc(theirs), decision: distribution(theirs.map((x) => x.decisionMs).filter(Number.isFinite)) },
  };
}

interface StandbyCell {
  network: NetworkName;
  gap: number;
  trials: number;
  ours: { held: number; onBest: number; toBest: Distribution; switchedToStandby: number };
  theirs: { held: number; onBest: number; toBest: Distribution };
}

/** Elect, kill the active server at KILL_AT_MS, and look again 5 s later. */
function runStandbyCell(network: NetworkName, gap: number, trials: number, seed: number): StandbyCell {
  const random = seededRandom(seed);
  let held = 0;
  let onBest = 0;
  let switchedToStandby = 0;
  const toBest: number[] = [];
  let theirsOnBest = 0;
  const theirsToBest: number[] = [];
  const bestSurvivor = (trial: Trial, dead: number) =>
    trial.paths.map((p, i) => [p.base, i] as const).filter(([, i]) => i !== dead).sort((a, b) => a[0] - b[0])[0][1];
  for (let k = 0; k < trials; k++) {
    const trial = makeTrial(network, gap, random);
    // theirs: no standby; 500 ms after the loss a new election over the survivors, streams fresh
    const first = videocallElection(modelServers(trial), trial.tieOrder);
    if (first.winner >= 0) {
      // their intervals keep the phase they started with at t = 0
      const again = videocallElection(modelServers({ ...trial, paths: trial.paths.map((p) => p.fresh()) }, new Set([first.winner])), trial.tieOrder, KILL_AT_MS + VIDEOCALL.reconnectInitialDelayMs);
      const ms = VIDEOCALL.reconnectInitialDelayMs + again.decisionMs;
      if (again.winner === bestSurvivor(trial, first.winner) && ms <= TARGETS.onBestWithinMs) {
        theirsOnBest++;
        theirsToBest.push(ms);
      }
    }
    // ours
    const ourTrial = { ...trial, paths: trial.paths.map((p) => p.fresh()) };
    const clock = new SimClock();
    const net = new SimNetwork(clock, ourTrial);
    const manager = new ConnectionManager({ servers: ourTrial.servers, userId: 'bench', clock, random, onlineEvents: null, transportFactory: net.factory });
    let changedAt = 0;
    let firstSwitch: string | undefined;
    manager.on('elected', () => (changedAt = clock.now()));
    manager.on('switched', (e) => {
      changedAt = clock.now();
      firstSwitch ??= e.reason;
    });
    manager.start();
    clock.runUntil(KILL_AT_MS);
    const active = manager.activeServer;
    if (active !== undefined) {
      if (manager.standbyServer !== undefined) held++;
      const dead = ourTrial.servers.findIndex((s) => s.url === active.url);
      net.kill(dead);
      if (firstSwitch === 'closed') switchedToStandby++;
      clock.runUntil(KILL_AT_MS + TARGETS.onBestWithinMs);
      const best = ourTrial.servers[bestSurvivor(ourTrial, dead)];
      if (manager.activeServer?.url === best.url) {
        onBest++;
        toBest.push(changedAt - KILL_AT_MS);
      }
    }
    manager.close();
  }
  return {
    network, gap, trials,
    ours: { held: held / trials, onBest: onBest / trials, toBest: distribution(toBest), switchedToStandby: switchedToStandby / trials },
    theirs: { held: 0, onBest: theirsOnBest / trials, toBest: distribution(theirsToBest) },
  };
}

const pct = fmt.pct;
const sec = (ms: number) => (Number.isFinite(ms) ? `${(ms / 1000).toFixed(2)} s` : '—');

export function benchElection(opts: ElectionOptions, log: (s: string) => void): BenchResult {
  const started = performance.now();
  const cells: Cell[] = [];
  opts.networks.forEach((network, n) => opts.gaps.forEach((gap, g) => {
    const cell = runCell(network, gap, opts.trials, opts.seed + 1000 * n + g, opts.rules);
    cells.push(cell);
    log(`election ${network} gap ${gap * 100}%: ours ${pct(cell.ours.accuracy)} p50 ${fmt.ms(cell.ours.decision.p50)} p99 ${fmt.ms(cell.ours.decision.p99)} ms; videocall ${pct(cell.theirs.accuracy)} p50 ${fmt.ms(cell.theirs.decision.p50)} p99 ${fmt.ms(cell.theirs.decision.p99)} ms`);
  }));
  const standby = (['jitter', 'realistic'] as const).map((network, n) => {
    const cell = runStandbyCell(network, 0.15, opts.standbyTrials, opts.seed + 7777 + n);
    log(`standby ${network}: held ${pct(cell.ours.held)}, on best within 5 s ${pct(cell.ours.onBest)} (videocall ${pct(cell.theirs.onBest)})`);
    return cell;
  });
  const wallMs = performance.now() - started;

  const rows: Row[] = cells.map((c) => {
    const specific = c.gap === 0.15 && (c.network === 'realistic' || c.network === 'jitter') ? TARGETS[c.network] : undefined;
    const notWorse = c.ours.accuracy >= c.theirs.accuracy && c.ours.decision.p50 <= c.theirs.decision.p50;
    const specificOk = specific === undefined || (c.ours.accuracy >= specific.accuracy && c.ours.decision.p99 <= specific.p99Ms);
    const misses = [
      ...(c.ours.accuracy < c.theirs.accuracy ? [`accuracy below videocall's`] : []),
      ...(c.ours.decision.p50 > c.theirs.decision.p50 ? [`decision p50 later than videocall's`] : []),
      ...(specific !== undefined && c.ours.accuracy < specific.accuracy ? [`accuracy ${pct(c.ours.accuracy)} < ${pct(specific.accuracy)}`] : []),
      ...(specific !== undefined && c.ours.decision.p99 > specific.p99Ms ? [`decision p99 ${sec(c.ours.decision.p99)} > ${sec(specific.p99Ms)}`] : []),
    ];
    return {
      benchmark: 'Election',
      configuration: `${NETWORKS[c.network]}, gap ${Math.round(c.gap * 100)} %, ${CANDIDATES} candidates, ${opts.trials} trials`,
      ours: `${pct(c.ours.accuracy)} right; decision p50 ${sec(c.ours.decision.p50)} / p99 ${sec(c.ours.decision.p99)}${c.ours.moved > 0 ? `; ${c.ours.moved} moved while confirming` : ''}`,
      yardstick: `videocall client (model, same streams): ${pct(c.theirs.accuracy)} right; p50 ${sec(c.theirs.decision.p50)} / p99 ${sec(c.theirs.decision.p99)}`,
      ratio: `p50 ${fmt.ratio(c.ours.decision.p50 / c.theirs.decision.p50)}`,
      target: (specific !== undefined ? `≥ ${pct(specific.accuracy)} right, p99 ≤ ${sec(specific.p99Ms)}; ` : '') + `accuracy ≥ and p50 ≤ videocall's`,
      result: notWorse && specificOk ? 'met' : 'missed',
      note: misses.length > 0 ? misses.join('; ') : undefined,
    };
  });
  for (const c of standby) {
    rows.push({
      benchmark: 'Standby',
      configuration: `${NETWORKS[c.network]}, gap 15 %, active killed at ${KILL_AT_MS / 1000} s, ${c.trials} trials`,
      ours: `standby held ${pct(c.ours.held)}; on the best survivor ${TARGETS.onBestWithinMs / 1000} s later ${pct(c.ours.onBest)}`,
      yardstick: `videocall client (model): no standby; on the best survivor ${TARGETS.onBestWithinMs / 1000} s later ${pct(c.theirs.onBest)}`,
      ratio: '—',
      target: `held ≥ ${pct(TARGETS.standbyHeld)}; on best within ${TARGETS.onBestWithinMs / 1000} s ≥ ${pct(TARGETS.onBest)}`,
      result: c.ours.held >= TARGETS.standbyHeld && c.ours.onBest >= TARGETS.onBest ? 'met' : 'missed',
      note: c.ours.held >= TARGETS.standbyHeld && c.ours.onBest >= TARGETS.onBest ? undefined : `held ${pct(c.ours.held)}, on best ${pct(c.ours.onBest)}`,
    });
  }

  const details = `
Side by side on the same random streams. Per trial: the fastest candidate's RTT (its floor) is drawn uniformly in
${BASE_RTT_MS.min}–${BASE_RTT_MS.max} ms, the second is *gap* slower, the third *gap* slower again; the list order is shuffled. Each server
has its own seeded streams: the RTT of its k-th probe, whether that probe is lost, and its handshake (${CONNECT_ROUND_TRIPS} round trips).
Both clients start at t = 0, see the same handshake times and read the k-th probe's RTT from the same stream.

- **Ours**: the real \`ConnectionManager\` (rtt-client/) with its default settings, on a discrete-event clock and simulated
  transports (no sockets). Its rule (rtt-client/election.ts, posterior.ts): the probability that each candidate's base
  RTT is the lowest, weighing noise shapes (floor + queueing, or symmetric jitter, of several scales) by how well they
  explain every candidate's samples; it decides when the leader is 99.5 % likely, or 72 % likely at one look at 1 s
  (provisionally: every candidate is measured on until the 2 s timeout, and the call moves to the one that then ranks
  first), or at the 2 s timeout. *Decision time* is \`start()\` to where the call settles: the \`elected\` event, or the
  confirmation's move (\`switched\`, reason \`better\`) when it makes one; *right* means the server it settled on is the
  fastest. *Moved* counts the calls a confirmation moved (each a switch to a warm connection, before 2 s).
- **videocall client**: a model of its election (bench/videocall-model.ts, each rule cited there against
  security-union/videocall-rs \`videocall-client/src/connection/\`): every server opened at once, probes every 200 ms while
  electing, replies folded into a plain mean of the last 10 only by the 1 Hz timer, decision at the 2 s election period
  (the UI default), extended by 1 s at most twice only when no server has 2 folded samples; a WebTransport server with
  2 samples beats any WebSocket one; no standby.

Networks: ${Object.values(NETWORKS).join('; ')}. Under (a) the RTT is the base times a uniform factor; under (b)–(d) it is the
floor plus queueing that is never negative, which is what real paths look like.

| Network | Gap | Ours right | Ours early ("clear") | Ours moved | Ours settled by 1 s | Ours p50 / p90 / p99 ms | videocall right | videocall p50 / p99 ms |
| --- | --- | --- | --- | --- | --- | --- | --- | --- |
${cells.map((c) => `| ${NETWORKS[c.network]} | ${Math.round(c.gap * 100)} % | ${pct(c.ours.accuracy)} | ${c.ours.early} / ${opts.trials} | ${c.ours.moved} | ${pct(c.ours.withinTarget)} | ${fmt.ms(c.ours.decision.p50)} / ${fmt.ms(c.ours.decision.p90)} / ${fmt.ms(c.ours.decision.p99)} | ${pct(c.theirs.accuracy)} | ${fmt.ms(c.theirs.decision.p50)} / ${fmt.ms(c.theirs.decision.p99)} |`).join('\n')}

**Standby and failover** (same simulation, gap 15 %): after the election the active server dies at ${KILL_AT_MS / 1000} s (its
connection drops and it refuses new ones). *Held*: a standby was held when it died. *On best*: ${TARGETS.onBestWithinMs / 1000} s later the call
is on the fastest surviving server. The videocall model sleeps 500 ms, then runs a new election over the survivors (on fresh
streams of the same seeds).

| Network | Ours: standby held | Ours: switched to the standby at once | Ours: on best after 5 s | Ours: loss → last move p50 / max ms | videocall: on best within 5 s | videocall: loss → elected p50 ms |
| --- | --- | --- | --- | --- | --- | --- |
${standby.map((c) => `| ${NETWORKS[c.network]} | ${pct(c.ours.held)} | ${pct(c.ours.switchedToStandby)} | ${pct(c.ours.onBest)} | ${fmt.ms(c.ours.toBest.p50)} / ${fmt.ms(c.ours.toBest.max)} | ${pct(c.theirs.onBest)} | ${fmt.ms(c.theirs.toBest.p50)} |`).join('\n')}

Seed ${opts.seed}; the whole simulation took ${(wallMs / 1000).toFixed(1)} s (wall clock) on this shared machine.
`;
  return {
    name: 'election', title: 'Election', rows, details,
    raw: { options: opts, targets: TARGETS, baseRttMs: BASE_RTT_MS, networks: NETWORKS, videocall: VIDEOCALL, cells, standby, wallMs },
  };
}
