// 6. Capacity: how many participants of a real call (MEDIA_MIX) one relay core carries, per room
// size, with ≤ 0.1 % of frames lost and p99 delivery ≤ 50 ms; the `ws` design the same way. Load
// grows step by step (more rooms) until a limit fails or the load generator saturates.
import os from 'node:os';
import { benchEnv } from './env';
import { Generators, type GeneratedRun, type GeneratorKind } from './generators';
import { DRAIN_MS, MEDIA_BYTES_PER_SEC, MEDIA_FRAMES_PER_SEC, MEDIA_MIX, sleep } from './load';
import { placeSystem, placement, release, rssBytes } from './procs';
import { fmt, markdownTable, verdict, withRange, type BenchResult, type Row } from './report';
import { spread, type Spread } from './stats';

export interface CapacityOptions {
  roomSizes: number[];
  /** participants of the first step, by room size (rounded up to whole rooms) */
  startParticipants: Record<number, number>;
  /** each step multiplies the participants by this */
  growth: number;
  maxSteps: number;
  generators: number;
  /** the C generator (bench/native/wsload.c) costs a fraction of the Node one per frame */
  generatorKind: GeneratorKind;
  warmupMs: number;
  durationMs: number;
  /** run a failing step once more before taking the failure */
  retryFailed: boolean;
  /** ramps per system and room size, the two systems' ramps alternating (figures are medians with their range) */
  repeats: number;
  /** unmeasured load at the first step's size before each ramp, so no ramp measures a cold process */
  serverWarmupMs: number;
}

export const CAPACITY_FULL: CapacityOptions = {
  roomSizes: [2, 5, 20, 50], startParticipants: { 2: 100, 5: 50, 20: 40, 50: 50 }, growth: 2, maxSteps: 5, generators: 2, generatorKind: 'native', warmupMs: 1000, durationMs: 3000, retryFailed: true, repeats: 3, serverWarmupMs: 3000,
};
export const CAPACITY_QUICK: CapacityOptions = {
  roomSizes: [5], startParticipants: { 5: 10 }, growth: 2, maxSteps: 1, generators: 2, generatorKind: 'native', warmupMs: 300, durationMs: 500, retryFailed: false, repeats: 1, serverWarmupMs: 0,
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
  /** which ramp of this system and room size (0 …) */
  repeat: number;
  participants: number;
  rssBytes: number;
  lossRatio: number;
  /** frames the server itself dropped (its /metrics drop counter) during the step */
  serverDrops: number;
  /** what the step says about the server (judgeStep) */
  verdict: StepVerdict;
  /** the generators or their cores were the bottleneck (generatorBound) */
  generatorBound: boolean;
  serverUsPerFrame: number;
}

/**
 * - `pass`: both limits met;
 * - `fail`: a limit broken;
 * - `generator behind`: the generator left too many deliveries unread to measure anything.
 * There is no exemption: a latency limit broken while the load generator was starved is still broken.
 * With the C generator (bench/native/wsload.c) both servers' ramps end at their own limits on 2 cores;
 * with the Node one our relay was judged at loads well under its CPU limit (bench/analysis.md).
 */
export type StepVerdict = 'pass' | 'fail' | 'generator behind';

/** A machine busier than this share of the cores not the server's (%) delays the generators' reading. */
export const OTHERS_BUSY_SHARE = 0.95;

export interface StepFigures {
  /** frames the server dropped ÷ deliveries due */
  lossRatio: number;
  p99Ms: number;
  deliveredInWindow: number;
  /** deliveries not read by the generator 2 s after the last send ÷ due */
  unreceivedRatio: number;
}

export function judgeStep(f: StepFigures): StepVerdict {
  if (f.unreceivedRatio > MAX_UNRECEIVED || f.deliveredInWindow === 0) return 'generator behind';
  return f.lossRatio <= MAX_LOSS && f.p99Ms <= MAX_P99_MS ? 'pass' : 'fail';
}

