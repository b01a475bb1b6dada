// The merged latency histogram of the load-generator processes gives the same percentiles as the
// exact distribution, within its bucket width, and merging is the same as one histogram of everything.
import { Histogram, distribution, medianInterval, seededRandom, spread } from '../../bench/stats';

test('percentiles within 0.5 % of the exact ones, min/max/mean exact', () => {
  const rnd = seededRandom(12);
  const values = Array.from({ length: 20_000 }, () => 0.05 + rnd() ** 3 * 400);
  const h = new Histogram();
  for (const v of values) h.push(v);
  const exact = distribution(values);
  const got = h.summary();
  for (const q of ['p50', 'p90', 'p99'] as const) {
    expect(Math.abs(got[q] - exact[q]) / exact[q]).toBeLessThanOrEqual(Histogram.GROWTH - 1);
  }
  expect(got.min).toBe(exact.min);
  expect(got.max).toBe(exact.max);
  expect(got.mean).toBeCloseTo(exact.mean, 9);
  expect(got.count).toBe(values.length);
});

test('merging the histograms of several processes equals one histogram of all samples', () => {
  const rnd = seededRandom(7);
  const parts = [new Histogram(), new Histogram(), new Histogram()];
  const all = new Histogram();
  for (let i = 0; i < 9_000; i++) {
    const v = rnd() * 50;
    parts[i % 3].push(v);
    all.push(v);
  }
  const merged = new Histogram();
  for (const p of parts) merged.merge(p.data());
  expect(merged.summary()).toEqual(all.summary());
  expect(new Histogram().summary().count).toBe(0);
  expect(Number.isNaN(new Histogram().percentile(0.5))).toBe(true);
});

test('spread: median and range of the finite figures', () => {
  expect(spread([3, NaN, 1, 2])).toEqual({ median: 2, min: 1, max: 3, n: 3 });
  expect(spread([NaN]).n).toBe(0);
});

describe('medianInterval: a distribution-free confidence interval for the median', () => {
  test('the order statistics whose binomial coverage is still at least the confidence', () => {
    const nine = [5, 1, 9, 3, 7, 2, 8, 4, 6];
    expect(medianInterval(nine)).toEqual({ low: 2, high: 8, k: 2, coverage: 1 - (2 * 10) / 512 });
    // 20 values: P(Binomial(20, ½) ≤ 5) = 21700 / 2^20 ≤ 2.5 %, ≤ 6 is over it
    const twenty = Array.from({ length: 20 }, (_, i) => i + 1);
    const i20 = medianInterval(twenty)!;
    expect([i20.low, i20.high, i20.k]).toEqual([6, 15, 6]);
    expect(i20.coverage).toBeCloseTo(1 - (2 * 21700) / 2 ** 20, 12);
  });

  test('five values cannot give 95 %: min to max covers 93.75 %', () => {
    expect(medianInterval([1, 2, 3, 4, 5])).toBeUndefined();
    expect(medianInterval([1, 2, 3, 4, 5], 0.9)).toEqual({ low: 1, high: 5, k: 1, coverage: 0.9375 });
  });

  test('non-finite values are left out', () => {
    expect(medianInterval([NaN, 5, 1, 9, 3, 7, 2, 8, 4, 6, Infinity])).toEqual(medianInterval([5, 1, 9, 3, 7, 2, 8, 4, 6]));
  });

  test('it covers the true median as often as it says (skewed samples, 4,000 draws of 9)', () => {
    const random = seededRandom(7);
    const trueMedian = Math.log(2); // exponential with mean 1
    let covered = 0;
    const trials = 4000;
    for (let t = 0; t < trials; t++) {
      const xs = Array.from({ length: 9 }, () => -Math.log(1 - random()));
      const ci = medianInterval(xs)!;
      if (ci.low <= trueMedian && trueMedian <= ci.high) covered++;
    }
    expect(covered / trials).toBeGreaterThan(0.95);
    expect(covered / trials).toBeLessThan(0.972);
  });
});
