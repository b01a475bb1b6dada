// The election decision, pure: given what each candidate has shown so far, is there a winner?
//
// An RTT sample is a propagation floor plus queueing that is never negative: a path is never faster
// than its floor, and its samples pile up just above it (with rare spikes far above). So the early
// ("clear") decision is a sequential test on the lowest samples, which under that model need far fewer
// samples than any mean; and because real noise can also look like symmetric jitter, where the
// minimum alone misleads, it must be confirmed by the ranking RTT (see `clearlyBehind`).
// A candidate's first sample is its handshake (see candidate.ts), so evidence starts at open.
//
// "Clearly ahead" rule (the early decision):
//   The leader is the best-ranked candidate (see `rank`) and has at least `minSamples` RTT samples;
//   its unanswered probes older than its median count as samples of their age (see `clearlyBehind`).
//   Every other live candidate is clearly behind it:
//     - with at least `minSamples` samples: floors apart. d = its minimum − the leader's minimum must be
//       above max(clearMarginMs, clearMarginRatio × the leader's minimum), its ranking RTT above the
//       leader's, and d must be large against BOTH candidates' own spread s = trimmed mean − minimum:
//       n × d / s ≥ floorConfidence for each of them (with n samples of exponential-like queueing, a
//       minimum lies more than d above its floor with probability about e^(−n·d/s)). Requiring it of
//       both, not only of the rival, is what keeps symmetric jitter (whose minimum scatters far more
//       than that bound says) from deciding early on a lucky low sample;
//     - with fewer: every sample it has is above the leader's bound (p90 + margin) AND what it has not
//       done yet proves it is slower too: its oldest unanswered probe is older than twice that bound,
//       or its still-pending connection (two round trips at least) older than three times it, plus
//       `silenceGraceMs` either way (a queueing spike must not make the faster server look absent).
//   So a candidate that never connects or never answers stops blocking the decision soon, and at the
//   latest at the election timeout.
// Ranking: the lower ranking RTT (halfway between the minimum and the mean without the slowest 20 %,
// see stats.ts), then the lower median, then the lower p90, then the earlier server in the list.
// At the timeout the best-ranked candidate with at least `minSamplesAtTimeout` samples wins.
// A single sample never decides: both minimums must be at least 2.
import { median, p90, rankingRtt, rttEstimate } from './stats';
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
  /** its connection is not open yet (so pendingMs spans at least two round trips) */
  connecting?: boolean;
  /** ages of its unanswered probes (each a lower bound of that probe's RTT) */
  pendingAges?: readonly number[];
}

export interface ElectionRules {
  /** samples each candidate needs before an early ("clearly ahead") decision */
  minSamples: number;
  /** samples the winner needs at the timeout */
  minSamplesAtTimeout: number;
  /** smallest gap between two candidates' minimums that decides early (absolute part) */
  clearMarginMs: number;
  /** relative part of that gap, as a fraction of the leader's minimum */
  clearMarginRatio: number;
  /** how many times its own spread the floors must be apart, per sample (see `clearlyBehind`) */
  floorConfidence: number;
  /** added to how long a candidate with too few samples must have kept us waiting to count as slower */
  silenceGraceMs: number;
  /** decide with what we have after this long */
  timeoutMs: number;
  /** a transport that wins near-ties: it may only overtake a leader whose ranking RTT is within `preferenceMarginMs` */
  preferTransport?: TransportKind;
  preferenceMarginMs: number;
}

export const DEFAULT_ELECTION_RULES: ElectionRules = {
  minSamples: 3,
  minSamplesAtTimeout: 2,
  // main's margins: the floor confidence, not a thinner margin, is what lets (b) decide early
  clearMarginMs: 5,
  clearMarginRatio: 0.1,
  // the lowest that keeps symmetric jitter at a 15 % gap ≥ 99 % right with 200 ms probes (bench/analysis.md)
  floorConfidence: 8,
  silenceGraceMs: 250,
  // the videocall client decides at its 2 s election period: never later than it
  timeoutMs: 2000,
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
  positive('floorConfidence', rules.floorConfidence);
  positive('silenceGraceMs', rules.silenceGraceMs);
  positive('timeoutMs', rules.timeoutMs);
  positive('preferenceMarginMs', rules.preferenceMarginMs);
  for (const name of ['minSamples', 'minSamplesAtTimeout'] as const) {
    if (!Number.isInteger(rules[name]) || rules[name] < 2) throw new RangeError(`election rule ${name} must be an integer >= 2 (never decide on one sample), got ${rules[name]}`);
  }
}

