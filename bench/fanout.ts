// 1. Relay fan-out: rooms of N participants, everyone sending as fast as the system delivers, on
// our relay, on the ws yardstick and straight on NATS (same nats-server), taking turns run by run.
// What is compared is the CPU time each system spends per delivered frame, from the processes' own
// accounting (/proc/<pid>/stat); throughput is shown beside it, with the generator's own CPU.
import os from 'node:os';
import { benchEnv } from './env';
import { Generators, type GeneratedRun } from './generators';
import { sleep } from './load';
import { placeSystem, placement, release } from './procs';
import { fmt, markdownTable, verdict, withRange, type BenchResult, type Row } from './report';
import { spread } from './stats';

export interface FanoutOptions {
  roomSizes: number[];
  frameBytes: number;
  /** rooms of each size, spread over the generator processes */
  rooms: number;
  /** load-generator processes */
  generators: number;
  warmupMs: number;
  durationMs: number;
  /** runs per system and configuration, interleaved; the spread is reported */
  repeats: number;
}

export const FANOUT_FULL: FanoutOptions = { roomSizes: [2, 5, 20, 50], frameBytes: 1024, rooms: 2, generators: 2, warmupMs: 600, durationMs: 2500, repeats: 3 };
export const FANOUT_QUICK: FanoutOptions = { roomSizes: [5], frameBytes: 1024, rooms: 2, generators: 2, warmupMs: 150, durationMs: 300, repeats: 1 };

/** Closed loop: at most this many bytes sent and not yet delivered everywhere, per room. */
const IN_FLIGHT_BUDGET = 256 * 1024;
const windowFor = (frameBytes: number, roomSize: number) => Math.max(2, Math.floor(IN_FLIGHT_BUDGET / (frameBytes * roomSize)));

/** Our relay's CPU per delivered frame over the `ws` design's: ≤ ½ in rooms of 2, ≤ ⅓ from 5 up. */
export const targetCpuRatio = (roomSize: number) => (roomSize >= 5 ? 1 / 3 : 1 / 2);
export const TARGET_VS_NATS = 0.5;

const SYSTEMS = ['relay', 'ws', 'nats'] as const;
export type System = (typeof SYSTEMS)[number];
const SYSTEM_LABEL: Record<System, string> = { relay: 'our relay (uWS)', ws: '`ws` design', nats: 'raw NATS' };

export interface FanoutRun extends GeneratedRun {
  system: System;
  roomSize: number;
  repeat: number;
  window: number;
  /** CPU µs per delivered frame: the server process (relay or ws design) and nats-server */
  serverUsPerFrame: number;
  natsUsPerFrame: number;
}

export interface FanoutResult extends BenchResult {
  /**
   * the smaller of our relay's and raw NATS's median delivered frames/s for ONE room, by
   * `${roomSize}/${frameBytes}`: a load both paths carry (the latency benchmark runs at half of it)
   */
  commonMax: Record<string, number>;
}

const usPerFrame = (pct: number | undefined, r: GeneratedRun) =>
  pct === undefined || r.deliveredInWindow === 0 ? NaN : ((pct / 100) * r.windowMs * 1000) / r.deliveredInWindow;

