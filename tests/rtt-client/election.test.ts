import { DEFAULT_ELECTION_RULES, decide, provenBetter, rank, validateRules, type CandidateEvidence, type ElectionRules } from '../../rtt-client/election';

const rules: ElectionRules = DEFAULT_ELECTION_RULES;

function cand(index: number, samples: number[], extra: Partial<CandidateEvidence> = {}): CandidateEvidence {
  return { index, transport: 'websocket', alive: true, samples, pendingMs: 0, ...extra };
}

// Floor + queueing samples (as on real paths): a path of floor f, each sample f plus a small delay.
// Wide symmetric jitter: four samples of a path of about 100 ms.
const jittered = [85, 118, 96, 110];
const queued = (floor: number, n: number, delays = [1, 4, 0.5, 9, 2, 6, 0.2, 3]) => delays.slice(0, n).map((d) => floor * (1 + d / 100));

describe('decide', () => {
  type Case = { name: string; candidates: CandidateEvidence[]; elapsed: number; look?: 'checkpoint'; expected: ReturnType<typeof decide>; rules?: Partial<ElectionRules> };
  const cases: Case[] = [
    {
      name: 'paths far apart decide early on two samples each',
      candidates: [cand(0, [20, 21]), cand(1, [60, 61]), cand(2, [100, 101])],
      elapsed: 400,
      expected: { kind: 'elected', winner: 0, runnerUp: 1, why: 'clear', provisional: false },
    },
    {
      name: 'the list order does not matter, the RTT does',
      candidates: [cand(0, [100, 101]), cand(1, [60, 61]), cand(2, [20, 21])],
      elapsed: 400,
      expected: { kind: 'elected', winner: 2, runnerUp: 1, why: 'clear', provisional: false },
    },
    {
      name: 'never on a single sample, however clear',
      candidates: [cand(0, [5]), cand(1, [200, 210, 220])],
      elapsed: 500,
      expected: { kind: 'undecided' },
    },
    {
      name: 'a single sample does not win at the timeout either, nor make a standby',
      candidates: [cand(0, [5]), cand(1, [200, 210])],
      elapsed: 2000,
      expected: { kind: 'elected', winner: 1, runnerUp: undefined, why: 'timeout', provisional: false },
    },
    {
      name: 'floor + queueing 15 % apart: four samples each are near certain before 1 s',
      candidates: [cand(0, queued(100, 4)), cand(1, queued(115, 4))],
      elapsed: 800,
      expected: { kind: 'elected', winner: 0, runnerUp: 1, why: 'clear', provisional: false },
    },
    {
      name: 'wide symmetric jitter 15 % apart: the same number of samples is not enough before 1 s',
      candidates: [cand(0, [85, 118, 96, 110]), cand(1, [99, 134, 114, 126])],
      elapsed: 800,
      expected: { kind: 'undecided' },
    },
    {
      name: '… nor at the 1 s checkpoint when the lead is slight (2 %: about 65 % likely)',
      candidates: [cand(0, jittered), cand(1, jittered.map((x) => x / 0.98))],
      elapsed: 1000,
      look: 'checkpoint',
      expected: { kind: 'undecided' },
    },
    {
      name: 'a likely (not certain) leader waits before the checkpoint …',
      candidates: [cand(0, jittered), cand(1, jittered.map((x) => x / 0.9))],
      elapsed: 999,
      expected: { kind: 'undecided' },
    },
    {
      name: '… and wins at it, provisionally (to be confirmed by the timeout)',
      candidates: [cand(0, jittered), cand(1, jittered.map((x) => x / 0.9))],
      elapsed: 1000,
      look: 'checkpoint',
      expected: { kind: 'elected', winner: 0, runnerUp: 1, why: 'clear', provisional: true },
    },
    {
      name: 'a near-certain leader at the checkpoint is not provisional',
      candidates: [cand(0, queued(100, 4)), cand(1, queued(115, 4))],
      elapsed: 1000,
      look: 'checkpoint',
      expected: { kind: 'elected', winner: 0, runnerUp: 1, why: 'clear', provisional: false },
    },
    {
      name: 'at the timeout the likelier fastest wins, however slight its lead',
      candidates: [cand(0, [100, 104, 101, 103]), cand(1, [101, 105, 102, 103])],
      elapsed: 2000,
      expected: { kind: 'elected', winner: 0, runnerUp: 1, why: 'timeout', provisional: false },
    },
    {
      name: 'a spike is an outlier: one slow sample does not lose the race',
      candidates: [cand(0, [32, 32.5, 33, 32.2, 32.8]), cand(1, [30, 30.4, 30.2, 230, 30.6])],
      elapsed: 900,
      expected: { kind: 'elected', winner: 1, runnerUp: 0, why: 'clear', provisional: false },
    },
    {
      name: 'exact tie: the earlier server in the list wins',
      candidates: [cand(0, [30, 30, 30]), cand(1, [30, 30, 30])],
      elapsed: 2000,
      expected: { kind: 'elected', winner: 0, runnerUp: 1, why: 'timeout', provisional: false },
    },
    {
      name: 'a candidate still connecting blocks an early decision while it could still be faster',
      candidates: [cand(0, [20, 21, 22]), cand(1, [], { connecting: true, connectRounds: 2, pendingMs: 30 })],
      elapsed: 450,
      expected: { kind: 'undecided' },
    },
    {
      name: '… and stops blocking once its pending handshake is longer than a spike explains',
      candidates: [cand(0, [20, 21, 22]), cand(1, [], { connecting: true, connectRounds: 2, pendingMs: 1200 })],
      elapsed: 1200,
      expected: { kind: 'elected', winner: 0, runnerUp: undefined, why: 'clear', provisional: false },
    },
    {
      name: 'dead candidates are ignored',
      candidates: [cand(0, [5, 5, 5], { alive: false }), cand(1, [50, 51, 52])],
      elapsed: 450,
      expected: { kind: 'elected', winner: 1, runnerUp: undefined, why: 'clear', provisional: false },
    },
    {
      name: 'all dead: none',
      candidates: [cand(0, [5, 5, 5], { alive: false }), cand(1, [], { alive: false })],
      elapsed: 100,
      expected: { kind: 'none' },
    },
    {
      name: 'nobody answered by the timeout: none',
      candidates: [cand(0, [], { connecting: true, pendingMs: 2000 }), cand(1, [], { connecting: true, pendingMs: 2000 })],
      elapsed: 2000,
      expected: { kind: 'none' },
    },
    {
      name: 'a transport preference breaks a near-tie within its margin',
      candidates: [cand(0, [30, 30, 31]), cand(1, [36, 36, 37], { transport: 'webtransport' })],
      rules: { preferTransport: 'webtransport', preferenceMarginMs: 10 },
      elapsed: 900,
      expected: { kind: 'elected', winner: 1, runnerUp: 0, why: 'clear', provisional: false },
    },
    {
      name: 'the lowest RTT wins whatever the preferred transport',
      candidates: [cand(0, [20, 21, 22]), cand(1, [60, 61, 62], { transport: 'webtransport' })],
      rules: { preferTransport: 'webtransport', preferenceMarginMs: 10 },
      elapsed: 2000,
      expected: { kind: 'elected', winner: 0, runnerUp: 1, why: 'clear', provisional: false },
    },
  ];

  test.each(cases)('$name', ({ candidates, elapsed, look, expected, rules: extra }) => {
    expect(decide(candidates, { ...rules, ...extra }, elapsed, look)).toEqual(expected);
  });

  test('rank orders by the probability of being fastest, then list order', () => {
    const ranked = rank([cand(2, [30, 30, 30]), cand(0, [30, 30, 30]), cand(1, [10, 11, 10.5]), cand(3, [60, 61, 60])], rules);
    expect(ranked.map((r) => r.candidate.index)).toEqual([1, 0, 2, 3]);
    expect(ranked[0].fastest).toBeGreaterThan(0.99);
    expect(ranked.reduce((sum, r) => sum + r.fastest, 0)).toBeCloseTo(1, 6);
  });

  test('rules that would decide on one sample or on a coin toss are refused', () => {
    expect(() => validateRules({ ...rules, minSamples: 1 })).toThrow(/never decide on one sample/);
    expect(() => validateRules({ ...rules, minSamplesAtTimeout: 1 })).toThrow(/minSamplesAtTimeout/);
    expect(() => validateRules({ ...rules, clearMarginMs: -1 })).toThrow(/clearMarginMs/);
    expect(() => validateRules({ ...rules, checkpointConfidence: 0.5 })).toThrow(/checkpointConfidence must be a probability above 0.5/);
    expect(() => validateRules({ ...rules, confidence: 1 })).toThrow(/confidence/);
  });
});

describe('provenBetter', () => {
  test.each([
    { challenger: [50, 51, 52], current: 300, expected: true },
    { challenger: [50], current: 300, expected: false }, // too few samples
    { challenger: [50, 51, 290], current: 240, expected: false }, // its p90 is not clearly below
    { challenger: [50, 51, 52], current: 52.5, expected: false }, // within the margin
  ])('$challenger vs $current ms: $expected', ({ challenger, current, expected }) => {
    expect(provenBetter(challenger, current, rules)).toBe(expected);
  });
});
