// The merged latency histogram of the load-generator processes gives the same percentiles as the
// exact distribution, within its bucket width, and merging is the same as one histogram of everything.
import { Histogram, distribution, seededRandom, spread } from '../../bench/stats';

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
