// A target counts as met only when every repeat meets it; met by the median alone, the row says
// it is within the noise; and the CPU-per-frame target depends on the room size as the issue sets it.
import { targetCpuRatio, verdict } from '../../bench/fanout';
import { participantsPerCore } from '../../bench/capacity';
import { MEDIA_FRAMES_PER_SEC } from '../../bench/load';
import { spread } from '../../bench/stats';

const atMostThird = (v: number) => v <= 1 / 3;

test('met when every repeat meets the target', () => {
  expect(verdict(spread([0.2, 0.3, 0.25]), atMostThird, 'ratio')).toEqual({ result: 'met' });
});

test('met within the noise when only the median does, missed when the median does not', () => {
  const noisy = verdict(spread([0.2, 0.3, 0.5]), atMostThird, 'ratio');
  expect(noisy.result).toBe('met');
  expect(noisy.note).toMatch(/within the noise/);
  expect(verdict(spread([0.2, 0.4, 0.5]), atMostThird, 'ratio').result).toBe('missed');
  expect(verdict(spread([]), atMostThird, 'ratio').result).toBe('not measured');
});

test('½ in rooms of 2, ⅓ from rooms of 5 up', () => {
  expect(targetCpuRatio(2)).toBe(1 / 2);
  expect(targetCpuRatio(5)).toBe(1 / 3);
  expect(targetCpuRatio(50)).toBe(1 / 3);
});

test('participants per core: one core of CPU over what a participant makes the server deliver', () => {
  // 10 µs per delivered frame, rooms of 5: each participant causes 81 × 4 deliveries a second
  expect(MEDIA_FRAMES_PER_SEC).toBe(81);
  expect(participantsPerCore(10, 5)).toBeCloseTo(1e6 / (10 * 81 * 4), 6);
});
