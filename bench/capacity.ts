// 6. Capacity: how many participants of a real call (MEDIA_MIX) one relay core carries, per room
// size, with ≤ 0.1 % of frames lost and p99 delivery ≤ 50 ms; the `ws` design the same way. Load
// grows step by step (more rooms) until a limit fails or the load generator saturates.
import os from 'node:os';
import { benchEnv } from './env';
import { Generators, type GeneratedRun } from './generators';
import { MEDIA_BYTES_PER_SEC, MEDIA_FRAMES_PER_SEC, MEDIA_MIX, sleep } from './load';
import { placeSystem, placement, release, rssBytes } from './procs';
import { fmt, markdownTable, type BenchResult, type Row } from './report';

export interface CapacityOptions {
  roomSizes: number[];
  /** participants of the first step, by room size (rounded up to whole rooms) */
  startParticipants: Record<number, number>;
  /** each step multiplies the participants by this */
  growth: number;
  maxSteps: number;
  generators: number;
  warmupMs: number;
  durationMs: number;
  /** run a failing step once more before taking the failure */
  retryFailed: boolean;
}

export const CAPACITY_FULL: CapacityOptions = {
  roomSizes: [2, 5, 20, 50], startParticipants: { 2: 100, 5: 100, 20: 40, 50: 50 }, growth: 2, maxSteps: 4, generators: 2, warmupMs: 1000, durationMs: 3000, retryFailed: true,
};
export const CAPACITY_QUICK: CapacityOptions = {
  roomSizes: [5], startParticipants: { 5: 10 }, growth: 2, maxSteps: 1, generators: 2, warmupMs: 300, durationMs: 500, retryFailed: false,
};

export const MAX_LOSS = 0.001;
export const MAX_P99_MS = 50;
export const TARGET_CAPACITY_VS_WS = 2;
/**
 * Deliveries the generators had not read 2 s after the last send, over those due: above this the
 * generators, not the server, set the pace, and the ramp stops there.
 */
export const MAX_UNRECEIVED = 0.1;

type System = 'relay' | 'ws';
const LABEL: Record<System, string> = { relay: 'our relay (uWS)', ws: '`ws` design' };

export interface CapacityStep extends GeneratedRun {
  system: System;
  roomSize: number;
  participants: number;
  rssBytes: number;
  lossRatio: number;
  /** frames the server itself dropped (its /metrics drop counter) during the step */
  serverDrops: number;
  /** what the step says about the server (judgeStep) */
  verdict: StepVerdict;
  /** both limits met */
  passed: boolean;
  serverUsPerFrame: number;
}

/**
 * - `pass`: both limits met;
 * - `p99 not judged`: the loss limit met, p99 over its limit while the server had headroom and the
 *   load generator, the cores it shares with nats-server, or the whole machine did not: the latency
 *   measured was theirs, not the server's;
 * - `fail`: a limit broken by the server;
 * - `generator behind`: the generator left too many deliveries unread to measure anything.
 */
export type StepVerdict = 'pass' | 'p99 not judged' | 'fail' | 'generator behind';

/** A server busier than this share of its core (%) is the bottleneck: its latency counts. */
export const SERVER_BUSY_PCT = 85;
/** A machine busier than this share of all its cores (%) delays every process. */
export const MACHINE_BUSY_SHARE = 0.95;

export interface StepFigures {
  /** frames the server dropped ÷ deliveries due */
  lossRatio: number;
  p99Ms: number;
  deliveredInWindow: number;
  /** deliveries not read by the generator 2 s after the last send ÷ due */
  unreceivedRatio: number;
  /** % of one core */
  serverPct: number;
  generatorSaturated: boolean;
  /** % of one core, summed over the machine */
  machinePct: number;
  cores: number;
}

/**
 * Whether a step counts for the server. A latency limit broken while the server itself had headroom
 * and the generator (or the whole machine) was saturated measured the starved generator's reading of
 * its sockets: p99 is then not judged, for either system alike. A server at SERVER_BUSY_PCT or more
 * is the bottleneck, and its p99 counts whatever else was busy.
 */