/**
 * Whether the load generator side was the bottleneck of a step: the generators saturated, or the
 * cores other than the server's (the generators' and nats-server's) were full. Said in the report;
 * it ends the ramp as "the generator", not "a limit".
 */
export function generatorBound(x: { generatorSaturated: boolean; machinePct: number; serverPct: number; cores: number }): boolean {
  return x.generatorSaturated || (x.cores > 1 && x.machinePct - x.serverPct >= OTHERS_BUSY_SHARE * (x.cores - 1) * 100);
}

export interface CapacityFigure {
  system: System;
  roomSize: number;
  repeat: number;
  /** the largest step that met both limits, if any */
  passed?: CapacityStep;
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
  summaries: CapacitySummary[];
}

export async function benchCapacity(opts: CapacityOptions, log: (s: string) => void): Promise<CapacityResult> {
  const env = await benchEnv();
  const gens = await Generators.start(opts.generators, opts.generatorKind);
  const steps: CapacityStep[] = [];
  const figures: CapacityFigure[] = [];
  const server = { relay: env.relay, ws: env.wsRelay };
  const all = [env.relay.pid, env.wsRelay.pid, env.nats.pid, ...gens.pids];
  let base = 0;
  /** One step: `rooms` rooms of `n` under the media mix; recorded unless it is a warm-up. */
  const runStep = async (s: System, n: number, rooms: number, label: string, repeat: number, warmupOnly = false): Promise<CapacityStep | undefined> => {
    const tag = `cap-${s}-${n}-${repeat}-${label}`;
    const assignment = Array.from({ length: rooms }, (_, r) => ({ room: `${tag}-${r}-${process.pid}`, indices: Array.from({ length: n }, () => base++ % 60_000) }));
    let r: GeneratedRun;
    let rss: number;
    let drops: number;
    try {
      await gens.open(tag, 'ws', `ws://127.0.0.1:${server[s].port}`, assignment);
      await sleep(500);
      const dropsBefore = await droppedFrames(server[s].port);
      const durationMs = warmupOnly ? opts.serverWarmupMs : opts.durationMs;
      r = await gens.run(tag, { frameBytes: 0, mode: { kind: 'media' }, warmupMs: opts.warmupMs, durationMs }, { server: server[s].pid, nats: env.nats.pid });
      rss = rssBytes(server[s].pid);
      drops = (await droppedFrames(server[s].port)) - dropsBefore;
    } finally {
      await gens.close(tag).catch(() => undefined);
    }
    if (warmupOnly) return undefined;
    // the server's own drop counter: frames a starved generator had not read by the end are late, not lost
    const lossRatio = r.expected === 0 ? 1 : Number.isFinite(drops) ? drops / r.expected : r.lost / r.expected;
    const verdict = judgeStep({ lossRatio, p99Ms: r.latencyMs.p99, deliveredInWindow: r.deliveredInWindow, unreceivedRatio: r.expected > 0 ? r.lost / r.expected : 0 });
    const step: CapacityStep = {
      ...r, system: s, roomSize: n, repeat, participants: rooms * n, rssBytes: rss, lossRatio, serverDrops: drops, verdict,
      generatorBound: generatorBound({ generatorSaturated: r.generatorSaturated, machinePct: r.cpu.machine, serverPct: r.cpu.server, cores: os.cpus().length }),
      serverUsPerFrame: r.deliveredInWindow > 0 ? ((r.cpu.server / 100) * r.windowMs * 1000) / r.deliveredInWindow : NaN,
    };
    steps.push(step);
    log(`capacity ${s} N=${n} ramp ${repeat + 1} ${step.participants} participants: ${verdict}${step.generatorBound ? ' (generator-bound)' : ''} dropped ${(lossRatio * 100).toFixed(3)} %, unreceived ${r.expected > 0 ? ((r.lost / r.expected) * 100).toFixed(1) : '—'} %, p99 ${fmt.ms(r.latencyMs.p99)} ms; server ${r.cpu.server} % (${fmt.us(step.serverUsPerFrame)} µs/frame), nats ${r.cpu.nats} %, gen ${r.loadgen.totalPct} %${r.generatorSaturated ? ' SATURATED' : ''}; machine ${r.cpu.machine} %`);
    return step;
  };
  try {
    for (const n of opts.roomSizes) {
      for (let repeat = 0; repeat < opts.repeats; repeat++) {
        // alternating which system goes first, so a drift of the machine does not favour either
        for (const s of repeat % 2 === 0 ? (['relay', 'ws'] as const) : (['ws', 'relay'] as const)) {
          placeSystem([server[s].pid], all.filter((p) => p !== server[s].pid));
          let rooms = Math.ceil((opts.startParticipants[n] ?? n) / n);
          if (opts.serverWarmupMs > 0) await runStep(s, n, rooms, 'warm-up', repeat, true);
          let passed: CapacityStep | undefined;
          let stoppedBy: CapacityFigure['stoppedBy'] = 'steps';
          let first: CapacityStep | undefined;
          for (let k = 0; k < opts.maxSteps; k++) {
            // a failing step is run once more: on a shared machine one stall can break a limit
            let step = (await runStep(s, n, rooms, `${k}`, repeat))!;
            if (opts.retryFailed && step.verdict === 'fail') step = (await runStep(s, n, rooms, `${k}-retry`, repeat))!;
            first ??= step;
            if (step.verdict !== 'pass') {
              stoppedBy = step.verdict === 'generator behind' || step.generatorBound ? 'generator' : 'limit';
              break;
            }
            passed = step;
            if (step.generatorBound) {
              stoppedBy = 'generator';
              break;
            }
            rooms = Math.max(rooms + 1, Math.round(rooms * opts.growth));
          }
          const basis = passed ?? first;
          figures.push({ system: s, roomSize: n, repeat, passed, stoppedBy, perCore: basis === undefined ? NaN : participantsPerCore(basis.serverUsPerFrame, n) });
        }
      }
    }
  } finally {
    release(all);
    await gens.stop();
  }
  return report(opts, steps, figures);
}

