import { ReconnectPolicy } from '../../rtt-client/reconnect';

describe('ReconnectPolicy.nextDelay', () => {
  test.each([
    { attempt: 1, random: 0, expected: 250 },
    { attempt: 1, random: 0.5, expected: 375 },
    { attempt: 2, random: 0.5, expected: 750 },
    { attempt: 4, random: 0.5, expected: 3000 },
    { attempt: 7, random: 0, expected: 15000 }, // 500 × 2^6 = 32 s, capped at 30 s, lower half
    { attempt: 1000, random: 0.999, expected: 15000 + 15000 * 0.999 }, // no overflow far out
  ])('attempt $attempt, random $random → $expected ms', ({ attempt, random, expected }) => {
    expect(new ReconnectPolicy(500, 30000, () => random).nextDelay(attempt)).toBeCloseTo(expected, 6);
  });

  test('attempts count from 1', () => {
    expect(() => new ReconnectPolicy(500, 30000, Math.random).nextDelay(0)).toThrow(/attempt/);
  });
});
