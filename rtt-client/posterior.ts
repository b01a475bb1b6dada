// Which candidate is fastest, as a probability: pure, no I/O, no clock.
//
// Each path's RTT is its base plus noise of one shape shared by the network, of unknown kind and scale:
//   - "queueing": the base is a floor, the noise is exponential queueing above it (never below) — what real
//     paths look like;
//   - "jitter": symmetric jitter of a relative width around the base.
// Either shape also has rare slow outliers (spikes) and lost probes. No single estimator ranks well under
// both shapes from a handful of samples (the minimum finds a floor, a mean finds the centre of jitter), so
// the election does not pick one: it weighs every shape in NOISE_SHAPES by how well it explains all
// candidates' samples together, then asks, within each shape, how likely each candidate's base is the
// lowest. Samples of all candidates pin down the shape; each candidate's own samples pin down its base.
// What a candidate has not done yet is evidence too: a probe unanswered for a while, or a connection still
// pending, says its RTT is at least that long (a censored sample).
// Bases have a log-uniform prior over a grid spanning what was observed, so only ratios matter: a 20 ms
// and a 200 ms election behave alike.

export interface NoiseShape {
  readonly kind: 'jitter' | 'queueing';
  /** jitter: half-width as a share of the base; queueing: mean delay as a share of the base */
  readonly scale: number;
}

/** The shapes weighed against each other: jitter of ±5–40 %, queueing of 2.5–40 % of the base. */
export const NOISE_SHAPES: readonly NoiseShape[] = [
  ...[0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4].map((scale) => ({ kind: 'jitter' as const, scale })),
  ...[0.025, 0.035, 0.05, 0.07, 0.1, 0.14, 0.2, 0.28, 0.4].map((scale) => ({ kind: 'queueing' as const, scale })),
];

/** Share of samples that are slow outliers (spikes), spread evenly over OUTLIER_SPAN_MS above the base. */
export const OUTLIER_SHARE = 0.02;
export const OUTLIER_SPAN_MS = 1000;
/** Share of probes presumed lost: an unanswered probe is evidence of slowness only up to this. */
export const PROBE_LOSS_SHARE = 0.05;
/** Points of the log-spaced grid of bases. */
const GRID_POINTS = 160;

export interface PathEvidence {
  /** RTT samples in ms, oldest first */
  samples: readonly number[];
  /** samples[0] is the handshake's time divided by its round trips (a mean over that many) */
  handshakeRounds?: number;
  /** its connection is still opening, this many ms after it started (samples is empty then) */
  connectingForMs?: number;
  /** round trips its handshake takes (for a pending connection) */
  connectRounds?: number;
  /** ages in ms of its unanswered probes */
  pendingAges?: readonly number[];
}

export interface PathPosterior {
  /** probability its base is the lowest of all paths given */
  fastest: number;
  /** posterior median of its base, ms */
  baseMs: number;
}

export interface Posterior {
  paths: PathPosterior[];
  /** weight of each shape in NOISE_SHAPES given all the evidence */
  shapes: number[];
}

const TINY = 1e-300;

/**
 * Slow outliers (spikes): a share of the values, larger for a mean over several round trips (any of
 * them may spike, and a spike is then divided among them), spread evenly above the shape's low end.
 */
function outliers(rounds: number): { share: number; span: number } {
  return { share: Math.min(0.5, OUTLIER_SHARE * rounds), span: OUTLIER_SPAN_MS / rounds };
}

/** the lowest value a shape gives on a path of base `b` */
function lowEnd(shape: NoiseShape, b: number): number {
  return shape.kind === 'jitter' ? b - shape.scale * b : b;
}

/** density of one value (a single RTT, or the mean of `rounds` of them) on a path of base `b` */
function density(shape: NoiseShape, x: number, b: number, rounds: number): number {
  let body: number;
  if (shape.kind === 'jitter') {
    const h = shape.scale * b;
    const z = Math.abs(x - b);
    // the mean of two or more uniform draws: a triangle over the same support (exact for two)
    body = z > h ? 0 : rounds === 1 ? 1 / (2 * h) : (1 - z / h) / h;
  } else {
    const e = x - b;
    body = e < 0 ? 0 : gammaDensity(e, rounds, (shape.scale * b) / rounds);
  }
  const { share, span } = outliers(rounds);
  const low = lowEnd(shape, b);
  return (1 - share) * body + share * (x >= low && x <= low + span ? 1 / span : 0);
}

/** probability a value (single RTT, or the mean of `rounds`) exceeds `x` on a path of base `b` */
function survival(shape: NoiseShape, x: number, b: number, rounds: number): number {
  let body: number;
  if (shape.kind === 'jitter') {
    const z = (x - b) / (shape.scale * b);
    if (z <= -1) body = 1;
    else if (z >= 1) body = 0;
    else if (rounds === 1) body = (1 - z) / 2;
    else body = z < 0 ? 1 - (1 + z) ** 2 / 2 : (1 - z) ** 2 / 2;
  } else {
    const e = x - b;
    body = e <= 0 ? 1 : gammaSurvival(e, rounds, (shape.scale * b) / rounds);
  }
  const { share, span } = outliers(rounds);
  const low = lowEnd(shape, b);
  return (1 - share) * body + share * Math.min(1, Math.max(0, (low + span - Math.max(x, low)) / span));
}

