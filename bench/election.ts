// 3a. Election accuracy and decision time: the rtt-client ConnectionManager itself, on a simulated
// clock and simulated transports (no I/O), three candidates with ±20 % jitter per probe.
import { ConnectionManager, DEFAULT_ELECTION_RULES, type Clock, type ElectedEvent, type Transport, type TransportFactory, type TransportHandlers } from '../rtt-client';
import { fmt, type BenchResult, type Row } from './report';
import { distribution, seededRandom } from './stats';

export interface ElectionOptions {
  trials: number;
  /** RTT gap between the fastest and the second candidate (the third is as far behind the second) */
  gaps: number[];
  jitter: number;
  seed: number;
}

export const ELECTION_FULL: ElectionOptions = { trials: 200, gaps: [0.05, 0.15, 0.5], jitter: 0.2, seed: 20261124 };
export const ELECTION_QUICK: ElectionOptions = { ...ELECTION_FULL, trials: 20 };

export const TARGET_ACCURACY_AT_15 = 0.99;
export const TARGET_DECISION_MS = 1000;
/** The videocall client's published timings: 200 ms probes, 2 s election, up to two 1 s extensions. */
export const VIDEOCALL_REFERENCE = { probeIntervalMs: 200, electionMs: 2000, extensions: 2, extensionMs: 1000 } as const;
const VIDEOCALL_DECISION = `${VIDEOCALL_REFERENCE.electionMs / 1000}–${(VIDEOCALL_REFERENCE.electionMs + VIDEOCALL_REFERENCE.extensions * VIDEOCALL_REFERENCE.extensionMs) / 1000} s`;
/** Base RTT of the fastest candidate, drawn per trial (ms). */
const BASE_RTT_MS = { min: 20, max: 200 };
/** Opening a WebSocket costs a TCP and an HTTP-upgrade round trip. */
const CONNECT_ROUND_TRIPS = 2;

/** A discrete-event clock: timers run in time order, time jumps from one to the next. */
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
}

/** A server at a true RTT; every exchange takes that RTT times a uniform factor in [1 − jitter, 1 + jitter]. */
function simulatedNetwork(clock: SimClock, trueRtt: Map<string, number>, jitter: number, random: () => number): TransportFactory {
  const sample = (url: string) => trueRtt.get(url)! * (1 - jitter + 2 * jitter * random());
  return (server, _url, handlers: TransportHandlers): Transport => {
    let closed = false;
    const connectMs = Array.from({ length: CONNECT_ROUND_TRIPS }, () => sample(server.url)).reduce((a, b) => a + b, 0);
    clock.setTimeout(() => { if (!closed) handlers.onOpen(); }, connectMs);
    return {
      send: () => undefined,
      sendProbe: (frame) => { clock.setTimeout(() => { if (!closed) handlers.onMessage(frame); }, sample(server.url)); },
      close: () => { closed = true; },
    };
  };
}

interface Trial {
  gap: number;
  baseMs: number;
  correct: boolean;
  decisionMs: number;
  why: ElectedEvent['why'] | 'none';
}

function runTrial(gap: number, jitter: number, random: () => number): Trial {
  const clock = new SimClock();
  const baseMs = BASE_RTT_MS.min + (BASE_RTT_MS.max - BASE_RTT_MS.min) * random();
  const rtts = [baseMs, baseMs * (1 + gap), baseMs * (1 + gap) ** 2];
  // the fastest is not always first in the list (list order breaks exact ties)
  const order = [0, 1, 2].sort(() => random() - 0.5);
  const servers = order.map((k) => ({ url: `ws://candidate-${k}.sim`, region: `r${k}`, transport: 'websocket' as const }));
  const trueRtt = new Map(order.map((k) => [`ws://candidate-${k}.sim`, rtts[k]]));
  const manager = new ConnectionManager({
    servers, userId: 'bench', clock, random, onlineEvents: null,
    transportFactory: simulatedNetwork(clock, trueRtt, jitter, random),
  });
  let elected: ElectedEvent | undefined;
  manager.on('elected', (e) => (elected = e));
  manager.start();
  const limit = 30_000;
  while (elected === undefined && manager.currentState !== 'lost' && clock.step(limit));
  manager.close();
  if (elected === undefined) return { gap, baseMs, correct: false, decisionMs: NaN, why: 'none' };
  return { gap, baseMs, correct: elected.server.url === 'ws://candidate-0.sim', decisionMs: elected.elapsedMs, why: elected.why };
}

