// The relay's requests and HPA target follow from the measured capacity constant, never stand alone.
import { DEFAULT_MEMORY_LIMIT_BYTES } from '../../relay/config';
import { RELAY_CAPACITY, RELAY_SIZING } from '../../topology/relay-sizing';

const mi = (q: string) => {
  const m = /^(\d+)Mi$/.exec(q);
  if (m === null) throw new Error(`not a Mi quantity: ${q}`);
  return Number(m[1]);
};

test('a replica plans for the target share of one core of the measured capacity in the planning room size', () => {
  expect(RELAY_SIZING.cpuRequest).toBe('1000m');
  const perCore = RELAY_CAPACITY.participantsPerCore[RELAY_CAPACITY.planningRoomSize];
  expect(perCore).toBeGreaterThan(0);
  expect(RELAY_SIZING.participantsPerReplica).toBe(Math.floor((perCore * RELAY_SIZING.targetCpuUtilizationPercent) / 100));
  expect(RELAY_SIZING.participantsPerCore).toBe(RELAY_CAPACITY.participantsPerCore);
});

test('memory covers the measured baseline plus what the planned participants pin, and the limit is above it', () => {
  const needMiB = RELAY_CAPACITY.baselineRssMiB + (RELAY_SIZING.participantsPerReplica * RELAY_CAPACITY.rssPerParticipantKiB) / 1024;
  expect(mi(RELAY_SIZING.memoryRequest)).toBeGreaterThanOrEqual(needMiB);
  expect(mi(RELAY_SIZING.memoryRequest)).toBeLessThan(needMiB + 64);
  expect(mi(RELAY_SIZING.memoryLimit)).toBeGreaterThan(mi(RELAY_SIZING.memoryRequest));
});

test('the relay\'s own MEMORY_LIMIT_BYTES fallback is the manifest\'s memory limit (the image cannot import topology/)', () => {
  expect(DEFAULT_MEMORY_LIMIT_BYTES).toBe(mi(RELAY_SIZING.memoryLimit) * 2 ** 20);
});