/** One room size over every ramp: each system's participants per core, and ours ÷ ws ramp by ramp. */
export interface CapacitySummary {
  roomSize: number;
  ours: Spread;
  ws: Spread;
  /** ours ÷ ws of the same ramp number (the two ramps ran back to back) */
  ratio: Spread;
  /** ws ÷ ours CPU per delivered frame at the largest load both passed, ramp by ramp */
  equalLoad: Spread;
  /** ramps of our relay in which no step passed */
  oursUnpassed: number;
}

export function summarize(figures: readonly CapacityFigure[], steps: readonly CapacityStep[], roomSize: number): CapacitySummary {
  const ramps = (s: System) => figures.filter((f) => f.system === s && f.roomSize === roomSize);
  const ours = ramps('relay');
  const ws = ramps('ws');
  const ratios = ours.flatMap((o) => {
    const w = ws.find((x) => x.repeat === o.repeat);
    return w === undefined ? [] : [o.perCore / w.perCore];
  });
  const equal = ours.map((o) => equalLoadRatio(steps.filter((x) => x.repeat === o.repeat), roomSize)?.ratio ?? NaN);
  return {
    roomSize,
    ours: spread(ours.map((f) => f.perCore)),
    ws: spread(ws.map((f) => f.perCore)),
    ratio: spread(ratios),
    equalLoad: spread(equal),
    oursUnpassed: ours.filter((f) => f.passed === undefined).length,
  };
}

/** Met when every ramp's ratio meets the target; within the noise when only the median does (bench/report.ts verdict). */
export function capacityVerdict(c: CapacitySummary): Pick<Row, 'result' | 'note'> {
  if (c.ratio.n === 0) return { result: 'not measured', note: 'no CPU figure for one of the systems' };
  if (c.oursUnpassed > 0) return { result: 'missed', note: `no step of our relay passed in ${c.oursUnpassed} ramp(s) (see the steps); see the analysis below` };
  return verdict(c.ratio, (r) => r >= TARGET_CAPACITY_VS_WS, 'ratio');
}

