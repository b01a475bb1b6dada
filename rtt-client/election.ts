// The election decision, pure: given what each candidate has shown so far, is there a winner?
//
// The evidence is weighed by `posterior` (posterior.ts): the probability that each candidate's base RTT
// is the lowest, under every noise shape that explains the samples of all candidates together (a floor
// plus queueing, as on real paths, or symmetric jitter), counting unanswered probes and pending
// connections as "at least this slow". A candidate's first sample is its handshake (see candidate.ts),
// so evidence starts at open.
//
// Early decision: the best-ranked candidate, once it has `minSamples` samples, wins as soon as it is the
// fastest with probability `confidence` (99.5 %). At one look at `checkpointMs` (1 s) a lower bar,
// `checkpointConfidence` (72 %), is enough; after that look the bar is 99.5 % again until the timeout.
// Why one look with a lower bar: under queueing noise the samples of 1 s almost always make one candidate
// near certain, or close to it when a spike hit the handshake; under wide symmetric jitter they often do
// not, and the shape weights themselves are still uncertain, so a leader at 72 % is right far more often
// than 72 %. Looking at that bar continuously would let every marginal case through at its first chance.
// A decision on that lower bar is provisional: the call starts there, and the manager (manager.ts) keeps
// measuring every candidate until the timeout and moves the call to one that then ranks first. So the bar
// sets how soon most calls start, not where they end up: the few wrong starts are corrected by the time
// the videocall client would first have decided (bench/analysis.md has the measured frontier).
// At the timeout the best-ranked candidate with at least `minSamplesAtTimeout` samples wins.
// Ranking: the likeliest fastest first, then the others by estimated RTT (the next fastest is the standby),
// then the earlier server in the list; a preferred transport takes first place from a leader whose
// estimated RTT is at most `preferenceMarginMs` lower.
// A single sample never decides: both minimums must be at least 2.
import { posterior } from './posterior';
import { median, p90 } from './stats';
import type { TransportKind } from './transport';

export interface CandidateEvidence {
  /** position in the configured server list: the last tie-breaker */
  index: number;
  transport: TransportKind;
  /** false once its connection failed or closed: it can no longer win */
  alive: boolean;
  /** RTT samples in ms, oldest first */
  samples: readonly number[];
  /** samples[0] is the handshake's time over its round trips (a mean of that many; 0 or absent: it is not) */
  handshakeRounds?: number;
  /** ms it has kept us waiting: age of its oldest unanswered probe, or of its pending connection */
  pendingMs: number;
  /** its connection is not open yet (pendingMs is then how long it has been opening) */
  connecting?: boolean;
  /** round trips opening its connection takes (how much a pending connection says about its RTT) */
  connectRounds?: number;
  /** ages of its unanswered probes (each a lower bound of that probe's RTT) */
  pendingAges?: readonly number[];
}

export interface ElectionRules {
  /** samples the leader needs before an early decision */
  minSamples: number;
  /** samples the winner needs at the timeout */
  minSamplesAtTimeout: number;
  /** probability of being the fastest that decides early, at any look */
  confidence: number;
  /** when the one look with the lower bar `checkpointConfidence` is taken, from the start */
  checkpointMs: number;
  /** probability of being the fastest that decides at the checkpoint look: a provisional decision when below `confidence` */
  checkpointConfidence: number;
  /** a re-election's winner replaces a working connection only if its p90 is below the current RTT by this (absolute part) */
  clearMarginMs: number;
  /** relative part of that margin, as a fraction of the winner's median */
  clearMarginRatio: number;
  /** decide with what we have after this long */
  timeoutMs: number;
  /** a transport that wins near-ties: it may only overtake a leader whose estimated RTT is within `preferenceMarginMs` */
  preferTransport?: TransportKind;
  preferenceMarginMs: number;
}

export const DEFAULT_ELECTION_RULES: ElectionRules = {
  minSamples: 2,
  minSamplesAtTimeout: 2,
  // with 200 ms probes these meet both election targets (bench/analysis.md has the frontier): decide by
  // 1 s under queueing noise, and, with the provisional decisions confirmed by the timeout, stay ≥ 99 %
  // right under wide symmetric jitter
  confidence: 0.995,
  checkpointMs: 1000,
  checkpointConfidence: 0.72,
  clearMarginMs: 5,
  clearMarginRatio: 0.1,
  // the videocall client decides at its 2 s election period: never later than it
  timeoutMs: 2000,
  preferenceMarginMs: 10,
};

export type Decision =
  | { kind: 'undecided' }
  /** no live candidate, or none with enough samples at the timeout */
  | { kind: 'none' }
  /** provisional: decided at the checkpoint on a lead below `confidence`, to be confirmed by the timeout */
  | { kind: 'elected'; winner: number; runnerUp?: number; why: 'clear' | 'timeout'; provisional: boolean };