function gammaDensity(e: number, k: number, theta: number): number {
  let d = Math.exp(-e / theta) / theta;
  for (let i = 1; i < k; i++) d *= e / theta / i;
  return d;
}

function gammaSurvival(e: number, k: number, theta: number): number {
  let term = 1;
  let sum = 1;
  for (let i = 1; i < k; i++) {
    term *= e / theta / i;
    sum += term;
  }
  return Math.exp(-e / theta) * sum;
}

/** log-likelihood of one path's evidence at each base of the grid, under one shape */
function logLikelihood(shape: NoiseShape, path: PathEvidence, grid: Float64Array, out: Float64Array): void {
  const hsRounds = path.handshakeRounds ?? 0;
  for (let k = 0; k < grid.length; k++) {
    const b = grid[k];
    let l = 0;
    if (path.connectingForMs !== undefined) {
      const rounds = Math.max(1, path.connectRounds ?? 1);
      l += Math.log(survival(shape, path.connectingForMs / rounds, b, rounds) + TINY);
    }
    const samples = path.samples;
    for (let i = 0; i < samples.length; i++) {
      l += Math.log(density(shape, samples[i], b, i === 0 && hsRounds > 0 ? hsRounds : 1) + TINY);
    }
    for (const age of path.pendingAges ?? []) {
      l += Math.log(PROBE_LOSS_SHARE + (1 - PROBE_LOSS_SHARE) * survival(shape, age, b, 1));
    }
    out[k] = l;
  }
}

function baseGrid(paths: readonly PathEvidence[]): Float64Array {
  let lo = Infinity;
  let hi = 1;
  for (const p of paths) {
    for (const s of p.samples) {
      lo = Math.min(lo, s);
      hi = Math.max(hi, s);
    }
    for (const a of p.pendingAges ?? []) hi = Math.max(hi, a);
    if (p.connectingForMs !== undefined) hi = Math.max(hi, p.connectingForMs);
  }
  if (!Number.isFinite(lo)) lo = hi / 4;
  // the widest jitter puts a base at most 1/(1 − 0.4) above a sample's low end; a pending path can be far slower
  const from = Math.max(0.01, lo / 2);
  const to = Math.max(from * 2, hi * 4);
  const grid = new Float64Array(GRID_POINTS);
  const step = Math.log(to / from) / (GRID_POINTS - 1);
  for (let k = 0; k < GRID_POINTS; k++) grid[k] = from * Math.exp(step * k);
  return grid;
}

/** Posterior over which path is fastest, weighing every shape in `shapes` by the evidence. */
export function posterior(paths: readonly PathEvidence[], shapes: readonly NoiseShape[] = NOISE_SHAPES): Posterior {
  // each kind of shape starts as likely as the other, whatever the number of scales listed for it
  const kindCount = (kind: NoiseShape['kind']) => shapes.filter((s) => s.kind === kind).length;
  const prior = shapes.map((s) => 1 / (2 * kindCount(s.kind)));
  const n = paths.length;
  const grid = baseGrid(paths);
  const G = grid.length;
  const logEvidence = new Float64Array(shapes.length);
  const fastestByShape: Float64Array[] = [];
  const medianByShape: Float64Array[] = [];
  const ll = new Float64Array(G);
  const post = Array.from({ length: n }, () => new Float64Array(G));
  const below = Array.from({ length: n }, () => new Float64Array(G));
  shapes.forEach((shape, s) => {
    let total = 0;
    const medians = new Float64Array(n);
    for (let c = 0; c < n; c++) {
      logLikelihood(shape, paths[c], grid, ll);
      let max = -Infinity;
      for (let k = 0; k < G; k++) max = Math.max(max, ll[k]);
      let z = 0;
      for (let k = 0; k < G; k++) z += post[c][k] = Math.exp(ll[k] - max);
      total += max + Math.log(z / G);
      let acc = 0;
      medians[c] = NaN;
      for (let k = 0; k < G; k++) {
        post[c][k] /= z;
        below[c][k] = acc;
        acc += post[c][k];
        if (Number.isNaN(medians[c]) && acc >= 0.5) medians[c] = grid[k];
      }
    }
    logEvidence[s] = total;
    const fastest = new Float64Array(n);
    for (let c = 0; c < n; c++) {
      let p = 0;
      for (let k = 0; k < G; k++) {
        if (post[c][k] === 0) continue;
        let others = 1;
        // a tie on one grid point counts half
        for (let j = 0; j < n; j++) if (j !== c) others *= 1 - below[j][k] - post[j][k] / 2;
        p += post[c][k] * others;
      }
      fastest[c] = p;
    }
    fastestByShape.push(fastest);
    medianByShape.push(medians);
  });
  let max = -Infinity;
  for (const v of logEvidence) max = Math.max(max, v);
  const weights = Array.from(logEvidence, (v, s) => prior[s] * Math.exp(v - max));
  const wsum = weights.reduce((a, b) => a + b, 0);
  const shapeWeights = weights.map((w) => w / wsum);
  const result: PathPosterior[] = paths.map((_, c) => {
    let fastest = 0;
    let base = 0;
    shapeWeights.forEach((w, s) => {
      fastest += w * fastestByShape[s][c];
      base += w * medianByShape[s][c];
    });
    return { fastest, baseMs: base };
  });
  return { paths: result, shapes: shapeWeights };
}
