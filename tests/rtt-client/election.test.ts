import { DEFAULT_ELECTION_RULES, clearlyBehind, decide, provenBetter, rank, validateRules, type CandidateEvidence, type ElectionRules } from '../../rtt-client/election';

const rules: ElectionRules = { ...DEFAULT_ELECTION_RULES, timeoutMs: 3000 };

function cand(index: number, samples: number[], extra: Partial<CandidateEvidence> = {}): CandidateEvidence {
  return { index, transport: 'websocket', alive: true, samples, pendingMs: 0, ...extra };
}

describe('decide', () => {
  const cases: Array<{ name: string; candidates: CandidateEvidence[]; elapsed: number; expected: ReturnType<typeof decide>; rules?: Partial<ElectionRules> }> = [
    {
      name: 'clear winner with enough samples on each side decides early',
      candidates: [cand(0, [20, 21, 22]), cand(1, [60, 61, 62]), cand(2, [100, 101, 99])],
      elapsed: 500,
      expected: { kind: 'elected', winner: 0, runnerUp: 1, why: 'clear' },
    },
    {
      name: 'the list order does not matter, the RTT does',
      candidates: [cand(0, [100, 101, 99]), cand(1, [60, 61, 62]), cand(2, [20, 21, 22])],
      elapsed: 500,
      expected: { kind: 'elected', winner: 2, runnerUp: 1, why: 'clear' },
    },
    {
      name: 'never on a single sample, however clear',
      candidates: [cand(0, [5]), cand(1, [200, 210, 220])],
      elapsed: 500,
      expected: { kind: 'undecided' },
    },
    {
      name: 'a single sample does not win at the timeout either',
      candidates: [cand(0, [5]), cand(1, [200, 210])],
      elapsed: 3000,
      // nor does it make a standby
      expected: { kind: 'elected', winner: 1, runnerUp: undefined, why: 'timeout' },
    },
    {
      name: 'overlap that jitter could explain waits for the timeout',
      candidates: [cand(0, [20, 80, 25, 75]), cand(1, [45, 46, 44, 45])],
      elapsed: 900,
      expected: { kind: 'undecided' },
    },
    {
      name: 'at the timeout the lower ranking RTT wins: the minimum counts half',
      // halfway between minimum and trimmed mean: (20 + 50) / 2 = 35 vs (44 + 45) / 2 = 44.5
      candidates: [cand(0, [20, 80, 25, 75]), cand(1, [45, 46, 44, 45])],
      elapsed: 3000,
      expected: { kind: 'elected', winner: 0, runnerUp: 1, why: 'timeout' },
    },
    {
      name: '… and the mean the other half: one low sample does not win against a steadily lower path',
      // (30 + 75) / 2 = 52.5 vs (40 + 40.5) / 2 = 40.25
      candidates: [cand(0, [30, 90, 90, 90]), cand(1, [40, 41, 40, 41])],
      elapsed: 3000,
      expected: { kind: 'elected', winner: 1, runnerUp: 0, why: 'timeout' },
    },
    {
      name: 'floors closer than max(5 ms, 10 %) are a near-tie: no early decision',
      candidates: [cand(0, [30, 30, 30]), cand(1, [34.5, 34.5, 34.5])],
      elapsed: 900,
      expected: { kind: 'undecided' },
    },
    {
      name: 'every sample counts: the lower typical RTT wins though its median is higher',
      // means without the slowest fifth: 30 vs 35; medians: 40 vs 35
      candidates: [cand(0, [35, 35, 35, 35, 35]), cand(1, [20, 20, 40, 40, 60])],
      elapsed: 3000,
      expected: { kind: 'elected', winner: 1, runnerUp: 0, why: 'timeout' },
    },
    {
      name: 'a spike is left out: one slow sample in five does not lose the race',
      candidates: [cand(0, [32, 32, 32, 32, 32]), cand(1, [30, 30, 30, 30, 400])],
      elapsed: 3000,
      expected: { kind: 'elected', winner: 1, runnerUp: 0, why: 'timeout' },
    },
    {
      name: 'equal ranking RTTs: the lower median wins',
      // both (20 + 30) / 2 = 25; medians 30 vs 20
      candidates: [cand(0, [20, 30, 40]), cand(1, [20, 20, 50])],
      elapsed: 3000,
      expected: { kind: 'elected', winner: 1, runnerUp: 0, why: 'timeout' },
    },
    {
      name: 'equal ranking RTTs and medians: the lower p90 wins',
      // both 25 ((20 + 30) / 2 and (22 + 28) / 2), medians 30; p90 38 vs 31.6
      candidates: [cand(0, [20, 30, 40]), cand(1, [22, 30, 32])],
      elapsed: 3000,
      expected: { kind: 'elected', winner: 1, runnerUp: 0, why: 'timeout' },
    },
    {
      name: 'exact tie: the earlier server in the list wins',
      candidates: [cand(0, [30, 30, 30]), cand(1, [30, 30, 30])],
      elapsed: 3000,
      expected: { kind: 'elected', winner: 0, runnerUp: 1, why: 'timeout' },
    },
    {
      name: 'a candidate still connecting blocks the decision only until it has kept us waiting longer than the leader\'s RTT',
      candidates: [cand(0, [20, 21, 22]), cand(1, [], { pendingMs: 10 })],
      elapsed: 450,
      expected: { kind: 'undecided' },
    },
    {
      name: '… and then it is clearly behind (three times the leader\'s bound plus the spike grace for a connection)',
      // the leader's bound: p90 21.8 + max(5 ms, 10 % of 21)
      candidates: [cand(0, [20, 21, 22]), cand(1, [], { pendingMs: 3 * (21.8 + 5) + 250 + 1, connecting: true })],
      elapsed: 450,
      expected: { kind: 'elected', winner: 0, runnerUp: undefined, why: 'clear' },
    },
    {
      name: 'a silent candidate with an old unanswered probe is behind; a fast early sample is not',
      candidates: [cand(0, [20, 21, 22]), cand(1, [10], { pendingMs: 500 })],
      elapsed: 450,
      expected: { kind: 'undecided' },
    },
    {
      name: 'dead candidates are ignored',
      candidates: [cand(0, [5, 5, 5], { alive: false }), cand(1, [50, 51, 52])],
      elapsed: 450,
      expected: { kind: 'elected', winner: 1, runnerUp: undefined, why: 'clear' },
    },
    {
      name: 'all dead: none',
      candidates: [cand(0, [5, 5, 5], { alive: false }), cand(1, [], { alive: false })],
      elapsed: 100,
      expected: { kind: 'none' },
    },
    {
      name: 'nobody answered by the timeout: none',
      candidates: [cand(0, [], { pendingMs: 3000 }), cand(1, [], { pendingMs: 3000 })],
      elapsed: 3000,
      expected: { kind: 'none' },
    },
    {
      name: 'a transport preference breaks a near-tie within its margin',
      candidates: [cand(0, [30, 30, 31]), cand(1, [36, 36, 37], { transport: 'webtransport' })],
      rules: { preferTransport: 'webtransport', preferenceMarginMs: 10 },
      elapsed: 3000,
      expected: { kind: 'elected', winner: 1, runnerUp: 0, why: 'timeout' },
    },
    {
      name: 'the lowest RTT wins whatever the preferred transport',
      candidates: [cand(0, [20, 21, 22]), cand(1, [60, 61, 62], { transport: 'webtransport' })],
      rules: { preferTransport: 'webtransport', preferenceMarginMs: 10 },
      elapsed: 3000,
      expected: { kind: 'elected', winner: 0, runnerUp: 1, why: 'clear' },
    },
  ];

  test.each(cases)('$name', ({ candidates, elapsed, expected, rules: extra }) => {
    expect(decide(candidates, { ...rules, ...extra }, elapsed)).toEqual(expected);
  });

  test('rank orders by ranking RTT, median, p90, then list order', () => {
    // ranking RTTs 20 (index 1), 30, 30, 30.17; the two exact ties by list order
    const order = rank([cand(2, [30, 30, 30]), cand(0, [30, 30, 30]), cand(1, [10, 50, 30]), cand(3, [30, 30, 31])], rules).map((c) => c.index);
    expect(order).toEqual([1, 0, 2, 3]);
  });

  test('rules that would decide on one sample are refused', () => {
    expect(() => validateRules({ ...rules, minSamples: 1 })).toThrow(/never decide on one sample/);
    expect(() => validateRules({ ...rules, minSamplesAtTimeout: 1 })).toThrow(/minSamplesAtTimeout/);
    expect(() => validateRules({ ...rules, clearMarginMs: -1 })).toThrow(/clearMarginMs/);
  });
});

