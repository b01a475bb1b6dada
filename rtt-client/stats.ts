// Pure statistics over a candidate's recent probes: no I/O, no clock.

/** Linear-interpolated quantile (q in [0, 1]) of the values; NaN when there are none. */
export function quantile(values: readonly number[], q: number): number {
  if (!(q >= 0 && q <= 1)) throw new RangeError(`quantile must be within [0, 1], got ${q}`);
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

export const median = (values: readonly number[]): number => quantile(values, 0.5);
export const p90 = (values: readonly number[]): number => quantile(values, 0.9);
/** The low end of a candidate's spread (diagnostics). */
export const p10 = (values: readonly number[]): number => quantile(values, 0.1);

/** Share of the slowest samples `rttEstimate` leaves out. */
export const SLOWEST_SHARE_DROPPED = 0.2;

/**
 * A candidate's RTT without its spikes: the mean of its samples without the slowest 20 %
 * (rounded down, so fewer than 5 samples keep them all). Spikes on a path are slow outliers and
 * drop out as they would from a median, but every other sample counts, so under jitter it tells
 * two close servers apart with fewer samples than the median. NaN when there are none.
 */
export function rttEstimate(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const kept = [...values].sort((a, b) => a - b).slice(0, values.length - Math.floor(values.length * SLOWEST_SHARE_DROPPED));
  return kept.reduce((sum, v) => sum + v, 0) / kept.length;
}

export interface WindowSummary {
  /** answered probes in the window */
  count: number;
  /** RTTs of the answered probes in the window, oldest first (ms) */
  samples: number[];
  median: number;
  p90: number;
  p10: number;
  /** lost / (answered + lost) over the window; 0 when nothing was resolved yet */
  loss: number;
}

/**
 * The last `size` resolved probes of one candidate: each is an RTT (answered) or a loss
 * (unanswered within the probe timeout). Older outcomes fall out, so a recovered link recovers.
 */
export class SampleWindow {
  private readonly outcomes: Array<number | null> = [];
  /** outcomes added since the window was made or cleared */
  private added = 0;

  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`window size must be a positive integer, got ${size}`);
  }

  addSample(rttMs: number): void {
    if (!Number.isFinite(rttMs) || rttMs < 0) throw new RangeError(`RTT sample must be a finite non-negative number, got ${rttMs}`);
    this.push(rttMs);
  }

  addLoss(): void {
    this.push(null);
  }

  clear(): void {
    this.outcomes.length = 0;
    this.added = 0;
  }

  /** True while the first outcome added (since the last clear) is still in the window. */
  holdsFirst(): boolean {
    return this.added > 0 && this.added <= this.size;
  }

  /** RTTs of the last `n` answered probes (all of them when n is omitted), oldest first. */
  samples(n?: number): number[] {
    const rtts = this.outcomes.filter((o): o is number => o !== null);
    return n === undefined ? rtts : rtts.slice(-n);
  }

  summary(): WindowSummary {
    const samples = this.samples();
    const lost = this.outcomes.length - samples.length;
    return {
      count: samples.length,
      samples,
      median: median(samples),
      p90: p90(samples),
      p10: p10(samples),
      loss: this.outcomes.length === 0 ? 0 : lost / this.outcomes.length,
    };
  }

  private push(outcome: number | null): void {
    this.added++;
    this.outcomes.push(outcome);
    if (this.outcomes.length > this.size) this.outcomes.shift();
  }
}
