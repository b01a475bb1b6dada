import { median, p90, quantile, rttEstimate, SampleWindow } from '../../rtt-client/stats';

describe('quantiles', () => {
  test.each([
    [[5], 0.5, 5],
    [[1, 2, 3, 4], 0.5, 2.5],
    [[10, 1, 5], 0.5, 5],
    [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.9, 9.1],
    [[3, 1, 2], 0, 1],
    [[3, 1, 2], 1, 3],
  ])('quantile(%j, %d) = %d', (values, q, expected) => {
    expect(quantile(values, q)).toBeCloseTo(expected, 10);
  });

  test('empty input has no median', () => {
    expect(median([])).toBeNaN();
    expect(p90([])).toBeNaN();
  });

  test('a quantile outside [0, 1] is an error', () => {
    expect(() => quantile([1], 1.5)).toThrow(/within \[0, 1\]/);
  });

  test('does not reorder the caller\'s array', () => {
    const values = [3, 1, 2];
    median(values);
    expect(values).toEqual([3, 1, 2]);
  });
});

describe('rttEstimate', () => {
  test.each([
    { samples: [], expected: NaN },
    { samples: [40], expected: 40 },
    { samples: [10, 20, 30, 40], expected: 25 }, // fewer than 5: none dropped
    { samples: [50, 10, 30, 20, 40], expected: 25 }, // the slowest of 5 dropped, order does not matter
    { samples: [30, 30, 30, 30, 30, 30, 30, 30, 900, 1000], expected: 30 }, // two slowest of 10 dropped
  ])('$samples → $expected', ({ samples, expected }) => {
    expect(rttEstimate(samples)).toBe(expected);
  });

  test('leaves its input as it was', () => {
    const values = [3, 1, 2, 5, 4];
    rttEstimate(values);
    expect(values).toEqual([3, 1, 2, 5, 4]);
  });
});

describe('SampleWindow', () => {
  test('keeps the last N outcomes and computes loss over them', () => {
    const w = new SampleWindow(4);
    w.addSample(10);
    w.addLoss();
    w.addSample(30);
    w.addSample(20);
    expect(w.summary()).toMatchObject({ count: 3, samples: [10, 30, 20], median: 20, loss: 0.25 });
    w.addSample(40); // pushes the first sample out
    w.addSample(50); // and the loss
    expect(w.summary()).toMatchObject({ count: 4, samples: [30, 20, 40, 50], loss: 0 });
    expect(w.samples(2)).toEqual([40, 50]);
  });

  test('an empty window has no loss and no median', () => {
    const s = new SampleWindow(3).summary();
    expect(s.loss).toBe(0);
    expect(s.median).toBeNaN();
  });

  test('rejects impossible samples and sizes', () => {
    expect(() => new SampleWindow(0)).toThrow(/positive integer/);
    expect(() => new SampleWindow(3).addSample(-1)).toThrow(/non-negative/);
    expect(() => new SampleWindow(3).addSample(NaN)).toThrow(/finite/);
  });
});

test('SampleWindow.holdsFirst: true while the first outcome (the handshake) is still in the window', () => {
  const w = new SampleWindow(3);
  expect(w.holdsFirst()).toBe(false);
  w.addSample(40);
  w.addLoss();
  w.addSample(41);
  expect(w.holdsFirst()).toBe(true);
  w.addSample(42); // the first falls out
  expect(w.holdsFirst()).toBe(false);
  w.clear();
  w.addSample(50);
  expect(w.holdsFirst()).toBe(true);
});