describe('the floor test (clearlyBehind): floors apart by many times each side\'s own spread', () => {
  // leader floor 100 with queueing above it; n × d / spread ≥ 8 on both sides decides
  test.each([
    { name: 'floor + queueing, 15 % apart, 5 samples each: clear', leader: [100, 101, 103, 100.5, 104], rival: [115, 116, 118, 115.5, 119], expected: true },
    { name: 'same, 3 samples each: the rival\'s spread is too large for 3 samples', leader: [100, 108, 104], rival: [115, 135, 131], expected: false },
    { name: 'uniform jitter ±20 %: minimums 15 % apart but spreads wide: not clear', leader: [85, 110, 118, 95, 102], rival: [98, 130, 112, 135, 120], expected: false },
    { name: 'the rival\'s minimum is lower: never behind', leader: [100, 100, 100], rival: [99, 140, 140], expected: false },
    { name: 'floors apart but the trimmed mean disagrees: not clear', leader: [100, 200, 200, 200, 200], rival: [120, 120, 120, 120, 120], expected: false },
    { name: 'steady paths (no spread): any gap above the margin is clear', leader: [40, 40, 40], rival: [45.5, 45.5, 45.5], expected: true },
    { name: 'steady paths within the margin (5 ms): not clear', leader: [40, 40, 40], rival: [44.5, 44.5, 44.5], expected: false },
    { name: 'a rival with too few samples and no long silence: not clear', leader: [40, 40, 40], rival: [90], expected: false },
  ])('$name', ({ leader, rival, expected }) => {
    expect(clearlyBehind(cand(0, leader), cand(1, rival), rules)).toBe(expected);
  });

  test('the leader\'s unanswered probes older than its median count as (lower bounds of) slow samples', () => {
    const rival = cand(1, [45, 45, 45]);
    expect(clearlyBehind(cand(0, [15, 15, 15, 15]), rival, rules)).toBe(true);
    // the same replies with five slow probes still out: mostly slow, its fast replies only came back first
    expect(clearlyBehind(cand(0, [15, 15, 15, 15], { pendingAges: [80, 85, 90, 95, 100] }), rival, rules)).toBe(false);
    // young probes (below its median) say nothing
    expect(clearlyBehind(cand(0, [15, 15, 15, 15], { pendingAges: [5, 10] }), rival, rules)).toBe(true);
  });

  test('a probe unanswered far beyond the leader\'s bound is presumed lost, not slow', () => {
    const rival = cand(1, [45, 45, 45]);
    // bound 15 + 5 ms → presumed lost after 2 × 20 + 250 = 290 ms
    expect(clearlyBehind(cand(0, [15, 15, 15, 15], { pendingAges: [288, 288, 288, 288, 288] }), rival, rules)).toBe(false);
    expect(clearlyBehind(cand(0, [15, 15, 15, 15], { pendingAges: [291, 291, 291, 291, 291] }), rival, rules)).toBe(true);
  });
});

describe('provenBetter', () => {
  test.each([
    { challenger: [50, 51, 52], current: 300, expected: true },
    { challenger: [50, 51], current: 300, expected: false }, // too few samples
    { challenger: [50, 51, 290], current: 240, expected: false }, // its p90 is not clearly below
    { challenger: [50, 51, 52], current: 52.5, expected: false }, // within the margin
  ])('$challenger vs $current ms: $expected', ({ challenger, current, expected }) => {
    expect(provenBetter(challenger, current, rules)).toBe(expected);
  });
});