export function judgeStep(f: StepFigures): StepVerdict {
  if (f.unreceivedRatio > MAX_UNRECEIVED || f.deliveredInWindow === 0) return 'generator behind';
  if (f.lossRatio > MAX_LOSS) return 'fail';
  if (f.p99Ms <= MAX_P99_MS) return 'pass';
  // the cores other than the server's hold the generators and nats-server: full, they delay every delivery
  const others = f.machinePct - f.serverPct;
  const elsewhere = f.generatorSaturated
    || f.machinePct >= MACHINE_BUSY_SHARE * f.cores * 100
    || (f.cores > 1 && others >= MACHINE_BUSY_SHARE * (f.cores - 1) * 100);
  return f.serverPct < SERVER_BUSY_PCT && elsewhere ? 'p99 not judged' : 'fail';
}

/** Accepted steps carry their load; the ramp goes on only past one the generator did not saturate. */
export const accepted = (v: StepVerdict) => v === 'pass' || v === 'p99 not judged';

export interface CapacityFigure {
  system: System;
  roomSize: number;
  /** the largest step that met both limits, if any */
  passed?: CapacityStep;
  /** the largest step the ramp accepted: both limits met, or p99 not judged (judgeStep) */
  carried?: CapacityStep;
  /** what ended the ramp */
  stoppedBy: 'limit' | 'generator' | 'steps';
  /**
   * participants one core carries, from the server's CPU per delivered frame at the largest accepted
   * step (when none was accepted: at the first step, and the row says so)
   */
  perCore: number;
}

export interface CapacityResult extends BenchResult {
  figures: CapacityFigure[];
}

