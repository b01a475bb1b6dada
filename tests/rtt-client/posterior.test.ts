import { NOISE_SHAPES, posterior, type PathEvidence } from '../../rtt-client/posterior';

const path = (samples: number[], extra: Partial<PathEvidence> = {}): PathEvidence => ({ samples, ...extra });
const queueingShapes = NOISE_SHAPES.filter((s) => s.kind === 'queueing');
const jitterShapes = NOISE_SHAPES.filter((s) => s.kind === 'jitter');
const weightOf = (kind: 'queueing' | 'jitter', weights: number[]) => weights.reduce((sum, w, i) => sum + (NOISE_SHAPES[i].kind === kind ? w : 0), 0);

// floor f plus queueing: most samples just above the floor, a few far above
const queued = (f: number) => [0.2, 1, 3, 0.5, 12, 1.5, 7].map((d) => f * (1 + d / 100));
// symmetric jitter of ±20 % spread evenly around c
const jittered = (c: number) => [0.82, 1.18, 0.9, 1.1, 1.0, 0.86, 1.14].map((k) => c * k);

describe('posterior', () => {
  test('probabilities of being fastest and shape weights each sum to 1', () => {
    const p = posterior([path([20, 22]), path([25, 24, 30]), path([], { connectingForMs: 40, connectRounds: 2 })]);
    // ties on one grid point count half to each side: equal up to rounding
    expect(p.paths.reduce((s, x) => s + x.fastest, 0)).toBeCloseTo(1, 4);
    expect(p.shapes.reduce((s, x) => s + x, 0)).toBeCloseTo(1, 6);
  });

  test('the samples of all paths together tell the noise shape', () => {
    expect(weightOf('queueing', posterior([path(queued(50)), path(queued(80)), path(queued(120))]).shapes)).toBeGreaterThan(0.9);
    expect(weightOf('jitter', posterior([path(jittered(50)), path(jittered(80)), path(jittered(120))]).shapes)).toBeGreaterThan(0.9);
  });

  test('under queueing the lowest floor wins, under jitter the lowest centre: the shape decides', () => {
    // A: floor 100, two slow samples (mean 117); B: steady around 109
    const a = path([100, 100.5, 101, 140, 145]);
    const b = path([108, 108.5, 109, 110, 109.5]);
    expect(posterior([a, b], queueingShapes).paths[0].fastest).toBeGreaterThan(0.95);
    expect(posterior([a, b], jitterShapes).paths[1].fastest).toBeGreaterThan(0.8);
  });

  test('only ratios matter: the same evidence at ten times the RTT gives about the same answer', () => {
    const at = (k: number) => posterior([path([85, 118, 96, 110].map((x) => x * k)), path([92, 126, 104, 118].map((x) => x * k))]).paths[0].fastest;
    expect(at(1)).toBeGreaterThan(0.6);
    expect(Math.abs(at(10) - at(1))).toBeLessThan(0.05);
  });

  test('unanswered probes are evidence of slowness', () => {
    const rival = path([33, 34, 33.5]);
    const answered = posterior([path([30, 31]), rival]).paths[0].fastest;
    // four probes out for longer than both its replies took: its RTT is often at least that
    const overdue = posterior([path([30, 31], { pendingAges: [40, 45, 50, 55] }), rival]).paths[0].fastest;
    expect(overdue).toBeLessThan(answered - 0.2);
  });

  test('… but a probe far overdue is presumed lost, not proof that a clearly faster path is slow', () => {
    const p = posterior([path([20, 21, 20.5], { pendingAges: [1500] }), path([40, 41, 40.5])]);
    expect(p.paths[0].fastest).toBeGreaterThan(0.99);
  });

  test('a pending connection looks slower the longer it takes', () => {
    const leader = path([40, 41, 42]);
    const pending = (ms: number) => posterior([leader, path([], { connectingForMs: ms, connectRounds: 2 })]).paths[1].fastest;
    expect(pending(50)).toBeGreaterThan(pending(150));
    expect(pending(150)).toBeGreaterThan(pending(2000));
    expect(pending(2000)).toBeLessThan(0.001);
  });

  test('a handshake is a mean over its round trips: under queueing it sits further above the floor than one probe', () => {
    // the same values: read as one probe each, the path's floor is near 100; the handshake's 100 is
    // a mean of two round trips, which rarely comes that close to the floor, so the floor may be lower
    const single = posterior([path([100, 104]), path([98, 99])], queueingShapes).paths[0].fastest;
    const handshake = posterior([path([100, 104], { handshakeRounds: 2 }), path([98, 99])], queueingShapes).paths[0].fastest;
    expect(handshake).toBeGreaterThan(single);
  });
});