export async function benchFanout(opts: FanoutOptions, log: (s: string) => void): Promise<FanoutResult> {
  const env = await benchEnv();
  const gens = await Generators.start(opts.generators);
  const runs: FanoutRun[] = [];
  const url: Record<System, string> = { relay: `ws://127.0.0.1:${env.relay.port}`, ws: `ws://127.0.0.1:${env.wsRelay.port}`, nats: env.nats.url };
  const sut: Record<System, number> = { relay: env.relay.pid, ws: env.wsRelay.pid, nats: env.nats.pid };
  const all = [env.relay.pid, env.wsRelay.pid, env.nats.pid, ...gens.pids];
  try {
    for (const n of opts.roomSizes) {
      let base = 0;
      const assign = (s: System) => Array.from({ length: opts.rooms }, (_, r) => ({
        room: `fanout-${s}-${n}-${r}-${process.pid}`,
        indices: Array.from({ length: n }, () => base++),
      }));
      try {
        for (const s of SYSTEMS) await gens.open(s, s === 'nats' ? 'nats' : 'ws', url[s], assign(s));
        await sleep(300); // joins and announcements settle
        const window = windowFor(opts.frameBytes, n);
        for (let k = 0; k < opts.repeats; k++) {
          for (const s of SYSTEMS) {
            placeSystem([sut[s]], all.filter((p) => p !== sut[s]));
            const cpuPids: Record<string, number> = s === 'nats' ? { nats: env.nats.pid } : { server: sut[s], nats: env.nats.pid };
            const r = await gens.run(s, { frameBytes: opts.frameBytes, mode: { kind: 'saturate', window }, warmupMs: opts.warmupMs, durationMs: opts.durationMs }, cpuPids);
            const run: FanoutRun = {
              ...r, system: s, roomSize: n, repeat: k + 1, window,
              serverUsPerFrame: usPerFrame(s === 'nats' ? r.cpu.nats : r.cpu.server, r),
              natsUsPerFrame: s === 'nats' ? NaN : usPerFrame(r.cpu.nats, r),
            };
            runs.push(run);
            log(`fanout ${s} N=${n} #${k + 1}: ${fmt.rate(r.deliveredPerSec)} fr/s p99 ${fmt.ms(r.latencyMs.p99)} ms; ${fmt.us(run.serverUsPerFrame)} µs/frame (+nats ${fmt.us(run.natsUsPerFrame)}); gen ${r.loadgen.totalPct} %${r.generatorSaturated ? ' SATURATED' : ''}; machine ${r.cpu.machine} %`);
          }
        }
      } finally {
        for (const s of SYSTEMS) await gens.close(s).catch(() => undefined);
      }
    }
  } finally {
    release(all);
    await gens.stop();
  }
  return report(opts, runs);
}