export async function benchCapacity(opts: CapacityOptions, log: (s: string) => void): Promise<CapacityResult> {
  const env = await benchEnv();
  const gens = await Generators.start(opts.generators);
  const steps: CapacityStep[] = [];
  const figures: CapacityFigure[] = [];
  const server = { relay: env.relay, ws: env.wsRelay };
  const all = [env.relay.pid, env.wsRelay.pid, env.nats.pid, ...gens.pids];
  let base = 0;
  const runStep = async (s: System, n: number, rooms: number, label: string): Promise<CapacityStep> => {
    const tag = `cap-${s}-${n}-${label}`;
    const assignment = Array.from({ length: rooms }, (_, r) => ({ room: `${tag}-${r}-${process.pid}`, indices: Array.from({ length: n }, () => base++ % 60_000) }));
    let r: GeneratedRun;
    let rss: number;
    let drops: number;
    try {
      await gens.open(tag, 'ws', `ws://127.0.0.1:${server[s].port}`, assignment);
      await sleep(500);
      const dropsBefore = await droppedFrames(server[s].port);
      r = await gens.run(tag, { frameBytes: 0, mode: { kind: 'media' }, warmupMs: opts.warmupMs, durationMs: opts.durationMs }, { server: server[s].pid, nats: env.nats.pid });
      rss = rssBytes(server[s].pid);
      drops = (await droppedFrames(server[s].port)) - dropsBefore;
    } finally {
      await gens.close(tag).catch(() => undefined);
    }
    // the server's own drop counter: frames a starved generator had not read by the end are late, not lost
    const lossRatio = r.expected === 0 ? 1 : Number.isFinite(drops) ? drops / r.expected : r.lost / r.expected;
    const verdict = judgeStep({
      lossRatio, p99Ms: r.latencyMs.p99, deliveredInWindow: r.deliveredInWindow, unreceivedRatio: r.expected > 0 ? r.lost / r.expected : 0,
      serverPct: r.cpu.server, generatorSaturated: r.generatorSaturated, machinePct: r.cpu.machine, cores: os.cpus().length,
    });
    const step: CapacityStep = {
      ...r, system: s, roomSize: n, participants: rooms * n, rssBytes: rss, lossRatio, serverDrops: drops, verdict, passed: verdict === 'pass',
      serverUsPerFrame: r.deliveredInWindow > 0 ? ((r.cpu.server / 100) * r.windowMs * 1000) / r.deliveredInWindow : NaN,
    };
    steps.push(step);
    log(`capacity ${s} N=${n} ${step.participants} participants: ${verdict} dropped ${(lossRatio * 100).toFixed(3)} %, unreceived ${r.expected > 0 ? ((r.lost / r.expected) * 100).toFixed(1) : '—'} %, p99 ${fmt.ms(r.latencyMs.p99)} ms; server ${r.cpu.server} % (${fmt.us(step.serverUsPerFrame)} µs/frame), nats ${r.cpu.nats} %, gen ${r.loadgen.totalPct} %${r.generatorSaturated ? ' SATURATED' : ''}; machine ${r.cpu.machine} %`);
    return step;
  };
  try {
    for (const n of opts.roomSizes) {
      for (const s of ['relay', 'ws'] as const) {
        placeSystem([server[s].pid], all.filter((p) => p !== server[s].pid));
        let rooms = Math.ceil((opts.startParticipants[n] ?? n) / n);
        let passed: CapacityStep | undefined;
        let carried: CapacityStep | undefined;
        let stoppedBy: CapacityFigure['stoppedBy'] = 'steps';
        let first: CapacityStep | undefined;
        for (let k = 0; k < opts.maxSteps; k++) {
          // a failing step is run once more: on a shared machine one stall can break a limit
          let step = await runStep(s, n, rooms, `${k}`);
          if (opts.retryFailed && step.verdict === 'fail') step = await runStep(s, n, rooms, `${k}-retry`);
          first ??= step;
          if (!accepted(step.verdict)) {
            stoppedBy = step.verdict === 'generator behind' ? 'generator' : 'limit';
            break;
          }
          carried = step;
          if (step.passed) passed = step;
          if (step.generatorSaturated) {
            stoppedBy = 'generator';
            break;
          }
          rooms = Math.max(rooms + 1, Math.round(rooms * opts.growth));
        }
        const basis = carried ?? first;
        figures.push({ system: s, roomSize: n, passed, carried, stoppedBy, perCore: basis === undefined ? NaN : participantsPerCore(basis.serverUsPerFrame, n) });
      }
    }
  } finally {
    release(all);
    await gens.stop();
  }
  return report(opts, steps, figures);
}

function capacityVerdict(ours: CapacityFigure, ws: CapacityFigure, ratio: number): Pick<Row, 'result' | 'note'> {
  if (!Number.isFinite(ratio)) return { result: 'not measured', note: 'no CPU figure for one of the systems' };
  const unjudged = [ours, ws].filter((f) => f.carried?.verdict === 'p99 not judged').map((f) => (f.system === 'relay' ? 'our relay' : 'the ws design'));
  const p99 = unjudged.length > 0
    ? `at the step counted for ${unjudged.join(' and ')} the p99 limit was broken while the server had headroom and the load generator did not (p99 not judged); `
    : '';
  if (ours.carried === undefined) return { result: 'missed', note: 'no step of our relay was accepted (see the steps); see the analysis below' };
  if (ratio < TARGET_CAPACITY_VS_WS) return { result: 'missed', note: `${p99}see the analysis below` };
  return p99 === '' ? { result: 'met' } : { result: 'met', note: p99.replace(/; $/, '') };
}

/**
 * Participants one core carries, from the CPU the server spent per delivered frame: a participant
 * makes MEDIA_FRAMES_PER_SEC × (N − 1) deliveries a second. Counting per delivered frame keeps a
 * lossy step (undelivered frames cost nothing) from flattering the figure.
 */
export function participantsPerCore(serverUsPerFrame: number, roomSize: number): number {
  return 1e6 / (serverUsPerFrame * MEDIA_FRAMES_PER_SEC * (roomSize - 1));
}