/** lower ranking RTT, then lower median, then lower p90, then earlier in the server list */
function compare(a: CandidateEvidence, b: CandidateEvidence): number {
  return (
    rankingRtt(a.samples) - rankingRtt(b.samples) ||
    median(a.samples) - median(b.samples) ||
    p90(a.samples) - p90(b.samples) ||
    a.index - b.index
  );
}

/**
 * Candidates best first. The lowest RTT wins whatever the transport; the preferred transport only
 * takes first place from a leader whose ranking RTT is at most `preferenceMarginMs` lower.
 */
export function rank(candidates: readonly CandidateEvidence[], rules: ElectionRules): CandidateEvidence[] {
  const sorted = candidates.filter((c) => c.samples.length > 0).sort(compare);
  const pref = rules.preferTransport;
  if (pref !== undefined && sorted.length > 1 && sorted[0].transport !== pref) {
    const leaderRtt = rankingRtt(sorted[0].samples);
    const alt = sorted.findIndex((c) => c.transport === pref && rankingRtt(c.samples) - leaderRtt <= rules.preferenceMarginMs);
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

/** a candidate's spread above its lowest sample: the scale of its queueing */
function spread(samples: readonly number[]): number {
  return rttEstimate(samples) - Math.min(...samples);
}

/** The sequential floor test (see the header) of `rival` against `leader`. */
export function clearlyBehind(leader: CandidateEvidence, rival: CandidateEvidence, rules: ElectionRules): boolean {
  const lead = leader.samples;
  if (rival.samples.length < rules.minSamples) {
    const bound = clearBound(lead, rules);
    // a queueing spike (hundreds of ms on real paths) must not make a faster server look absent
    const waited = (rival.connecting ? 3 * bound : 2 * bound) + rules.silenceGraceMs;
    return rival.pendingMs > waited && rival.samples.every((s) => s > bound);
  }
  const leaderMin = Math.min(...lead);
  const d = Math.min(...rival.samples) - leaderMin;
  if (!(d > Math.max(rules.clearMarginMs, rules.clearMarginRatio * leaderMin))) return false;
  // Probes are pipelined, so a path's fast replies arrive before its slow ones: an unanswered probe
  // of the leader older than its median is a slow sample still to come. Counting its age (a lower
  // bound of its RTT) only makes the leader look slower and less steady, never faster.
  // A probe unanswered for much longer than the path's bound is presumed lost: loss is not slowness.
  const middle = median(lead);
  const lostAfter = 2 * clearBound(lead, rules) + rules.silenceGraceMs;
  const leaderEvidence = [...lead, ...(leader.pendingAges ?? []).filter((age) => age > middle && age <= lostAfter)];
  if (!(rankingRtt(rival.samples) > rankingRtt(leaderEvidence))) return false;
  // zero spread (identical samples) makes the ratio infinite: a steady path is its floor
  return (
    (rival.samples.length * d) / spread(rival.samples) >= rules.floorConfidence &&
    (leaderEvidence.length * d) / spread(leaderEvidence) >= rules.floorConfidence
  );
}

export function decide(candidates: readonly CandidateEvidence[], rules: ElectionRules, elapsedMs: number): Decision {
  const alive = candidates.filter((c) => c.alive);
  if (alive.length === 0) return { kind: 'none' };
  const ranked = rank(alive, rules);
  // a runner-up must have answered a probe: a handshake alone does not make a standby
  const runnerUpOf = (winner: CandidateEvidence) => ranked.find((c) => c !== winner && c.samples.length >= rules.minSamplesAtTimeout)?.index;

  const leader = ranked[0];
  if (leader !== undefined && leader.samples.length >= rules.minSamples) {
    if (alive.every((c) => c === leader || clearlyBehind(leader, c, rules))) {
      return { kind: 'elected', winner: leader.index, runnerUp: runnerUpOf(leader), why: 'clear' };
    }
  }

  if (elapsedMs < rules.timeoutMs) return { kind: 'undecided' };
  const winner = ranked.find((c) => c.samples.length >= rules.minSamplesAtTimeout);
  if (winner === undefined) return { kind: 'none' };
  return { kind: 'elected', winner: winner.index, runnerUp: runnerUpOf(winner), why: 'timeout' };
}
