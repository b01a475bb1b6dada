// The election decision, pure: given what each candidate has shown so far, is there a winner?
//
// "Clearly ahead" rule (the early decision):
//   The leader is the best-ranked candidate (see `rank`) and has at least `minSamples` RTT samples.
//   Let bound = leader.p90 + max(clearMarginMs, clearMarginRatio × leader.median).
//   Every other live candidate must be clearly behind that bound:
//     - with at least `minSamples` samples: its p10 is above the bound (no overlap that jitter explains);
//     - with fewer: every sample it has is above the bound AND what it has not done yet proves it is
//       slower too: its oldest unanswered probe (or its still-pending connection, which takes at least
//       one round trip) is older than the bound.
//   So a candidate that never connects or never answers stops blocking the decision as soon as it has
//   been silent longer than the leader's round trip, and at the latest at the election timeout.
// Ranking: the lower RTT estimate (mean without the slowest 20 % of samples, see stats.ts), then
// the lower median, then the lower p90, then the earlier server in the list.
// At the timeout the best-ranked candidate with at least `minSamplesAtTimeout` samples wins.
// A single sample never decides: both minimums must be at least 2.
import { median, p10, p90, rttEstimate } from './stats';
import type { TransportKind } from './transport';

export interface CandidateEvidence {
  /** position in the configured server list: the last tie-breaker */
  index: number;
  transport: TransportKind;
  /** false once its connection failed or closed: it can no longer win */
  alive: boolean;
  /** RTT samples in ms */
  samples: readonly number[];
  /** ms it has kept us waiting: age of its oldest unanswered probe, or of its pending connection */
  pendingMs: number;
}

export interface ElectionRules {
  /** samples each candidate needs before an early ("clearly ahead") decision */
  minSamples: number;
  /** samples the winner needs at the timeout */
  minSamplesAtTimeout: number;
  /** absolute part of the margin between the leader's p90 and the others' p10 */
  clearMarginMs: number;
  /** relative part of that margin, as a fraction of the leader's median */
  clearMarginRatio: number;
  /** decide with what we have after this long */
  timeoutMs: number;
  /** a transport that wins near-ties: it may only overtake a leader whose RTT estimate is within `preferenceMarginMs` */
  preferTransport?: TransportKind;
  preferenceMarginMs: number;
}

export const DEFAULT_ELECTION_RULES: ElectionRules = {
  minSamples: 3,
  minSamplesAtTimeout: 2,
  clearMarginMs: 5,
  clearMarginRatio: 0.1,
  timeoutMs: 3000,
  preferenceMarginMs: 10,
};

export type Decision =
  | { kind: 'undecided' }
  /** no live candidate, or none with enough samples at the timeout */
  | { kind: 'none' }
  | { kind: 'elected'; winner: number; runnerUp?: number; why: 'clear' | 'timeout' };

export function validateRules(rules: ElectionRules): void {
  const positive = (name: keyof ElectionRules, v: number | undefined) => {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new RangeError(`election rule ${name} must be a finite number >= 0, got ${v}`);
  };
  positive('clearMarginMs', rules.clearMarginMs);
  positive('clearMarginRatio', rules.clearMarginRatio);
  positive('timeoutMs', rules.timeoutMs);
  positive('preferenceMarginMs', rules.preferenceMarginMs);
  for (const name of ['minSamples', 'minSamplesAtTimeout'] as const) {
    if (!Number.isInteger(rules[name]) || rules[name] < 2) throw new RangeError(`election rule ${name} must be an integer >= 2 (never decide on one sample), got ${rules[name]}`);
  }
}

/** lower RTT estimate, then lower median, then lower p90, then earlier in the server list */
function compare(a: CandidateEvidence, b: CandidateEvidence): number {
  return (
    rttEstimate(a.samples) - rttEstimate(b.samples) ||
    median(a.samples) - median(b.samples) ||
    p90(a.samples) - p90(b.samples) ||
    a.index - b.index
  );
}

/**
 * Candidates best first. The lowest RTT wins whatever the transport; the preferred transport only
 * takes first place from a leader whose RTT estimate is at most `preferenceMarginMs` lower.
 */
export function rank(candidates: readonly CandidateEvidence[], rules: ElectionRules): CandidateEvidence[] {
  const sorted = candidates.filter((c) => c.samples.length > 0).sort(compare);
  const pref = rules.preferTransport;
  if (pref !== undefined && sorted.length > 1 && sorted[0].transport !== pref) {
    const leaderRtt = rttEstimate(sorted[0].samples);
    const alt = sorted.findIndex((c) => c.transport === pref && rttEstimate(c.samples) - leaderRtt <= rules.preferenceMarginMs);
    if (alt > 0) sorted.unshift(...sorted.splice(alt, 1));
  }
  return sorted;
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

export function decide(candidates: readonly CandidateEvidence[], rules: ElectionRules, elapsedMs: number): Decision {
  const alive = candidates.filter((c) => c.alive);
  if (alive.length === 0) return { kind: 'none' };
  const ranked = rank(alive, rules);
  const runnerUpOf = (winner: CandidateEvidence) => ranked.find((c) => c !== winner)?.index;

  const leader = ranked[0];
  if (leader !== undefined && leader.samples.length >= rules.minSamples) {
    const bound = clearBound(leader.samples, rules);
    const behind = alive.every((c) => {
      if (c === leader) return true;
      if (c.samples.length >= rules.minSamples) return p10(c.samples) > bound;
      return c.pendingMs > bound && c.samples.every((s) => s > bound);
    });
    if (behind) return { kind: 'elected', winner: leader.index, runnerUp: runnerUpOf(leader), why: 'clear' };
  }

  if (elapsedMs < rules.timeoutMs) return { kind: 'undecided' };
  const winner = ranked.find((c) => c.samples.length >= rules.minSamplesAtTimeout);
  if (winner === undefined) return { kind: 'none' };
  return { kind: 'elected', winner: winner.index, runnerUp: runnerUpOf(winner), why: 'timeout' };
}