/** The server's dropped-frame counter (relay_dropped_frames_total, every reason; ws_relay_dropped_frames_total). */
async function droppedFrames(port: number): Promise<number> {
  let text: string;
  try {
    const res = await fetch(`http://127.0.0.1:${port}/metrics`);
    if (!res.ok) return NaN;
    text = await res.text();
  } catch {
    return NaN; // no counter: the loss is then judged by what the generators received
  }
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = /^(?:relay|ws_relay)_dropped_frames_total(?:\{[^}]*\})? (\d+(?:\.\d+)?)/.exec(line);
    if (m !== null) sum += Number(m[1]);
  }
  return sum;
}

const STOPPED: Record<CapacityFigure['stoppedBy'], string> = {
  limit: 'the next step broke a limit',
  generator: 'at the next step the load generator saturated or fell behind',
  steps: 'the last step was still accepted',
};

function report(opts: CapacityOptions, steps: CapacityStep[], figures: CapacityFigure[]): CapacityResult {
  const rows: Row[] = [];
  const fig = (s: System, n: number) => figures.find((f) => f.system === s && f.roomSize === n)!;
  const describe = (f: CapacityFigure) => (f.carried === undefined
    ? `${fmt.count(f.perCore)} per core by CPU at the first step, which was not accepted (${steps.find((x) => x.system === f.system && x.roomSize === f.roomSize)?.participants ?? '?'} participants; ${STOPPED[f.stoppedBy]})`
    : `${fmt.count(f.perCore)} participants per core (${f.carried.participants} carried at ${f.carried.cpu.server} % of a core${f.carried.passed ? '' : ', p99 not judged'}; ${STOPPED[f.stoppedBy]})`);
  for (const n of opts.roomSizes) {
    const ours = fig('relay', n);
    const ws = fig('ws', n);
    const ratio = ours.perCore / ws.perCore;
    rows.push({
      benchmark: 'Capacity, media mix',
      configuration: `rooms of ${n}, ≤ ${MAX_LOSS * 100} % lost, p99 ≤ ${MAX_P99_MS} ms`,
      ours: describe(ours),
      yardstick: `ws design: ${describe(ws)}`,
      ratio: fmt.ratio(ratio),
      target: `≥ ${TARGET_CAPACITY_VS_WS}×`,
      ...capacityVerdict(ours, ws, ratio),
    });
  }
  const cores = os.cpus().length;
  const table = markdownTable(
    ['Room', 'System', 'Participants', 'Result', 'Dropped by the server %', 'Not received by the end %', 'p50 ms', 'p99 ms', 'Delivered fr/s', 'Server CPU % (kernel part)', 'Server µs/frame', 'nats-server CPU %', 'Server RSS', 'Load gen CPU % (processes)', `Machine busy % (of ${cores * 100})`],
    steps.map((x) => [
      String(x.roomSize), LABEL[x.system], String(x.participants), x.verdict === 'fail' ? '**fail**' : x.verdict, (x.lossRatio * 100).toFixed(3), x.expected > 0 ? ((x.lost / x.expected) * 100).toFixed(1) : '—',
      fmt.ms(x.latencyMs.p50), fmt.ms(x.latencyMs.p99), fmt.rate(x.deliveredPerSec), `${x.cpu.server} (${x.cpu.serverSys})`, fmt.us(x.serverUsPerFrame), String(x.cpu.nats),
      fmt.bytes(x.rssBytes), `${x.loadgen.totalPct} (${x.loadgen.processes})${x.generatorSaturated ? ' **saturated**' : ''}`, String(x.cpu.machine),
    ]),
  );
  const summary = markdownTable(
    ['Room', 'Our relay: participants per core', 'ws design: participants per core', 'Ours ÷ ws'],
    opts.roomSizes.map((n) => [String(n), fmt.count(fig('relay', n).perCore), fmt.count(fig('ws', n).perCore), fmt.ratio(fig('relay', n).perCore / fig('ws', n).perCore)]),
  );
  const { audio, video, heartbeat, rttProbe } = MEDIA_MIX;
  const details = `
Every participant sends what a participant of a real call sends (bench/load.ts MEDIA_MIX): audio ${audio.perSec}/s of
${audio.bytes.join('/')} bytes; video ${video.perSec} fps, a ${fmt.bytes(video.keyframeBytes)} keyframe every ${video.keyframeEvery / video.perSec} s and deltas of
${video.deltaBytes.map((b) => fmt.bytes(b)).join(' / ')}; a ${heartbeat.bytes}-byte heartbeat ${heartbeat.perSec}/s (fanned out like media); an RTT probe
${rttProbe.perSec}/s, echoed by the relay. That is ${MEDIA_FRAMES_PER_SEC} fanned-out frames and ${fmt.bytes(MEDIA_BYTES_PER_SEC)} per second per participant,
each delivered to the N − 1 others of its room. Streams start at spread phases (keyframes do not coincide).
Load grows in whole rooms (×${opts.growth} a step, up to ${opts.maxSteps} steps) from ${Object.entries(opts.startParticipants).map(([n, p]) => `${p} (rooms of ${n})`).join(', ')} participants;
a step passes with ≤ ${MAX_LOSS * 100} % of due deliveries dropped by the server (its own drop counter on /metrics: our relay's
buffer bound, the ws design's) and p99 delivery ≤ ${MAX_P99_MS} ms. *Not received by the end* counts deliveries the generator had
not read 2 s after the last send: late, in socket buffers, when the generator itself is starved. A step where that
exceeds ${MAX_UNRECEIVED * 100} % measured the generator, not the server: the ramp stops before it. A step that met the loss limit
and broke the p99 limit while the server had headroom (under ${SERVER_BUSY_PCT} % of its core) and the generator saturated (or the
other cores, the generators' and nats-server's, or the whole machine were ≥ ${MACHINE_BUSY_SHARE * 100} % busy) is accepted with its p99 *not judged*: the latency measured was that of starved generator
processes reading their sockets late, and the ramp stops there, the generator having no more to give. A server at
${SERVER_BUSY_PCT} % of its core or more is the bottleneck: its p99 counts, whatever else was busy (bench/capacity.ts judgeStep). ${opts.warmupMs} ms warm-up, ${opts.durationMs} ms
measured per step, ${opts.generators} load-generator processes. ${placement.pinned ? `The server under test was pinned to core 0, generators and nats-server to core ${placement.otherCpus} (taskset -a).` : 'Nothing was pinned.'}

**Participants per core** = 10⁶ µs ÷ (the server's CPU µs per delivered frame × ${MEDIA_FRAMES_PER_SEC} × (N − 1) deliveries a participant
causes per second), at the largest accepted step (user + system time from /proc/<pid>/stat over the window; the RTT
echoes, pings and timers are in that CPU too). Per delivered frame, so that frames a system dropped do not flatter it. On this shared 2-core machine the server never has a core to
itself and the generator (${opts.generators} Node processes receiving every delivery) runs out before the server does, so
the figure is projected from the CPU the server actually spent, which assumes cost grows linearly with load (per-frame
costs fall a little as batches grow, so the projection errs low). The operator's sizing (topology/relay-sizing.ts) is
derived from our relay's figure.

${summary}

${table}
`;
  return {
    name: 'capacity', title: 'Capacity', rows, details, figures,
    raw: { options: opts, mediaMix: MEDIA_MIX, placement, figures: figures.map((f) => ({ ...f, passed: f.passed && strip(f.passed), carried: f.carried && strip(f.carried) })), steps: steps.map(strip) },
  };
}

function strip(s: CapacityStep): Omit<CapacityStep, 'latencyHistogram'> {
  const { latencyHistogram: _h, ...rest } = s;
  return rest;
}