function report(opts: FanoutOptions, runs: FanoutRun[]): FanoutResult {
  const rows: Row[] = [];
  const commonMax: Record<string, number> = {};
  const of = (s: System, n: number) => runs.filter((r) => r.system === s && r.roomSize === n);
  const kb = `${opts.frameBytes / 1024} KB`;
  for (const n of opts.roomSizes) {
    const rs = { relay: of('relay', n), ws: of('ws', n), nats: of('nats', n) };
    const cpu = (s: System) => spread(rs[s].map((r) => r.serverUsPerFrame));
    const natsCpu = (s: System) => spread(rs[s].map((r) => r.natsUsPerFrame));
    const rate = (s: System) => spread(rs[s].map((r) => r.deliveredPerSec));
    commonMax[`${n}/${opts.frameBytes}`] = Math.min(rate('relay').median, rate('nats').median) / opts.rooms;
    // ratios pair the runs of one repeat (they ran back to back)
    const cpuRatio = spread(rs.relay.map((r, i) => r.serverUsPerFrame / (rs.ws[i]?.serverUsPerFrame ?? NaN)));
    const rateRatio = spread(rs.relay.map((r, i) => r.deliveredPerSec / (rs.nats[i]?.deliveredPerSec ?? NaN)));
    const target = targetCpuRatio(n);
    const config = `${opts.rooms} rooms of ${n}, ${kb} frames, saturation`;
    const saturated = (s: System) => rs[s].filter((r) => r.generatorSaturated).length;
    const genNote = (s: System) => (saturated(s) > 0 ? `the load generator saturated in ${saturated(s)} of ${rs[s].length} ${SYSTEM_LABEL[s]} runs` : undefined);
    rows.push({
      benchmark: 'Fan-out, CPU per frame',
      configuration: config,
      ours: `relay ${withRange(cpu('relay'), fmt.us)} µs/frame (+ nats-server ${fmt.us(natsCpu('relay').median)})`,
      yardstick: `ws design ${withRange(cpu('ws'), fmt.us)} µs/frame (+ nats-server ${fmt.us(natsCpu('ws').median)}); raw NATS: nats-server ${fmt.us(cpu('nats').median)}`,
      ratio: withRange(cpuRatio, (v) => v.toFixed(2)),
      target: `≤ ${target === 0.5 ? '½' : '⅓'}`,
      ...verdict(cpuRatio, (v) => v <= target, 'ratio'),
    });
    const notes = [genNote('relay'), genNote('nats')].filter(Boolean);
    const vsNats = verdict(rateRatio, (v) => v >= TARGET_VS_NATS, 'ratio');
    rows.push({
      benchmark: 'Fan-out, throughput vs raw NATS',
      configuration: config,
      ours: `${withRange(rate('relay'), fmt.rate)} fr/s, p99 ${fmt.ms(spread(rs.relay.map((r) => r.latencyMs.p99)).median)} ms`,
      yardstick: `raw NATS ${withRange(rate('nats'), fmt.rate)} fr/s, p99 ${fmt.ms(spread(rs.nats.map((r) => r.latencyMs.p99)).median)} ms; ws design ${fmt.rate(rate('ws').median)} fr/s`,
      ratio: withRange(rateRatio, fmt.pct),
      target: `≥ ${TARGET_VS_NATS * 100} %`,
      result: vsNats.result,
      note: [vsNats.note, notes.length > 0 ? `${notes.join('; ')}: throughput there is a floor set by the generator, the CPU per frame row is the measure` : undefined].filter(Boolean).join('; ') || undefined,
    });
  }
  const cores = os.cpus().length;
  const detail = markdownTable(
    ['Room', 'System', 'Run', 'Delivered fr/s', 'p50 ms', 'p99 ms', 'Lost', 'Server µs/frame', 'nats-server µs/frame', 'CPU % server (kernel part) / nats', 'Load gen CPU % (processes)', `Machine busy % (of ${cores * 100})`],
    runs.map((r) => [
      `${opts.rooms}×${r.roomSize}`, SYSTEM_LABEL[r.system], String(r.repeat), fmt.rate(r.deliveredPerSec), fmt.ms(r.latencyMs.p50), fmt.ms(r.latencyMs.p99), String(r.lost),
      fmt.us(r.serverUsPerFrame), fmt.us(r.natsUsPerFrame), `${r.cpu.server ?? '—'}${r.cpu.serverSys !== undefined ? ` (${r.cpu.serverSys})` : ''} / ${r.cpu.nats}${r.system === 'nats' ? ` (${r.cpu.natsSys})` : ''}`,
      `${r.loadgen.totalPct} (${r.loadgen.processes})${r.generatorSaturated ? ' **saturated**' : ''}`, String(r.cpu.machine),
    ]),
  );
  const details = `
${opts.rooms} rooms of N participants per configuration; every participant sends MEDIA PacketWrappers of ${kb} (built with
protocol/'s encoders; MediaPacket.timestamp = send time on CLOCK_MONOTONIC) and receives everyone else's in its room. Our
relay and the \`ws\` design are reached over WebSocket (\`ws\` clients, no compression); raw NATS participants have one
connection each (echo off), subscribe \`room.R.*\` and publish on their own subject: the same deliveries with no relay in
between. Closed loop: each sender keeps at most *window* = ${fmt.bytes(IN_FLIGHT_BUDGET)} / (frame × N) frames not yet
delivered to every receiver, so the rate is what the system delivers. ${opts.repeats} run(s) per system, interleaved
(relay, ws, NATS, relay, …), ${opts.warmupMs} ms warm-up, ${opts.durationMs} ms measured.

**CPU per delivered frame** = the process's user + system time over the measured window (from /proc/<pid>/stat) ÷ frames
delivered in it: for our relay and the \`ws\` design the server process itself, with nats-server shown beside it; for
raw NATS, nats-server. The ratio row pairs the runs of one repeat (they ran back to back) and shows the median and the
range over repeats; a target is *met* only when every repeat meets it, and says so when only the median does.

**Load generator:** ${opts.generators} processes (bench/loadgen-worker.ts), whole rooms spread over them. A run is marked
*saturated* when the generators used ≥ 85 % of the CPU they may use (or one of them ≥ 85 % of a core): there the rate is
the generator's, not the system's. **CPU placement:** ${placement.pinned
    ? `the system under test (our relay, the ws design, or nats-server for raw NATS) was pinned to core 0 with \`taskset -a\` for its runs, and every other process of the benchmark (generators, the other servers, nats-server behind a relay) to core ${placement.otherCpus}; the machine's other work was not ours to move and still ran on both`
    : 'nothing was pinned (fewer than 2 cores, or no taskset)'}.

${detail}
`;
  return { name: 'fanout', title: 'Relay fan-out', rows, details, raw: { options: opts, inFlightBudgetBytes: IN_FLIGHT_BUDGET, placement, runs: runs.map(({ latencyHistogram: _h, ...r }) => r) }, commonMax };
}