export function validateRules(rules: ElectionRules): void {
  const positive = (name: keyof ElectionRules, v: number | undefined) => {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new RangeError(`election rule ${name} must be a finite number >= 0, got ${v}`);
  };
  positive('clearMarginMs', rules.clearMarginMs);
  positive('clearMarginRatio', rules.clearMarginRatio);
  positive('checkpointMs', rules.checkpointMs);
  positive('timeoutMs', rules.timeoutMs);
  positive('preferenceMarginMs', rules.preferenceMarginMs);
  for (const name of ['confidence', 'checkpointConfidence'] as const) {
    const v = rules[name];
    // at most half would let a coin toss between two candidates decide
    if (typeof v !== 'number' || !(v > 0.5 && v < 1)) throw new RangeError(`election rule ${name} must be a probability above 0.5 and below 1, got ${v}`);
  }
  for (const name of ['minSamples', 'minSamplesAtTimeout'] as const) {
    if (!Number.isInteger(rules[name]) || rules[name] < 2) throw new RangeError(`election rule ${name} must be an integer >= 2 (never decide on one sample), got ${rules[name]}`);
  }
}

export interface RankedCandidate {
  candidate: CandidateEvidence;
  /** probability its RTT is the lowest of the live candidates */
  fastest: number;
  /** its estimated base RTT, ms */
  rttMs: number;
}

/**
 * Live candidates best first: the likeliest fastest, then the others by estimated RTT, then the earlier
 * server in the list. The preferred transport only takes first place from a leader whose estimated RTT is at most
 * `preferenceMarginMs` lower.
 */
export function rank(candidates: readonly CandidateEvidence[], rules: ElectionRules): RankedCandidate[] {
  const alive = candidates.filter((c) => c.alive);
  const p = posterior(alive.map((c) => ({
    samples: c.connecting ? [] : c.samples,
    handshakeRounds: c.handshakeRounds,
    connectingForMs: c.connecting ? c.pendingMs : undefined,
    connectRounds: c.connectRounds,
    pendingAges: c.pendingAges,
  })));
  // the leader is the likeliest fastest; the others follow by estimated RTT (next fastest first: the standby)
  const ranked = alive
    .map((candidate, i) => ({ candidate, fastest: p.paths[i].fastest, rttMs: p.paths[i].baseMs }))
    .sort((a, b) => a.rttMs - b.rttMs || a.candidate.index - b.candidate.index);
  const likeliest = ranked.reduce((best, r) => (r.fastest > best.fastest ? r : best), ranked[0]);
  ranked.unshift(...ranked.splice(ranked.indexOf(likeliest), 1));
  const pref = rules.preferTransport;
  if (pref !== undefined && ranked.length > 1 && ranked[0].candidate.transport !== pref) {
    const leaderRtt = ranked[0].rttMs;
    const alt = ranked.findIndex((r) => r.candidate.transport === pref && r.candidate.samples.length > 0 && r.rttMs - leaderRtt <= rules.preferenceMarginMs);
    if (alt > 0) ranked.unshift(...ranked.splice(alt, 1));
  }
  return ranked;
}

/** Upper edge of what the leader's jitter explains. */
export function clearBound(leader: readonly number[], rules: ElectionRules): number {
  return p90(leader) + Math.max(rules.clearMarginMs, rules.clearMarginRatio * median(leader));
}

/**
 * True when `challenger` has proven itself better than an active connection now delivering `currentMs`
 * (the median of its recent samples): enough samples, and its p90 plus the margin below that.
 */
export function provenBetter(challenger: readonly number[], currentMs: number, rules: ElectionRules): boolean {
  return challenger.length >= rules.minSamples && clearBound(challenger, rules) < currentMs;
}

/**
 * `look`: 'checkpoint' when this is the one look at `checkpointMs`, where `checkpointConfidence` is enough;
 * at every other look an early decision needs `confidence`.
 */
export function decide(candidates: readonly CandidateEvidence[], rules: ElectionRules, elapsedMs: number, look: 'checkpoint' | 'any' = 'any'): Decision {
  if (!candidates.some((c) => c.alive)) return { kind: 'none' };
  const ranked = rank(candidates, rules);
  // a runner-up must have answered a probe: a handshake alone does not make a standby
  const runnerUpOf = (winner: RankedCandidate) => ranked.find((r) => r !== winner && r.candidate.samples.length >= rules.minSamplesAtTimeout)?.candidate.index;

  const leader = ranked[0];
  if (leader.candidate.samples.length >= rules.minSamples) {
    // with a preferred transport first, its lead counts together with the one it overtook
    const overtaken = ranked.find((r) => r !== leader && r.fastest > leader.fastest);
    const p = leader.fastest + (overtaken?.fastest ?? 0);
    if (p >= rules.confidence || (look === 'checkpoint' && p >= rules.checkpointConfidence)) {
      return { kind: 'elected', winner: leader.candidate.index, runnerUp: runnerUpOf(leader), why: 'clear', provisional: p < rules.confidence };
    }
  }

  if (elapsedMs < rules.timeoutMs) return { kind: 'undecided' };
  const winner = ranked.find((r) => r.candidate.samples.length >= rules.minSamplesAtTimeout);
  if (winner === undefined) return { kind: 'none' };
  return { kind: 'elected', winner: winner.candidate.index, runnerUp: runnerUpOf(winner), why: 'timeout', provisional: false };
}