/**
 * Our relay's CPU per delivered frame against the `ws` design's at the largest load both passed:
 * the same participants, the same frames. Said beside the projected figures, which come from
 * different loads.
 */
export function equalLoadRatio(steps: readonly CapacityStep[], roomSize: number): { participants: number; ratio: number } | undefined {
  const passed = (s: System) => new Map(steps.filter((x) => x.system === s && x.roomSize === roomSize && x.verdict === 'pass').map((x) => [x.participants, x]));
  const ours = passed('relay');
  const ws = passed('ws');
  const common = [...ours.keys()].filter((p) => ws.has(p));
  if (common.length === 0) return undefined;
  const participants = Math.max(...common);
  return { participants, ratio: ws.get(participants)!.serverUsPerFrame / ours.get(participants)!.serverUsPerFrame };
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

const GENERATOR_TEXT: Record<GeneratorKind, string> = {
  native: 'C, bench/native/wsload.c: one socket per participant, RFC 6455 client frames with a fresh mask each, one write per participant per 5 ms tick and every delivery read and timed',
  node: 'Node, bench/load.ts',
};

/** What ended a ramp whose first step did not pass. */
const STOPPED_FIRST: Record<CapacityFigure['stoppedBy'], string> = {
  limit: 'it broke a limit',
  generator: 'the load generator saturated or fell behind',
  steps: 'no step passed',
};

function report(opts: CapacityOptions, steps: CapacityStep[], figures: CapacityFigure[]): CapacityResult {
  const rows: Row[] = [];
  const summaries = opts.roomSizes.map((n) => summarize(figures, steps, n));
  /** what each ramp of `s` carried: its largest passed step and what ended it */
  const carried = (s: System, n: number) => {
    const ramps = figures.filter((f) => f.system === s && f.roomSize === n);
    const passed = ramps.map((f) => (f.passed === undefined ? 'no step' : `${f.passed.participants} at ${f.passed.cpu.server} % of a core`));
    const ends = [...new Set(ramps.map((f) => (f.passed === undefined ? STOPPED_FIRST : STOPPED)[f.stoppedBy]))];
    return `largest passed step per ramp: ${passed.join(', ')}; then ${ends.join(' / ')}`;
  };
  const unit = (sp: Spread, n: number, s: System) => {
    const noneWs = s === 'ws' && figures.some((f) => f.system === 'ws' && f.roomSize === n && f.passed === undefined);
    return `${withRange(sp, fmt.count)} ${noneWs ? 'per core by CPU (a ramp passed no step: its figure is from the first step)' : 'participants per core'}`;
  };
  for (const c of summaries) {
    const n = c.roomSize;
    const v = capacityVerdict(c);
    const equalText = c.equalLoad.n === 0 ? '' : `at equal load (the largest both passed) ${withRange(c.equalLoad, fmt.ratio)} less CPU per delivered frame`;
    rows.push({
      benchmark: 'Capacity, media mix',
      configuration: `rooms of ${n}, ≤ ${MAX_LOSS * 100} % lost, p99 ≤ ${MAX_P99_MS} ms, ${c.ratio.n} ramps each`,
      ours: `${unit(c.ours, n, 'relay')} (${carried('relay', n)})`,
      yardstick: `ws design: ${unit(c.ws, n, 'ws')} (${carried('ws', n)})`,
      ratio: withRange(c.ratio, fmt.ratio),
      target: `≥ ${TARGET_CAPACITY_VS_WS}×`,
      ...v,
      note: [equalText, v.note].filter((t) => t !== undefined && t !== '').join('; ') || undefined,
    });
  }
  const cores = os.cpus().length;
  const table = markdownTable(
    ['Room', 'System', 'Ramp', 'Participants', 'Result', 'Dropped by the server %', 'Not received by the end %', 'p50 ms', 'p99 ms', 'Delivered fr/s', 'Server CPU % (kernel part)', 'Server µs/frame', 'nats-server CPU %', 'Server RSS', 'Load gen CPU % (processes)', `Machine busy % (of ${cores * 100})`],
    steps.map((x) => [
      String(x.roomSize), LABEL[x.system], String(x.repeat + 1), String(x.participants), `${x.verdict === 'fail' ? '**fail**' : x.verdict}${x.generatorBound ? ' (generator-bound)' : ''}`, (x.lossRatio * 100).toFixed(3), x.expected > 0 ? ((x.lost / x.expected) * 100).toFixed(1) : '—',
      fmt.ms(x.latencyMs.p50), fmt.ms(x.latencyMs.p99), fmt.rate(x.deliveredPerSec), `${x.cpu.server} (${x.cpu.serverSys})`, fmt.us(x.serverUsPerFrame), String(x.cpu.nats),
      fmt.bytes(x.rssBytes), `${x.loadgen.totalPct} (${x.loadgen.processes})${x.generatorSaturated ? ' **saturated**' : ''}`, String(x.cpu.machine),
    ]),
  );
  const summary = markdownTable(
    ['Room', 'Our relay: participants per core', 'ws design: participants per core', 'Ours ÷ ws (ramp by ramp)', 'ws ÷ ours CPU per frame at equal load'],
    summaries.map((c) => [String(c.roomSize), withRange(c.ours, fmt.count), withRange(c.ws, fmt.count), withRange(c.ratio, fmt.ratio), c.equalLoad.n === 0 ? '—' : withRange(c.equalLoad, fmt.ratio)]),
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
not read ${DRAIN_MS / 1000} s after the last send: late, in socket buffers, when the generator itself is starved. A step where that
exceeds ${MAX_UNRECEIVED * 100} % measured the generator, not the server: the ramp stops before it. A step
broken by one stall is run once more. No step is exempt from a limit: a p99 broken while the generators were starved
(they saturated, or the core they share with nats-server was ≥ ${OTHERS_BUSY_SHARE * 100} % busy: *generator-bound*) is broken all the same,
and the ramp stops there, the generators having no more to give (bench/capacity.ts judgeStep). ${opts.warmupMs} ms warm-up, ${opts.durationMs} ms
measured per step, ${opts.generators} load-generator processes (${GENERATOR_TEXT[opts.generatorKind]}).
Each system is ramped ${opts.repeats} time${opts.repeats === 1 ? '' : 's'} per room size, its ramps alternating with the other system's (which one goes first
alternates too)${opts.serverWarmupMs > 0 ? `, each after ${opts.serverWarmupMs} ms of unmeasured load at the first step so that no ramp measures a cold process` : ''}.
Figures are medians with their range; the ratio is taken ramp by ramp, and a target met by the median ratio but not by
every ramp says so. ${placement.pinned ? `The server under test was pinned to core 0, generators and nats-server to core ${placement.otherCpus} (taskset -a).` : 'Nothing was pinned.'}

**Participants per core** = 10⁶ µs ÷ (the server's CPU µs per delivered frame × ${MEDIA_FRAMES_PER_SEC} × (N − 1) deliveries a participant
causes per second), at the largest passed step (user + system time from /proc/<pid>/stat over the window; the RTT
echoes, pings and timers are in that CPU too). Per delivered frame, so that frames a system dropped do not flatter it. The
server's core also runs its receivers' loopback TCP work, and the ramp ends at the first ×${opts.growth} step that breaks a limit,
so the figure is projected from the CPU the server actually spent at the largest passed step, which assumes cost grows
linearly with load (per-frame costs fall a little as batches grow, so the projection errs low). The operator's sizing
(topology/relay-sizing.ts) is derived from our relay's figure.

${summary}

${table}
`;
  return {
    name: 'capacity', title: 'Capacity', rows, details, figures, summaries,
    raw: { options: opts, mediaMix: MEDIA_MIX, placement, summaries, figures: figures.map((f) => ({ ...f, passed: f.passed && strip(f.passed) })), steps: steps.map(strip) },
  };
}

function strip(s: CapacityStep): Omit<CapacityStep, 'latencyHistogram'> {
  const { latencyHistogram: _h, ...rest } = s;
  return rest;
}
