// Distributions of the benchmarks: every sample kept (a run holds at most a few million), sorted once.

export interface Distribution {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  min: number;
  max: number;
  mean: number;
}

/** Nearest-rank percentile (q in [0, 1]) of ascending values; NaN when empty. */
export function percentile(sorted: ArrayLike<number>, q: number): number {
  if (!(q >= 0 && q <= 1)) throw new RangeError(`percentile must be within [0, 1], got ${q}`);
  if (sorted.length === 0) return NaN;
  const rank = Math.max(1, Math.ceil(q * sorted.length));
  return sorted[rank - 1];
}

export function distribution(values: ArrayLike<number>): Distribution {
  const sorted = Float64Array.from(values as ArrayLike<number>).sort();
  let sum = 0;
  for (let i = 0; i < sorted.length; i++) sum += sorted[i];
  const n = sorted.length;
  return {
    count: n,
    p50: percentile(sorted, 0.5),
    p90: percentile(sorted, 0.9),
    p99: percentile(sorted, 0.99),
    min: n > 0 ? sorted[0] : NaN,
    max: n > 0 ? sorted[n - 1] : NaN,
    mean: n > 0 ? sum / n : NaN,
  };
}

export function median(values: readonly number[]): number {
  return percentile(Float64Array.from(values).sort(), 0.5);
}

/** Samples appended without reallocating per sample. */
export class Samples {
  private buf = new Float64Array(1024);
  private n = 0;

  push(v: number): void {
    if (this.n === this.buf.length) {
      const next = new Float64Array(this.buf.length * 2);
      next.set(this.buf);
      this.buf = next;
    }
    this.buf[this.n++] = v;
  }

  get length(): number {
    return this.n;
  }

  values(): Float64Array {
    return this.buf.subarray(0, this.n);
  }

  summary(): Distribution {
    return distribution(this.values());
  }
}

/** Seeded PRNG (mulberry32): the election trials are reproducible from the seed in the results. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const round = (v: number, digits = 2): number => (Number.isFinite(v) ? Math.round(v * 10 ** digits) / 10 ** digits : v);

/**
 * A latency histogram that load-generator processes can merge: log buckets 0.5 % wide from 1 µs
 * to 100 s (percentiles within 0.5 %), exact count, sum, min and max.
 */
export class Histogram {
  static readonly MIN = 0.001;
  static readonly GROWTH = 1.005;
  private static readonly LOG_GROWTH = Math.log(Histogram.GROWTH);
  static readonly BUCKETS = Math.ceil(Math.log(1e8) / Math.log(Histogram.GROWTH)) + 2;
  readonly counts: Uint32Array;
  count = 0;
  sum = 0;
  min = Infinity;
  max = -Infinity;

  constructor(counts?: Uint32Array) {
    this.counts = counts ?? new Uint32Array(Histogram.BUCKETS);
  }

  push(v: number): void {
    const b = v <= Histogram.MIN ? 0 : Math.min(Histogram.BUCKETS - 1, Math.ceil(Math.log(v / Histogram.MIN) / Histogram.LOG_GROWTH));
    this.counts[b]++;
    this.count++;
    this.sum += v;
    if (v < this.min) this.min = v;
    if (v > this.max) this.max = v;
  }

  merge(o: HistogramData): void {
    for (let i = 0; i < o.counts.length; i++) this.counts[i] += o.counts[i];
    this.count += o.count;
    this.sum += o.sum;
    this.min = Math.min(this.min, o.min);
    this.max = Math.max(this.max, o.max);
  }

  data(): HistogramData {
    return { counts: this.counts, count: this.count, sum: this.sum, min: this.min, max: this.max };
  }

  static from(d: HistogramData): Histogram {
    const h = new Histogram();
    h.merge(d);
    return h;
  }

  /** Nearest-rank percentile: the upper edge of the bucket holding it, clamped to [min, max]. */
  percentile(q: number): number {
    if (this.count === 0) return NaN;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let b = 0; b < this.counts.length; b++) {
      seen += this.counts[b];
      if (seen >= rank) return Math.min(this.max, Math.max(this.min, Histogram.MIN * Histogram.GROWTH ** b));
    }
    return this.max;
  }

  summary(): Distribution {
    return {
      count: this.count, p50: this.percentile(0.5), p90: this.percentile(0.9), p99: this.percentile(0.99),
      min: this.count > 0 ? this.min : NaN, max: this.count > 0 ? this.max : NaN, mean: this.count > 0 ? this.sum / this.count : NaN,
    };
  }
}

export interface HistogramData {
  counts: Uint32Array;
  count: number;
  sum: number;
  min: number;
  max: number;
}

/** Median and range of repeated figures. */
export interface Spread {
  median: number;
  min: number;
  max: number;
  n: number;
}

export function spread(values: readonly number[]): Spread {
  const finite = values.filter(Number.isFinite);
  if (finite.length === 0) return { median: NaN, min: NaN, max: NaN, n: 0 };
  return { median: median(finite), min: Math.min(...finite), max: Math.max(...finite), n: finite.length };
}

/**
 * A distribution-free confidence interval for the median of the population `values` were drawn from:
 * the k-th smallest and k-th largest value, for the largest k whose coverage (from the binomial
 * distribution of how many values fall below the median) is still at least `confidence`. With 5
 * values the widest interval, min to max, covers 93.75 % (1 − 2/32), under 95 %: `k` is then 0
 * and the interval is undefined (more values are needed); with 9 values the 2nd to the 8th cover 96.1 %.
 */
export function medianInterval(values: readonly number[], confidence = 0.95): { low: number; high: number; k: number; coverage: number } | undefined {
  const xs = values.filter(Number.isFinite).sort((a, b) => a - b);
  const n = xs.length;
  // P(Binomial(n, ½) ≤ j) for j = 0…n
  const cdf: number[] = [];
  let term = 0.5 ** n;
  let acc = 0;
  for (let j = 0; j <= n; j++) {
    acc += term;
    cdf.push(acc);
    term = (term * (n - j)) / (j + 1);
  }
  let best: { low: number; high: number; k: number; coverage: number } | undefined;
  for (let k = 1; 2 * k <= n; k++) {
    const coverage = 1 - 2 * cdf[k - 1];
    if (coverage < confidence) break;
    best = { low: xs[k - 1], high: xs[n - k], k, coverage };
  }
  return best;
}