export function benchElection(opts: ElectionOptions, log: (s: string) => void): BenchResult {
  const random = seededRandom(opts.seed);
  const byGap = opts.gaps.map((gap) => {
    const trials = Array.from({ length: opts.trials }, () => runTrial(gap, opts.jitter, random));
    const accuracy = trials.filter((t) => t.correct).length / trials.length;
    const decision = distribution(trials.map((t) => t.decisionMs).filter(Number.isFinite));
    const clear = trials.filter((t) => t.why === 'clear').length;
    log(`election gap ${gap * 100}%: ${(accuracy * 100).toFixed(1)} % correct, decision p50 ${fmt.ms(decision.p50)} p99 ${fmt.ms(decision.p99)} ms, ${clear} clear`);
    return { gap, accuracy, decision, clear, trials };
  });
  const rows: Row[] = byGap.map((g) => {
    const at15 = Math.abs(g.gap - 0.15) < 1e-9;
    const accOk = g.accuracy >= TARGET_ACCURACY_AT_15;
    const timeOk = g.decision.p99 <= TARGET_DECISION_MS;
    return {
      benchmark: 'Election',
      configuration: `3 candidates, gap ${Math.round(g.gap * 100)} %, ±${opts.jitter * 100} % jitter, ${opts.trials} trials`,
      ours: `${fmt.pct(g.accuracy)} fastest wins; decision p50 ${fmt.ms(g.decision.p50 / 1000)} / p99 ${fmt.ms(g.decision.p99 / 1000)} s (${g.clear} of ${opts.trials} early)`,
      yardstick: `videocall client: decision ${VIDEOCALL_DECISION}`,
      ratio: `p50 ${fmt.ratio(g.decision.p50 / VIDEOCALL_REFERENCE.electionMs)} videocall's ${VIDEOCALL_REFERENCE.electionMs / 1000} s`,
      target: at15 ? `≥ ${TARGET_ACCURACY_AT_15 * 100} % and p99 decision ≤ ${TARGET_DECISION_MS / 1000} s` : '—',
      result: at15 ? (accOk && timeOk ? 'met' : 'missed') : 'no target',
      note: at15 && !(accOk && timeOk)
        ? [accOk ? `accuracy ${fmt.pct(g.accuracy)} met, decision time missed` : `accuracy ${fmt.pct(g.accuracy)}`, !timeOk ? `with a ${Math.round(g.gap * 100)} % gap under ±${opts.jitter * 100} % jitter the RTT spreads overlap, so the "clearly ahead" rule decided early in only ${g.clear} of ${opts.trials} trials; the rest waited for the ${DEFAULT_ELECTION_RULES.timeoutMs / 1000} s timeout and were decided by the RTT estimate (mean without the slowest 20 %)` : ''].filter(Boolean).join('; ')
        : undefined,
    };
  });
  const details = `
The real \`ConnectionManager\` (rtt-client/manager.ts) with its default settings (probes every 200 ms, 3 s election
timeout, "clearly ahead" early decision), driven by a discrete-event clock and simulated transports: no sockets, decision
times in simulated milliseconds. Per trial: the fastest candidate's RTT is drawn uniformly in ${BASE_RTT_MS.min}–${BASE_RTT_MS.max} ms,
the second is *gap* slower, the third *gap* slower again; every probe and connection round trip is the true RTT times a
uniform factor in [${1 - opts.jitter}, ${1 + opts.jitter}]; connecting takes ${CONNECT_ROUND_TRIPS} round trips; the list order is shuffled.
Decision time is from \`start()\` to the \`elected\` event. Seed ${opts.seed}.
Reference: the videocall client's published timings — ${VIDEOCALL_REFERENCE.probeIntervalMs} ms probes, a ${VIDEOCALL_REFERENCE.electionMs / 1000} s election,
up to ${VIDEOCALL_REFERENCE.extensions} extensions of ${VIDEOCALL_REFERENCE.extensionMs / 1000} s: a decision after ${VIDEOCALL_DECISION}
(its accuracy is not published, so only its timing is compared).

| Gap | Fastest wins | Decided early ("clear") | Decision p50 ms | p90 ms | p99 ms | max ms |
| --- | --- | --- | --- | --- | --- | --- |
${byGap.map((g) => `| ${Math.round(g.gap * 100)} % | ${fmt.pct(g.accuracy)} | ${g.clear} / ${opts.trials} | ${fmt.ms(g.decision.p50)} | ${fmt.ms(g.decision.p90)} | ${fmt.ms(g.decision.p99)} | ${fmt.ms(g.decision.max)} |`).join('\n')}
`;
  return {
    name: 'election', title: 'Election', rows, details,
    raw: { options: opts, reference: VIDEOCALL_REFERENCE, baseRttMs: BASE_RTT_MS, byGap: byGap.map(({ trials, ...g }) => ({ ...g, trials: trials.map((t) => ({ ...t })) })) },
  };
}
