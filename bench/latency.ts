// 2. Added latency: client → relay A → NATS → relay B → client, minus client → NATS → client,
// one room of N split over two relays, at half the maximum load both paths reached in (1): the
// comparison means something only at a load the direct path carries too.
import os from 'node:os';
import { benchEnv } from './env';
import { Generators, type GeneratedRun } from './generators';
import { sleep, type RunOptions, type RunResult } from './load';
import { placeSystem, placement, release, startRelay } from './procs';
import { fmt, type BenchResult, type Row } from './report';
import { median, medianInterval, spread } from './stats';

export interface LatencyOptions {
  roomSize: number;
  frameBytes: number;
  warmupMs: number;
  durationMs: number;
  /**
   * relay and direct-NATS runs alternate this many times; the median of each figure is reported, and
   * the p99 target is judged on the 95 % confidence interval of the median pair (9 or more pairs)
   */
  repeats: number;
}

export const LATENCY_FULL: LatencyOptions = { roomSize: 5, frameBytes: 1024, warmupMs: 1000, durationMs: 3000, repeats: 9 };
export const LATENCY_QUICK: LatencyOptions = { roomSize: 5, frameBytes: 1024, warmupMs: 200, durationMs: 800, repeats: 1 };

export const TARGET_ADDED_P99_MS = 1;

interface Pair {
  relay: GeneratedRun;
  nats: GeneratedRun;
  addedP50: number;
  addedP99: number;
}

/**
 * `maxDeliveredPerSec`: the smaller of our relay's and raw NATS's saturation figures for one room of
 * this size and frame size, from the fan-out benchmark; measured here (one short saturation run of
 * each) when that benchmark did not run.
 */
export async function benchLatency(opts: LatencyOptions, maxDeliveredPerSec: number | undefined, log: (s: string) => void): Promise<BenchResult> {
  const env = await benchEnv();
  const n = opts.roomSize;
  const relayB = await startRelay({ natsUrl: env.nats.url, serverId: 'bench-b' });
  // the participants live in a fresh generator process: the benchmark's own heap (results of the runs
  // before) would add its garbage-collection pauses to both paths' tails
  const gens = await Generators.start(1);
  const room = `latency-${process.pid}`;
  const indices = Array.from({ length: n }, (_, i) => i);
  const pairs: Pair[] = [];
  let maxSource = 'the fan-out benchmark (1), saturation, the smaller of our relay\'s and raw NATS\'s';
  let fps: number;
  const relayA = `ws://127.0.0.1:${env.relay.port}`;
  try {
    // alternate participants between relay A and relay B, so every sender has receivers on the other one
    await gens.open('relay', 'ws', relayA, [{ room, indices, urls: indices.map((i) => (i % 2 === 0 ? relayA : `ws://127.0.0.1:${relayB.port}`)) }]);
    await gens.open('nats', 'nats', env.nats.url, [{ room: `${room}-nats`, indices }]);
    // both relays on core 0; the generator and nats-server on the other core, for both paths
    placeSystem([env.relay.pid, relayB.pid], [...gens.pids, env.nats.pid, env.wsRelay.pid]);
    await sleep(300);
    const run = (tag: 'relay' | 'nats' | 'max', mode: RunOptions['mode'], warmupMs: number, durationMs: number) =>
      gens.run(tag, { frameBytes: opts.frameBytes, mode, warmupMs, durationMs }, tag === 'nats' ? { nats: env.nats.pid } : { relayA: env.relay.pid, relayB: relayB.pid, nats: env.nats.pid });
    if (maxDeliveredPerSec === undefined) {
      await gens.open('max', 'ws', relayA, [{ room: `${room}-max`, indices }]);
      try {
        const saturate = { kind: 'saturate' as const, window: Math.max(2, Math.floor((128 * 1024) / (opts.frameBytes * n))) };
        maxDeliveredPerSec = Math.min((await run('max', saturate, opts.warmupMs, opts.durationMs)).deliveredPerSec, (await run('nats', saturate, opts.warmupMs, opts.durationMs)).deliveredPerSec);
        maxSource = 'saturation runs of this benchmark, the smaller of our relay\'s and direct NATS\'s (the fan-out benchmark did not run)';
      } finally {
        await gens.close('max');
      }
    }
    fps = maxDeliveredPerSec / 2 / (n * (n - 1));
    log(`latency: max ${fmt.rate(maxDeliveredPerSec)} fr/s → ${fps.toFixed(0)} fps per sender`);
    // one unmeasured pair first, as long as a measured one: relay B starts with this benchmark, and its
    // first seconds under load carry JIT compilation (the first measured pair's tail showed it)
    for (const tag of ['relay', 'nats'] as const) await run(tag, { kind: 'rate', fps }, opts.warmupMs, opts.durationMs);
    for (let k = 0; k < opts.repeats; k++) {
      const relay = await run('relay', { kind: 'rate', fps }, opts.warmupMs, opts.durationMs);
      const nats = await run('nats', { kind: 'rate', fps }, opts.warmupMs, opts.durationMs);
      const pair = { relay, nats, addedP50: relay.crossLatencyMs!.p50 - nats.latencyMs.p50, addedP99: relay.crossLatencyMs!.p99 - nats.latencyMs.p99 };
      pairs.push(pair);
      log(`latency #${k + 1}: relay path p50 ${fmt.ms(relay.crossLatencyMs!.p50)} p99 ${fmt.ms(relay.crossLatencyMs!.p99)}; NATS p50 ${fmt.ms(nats.latencyMs.p50)} p99 ${fmt.ms(nats.latencyMs.p99)}; machine ${relay.cpu.machine} %`);
    }
  } finally {
    release([...gens.pids, env.relay.pid, relayB.pid, env.nats.pid, env.wsRelay.pid]);
    for (const tag of ['relay', 'nats']) await gens.close(tag).catch(() => undefined);
    await gens.stop();
    await relayB.stop();
  }
  const med = (f: (p: Pair) => number) => median(pairs.map(f));
  const p99Spread = spread(pairs.map((p) => p.addedP99));
  // Established: the whole 95 % confidence interval of the median pair under the target. Distribution-free
  // (order statistics), so one run hit by a stall moves it by one rank, not the verdict.
  const p99Interval = medianInterval(pairs.map((p) => p.addedP99), 0.95);
  const p99Established = p99Interval !== undefined && p99Interval.high <= TARGET_ADDED_P99_MS;
  const added = { p50: med((p) => p.addedP50), p99: med((p) => p.addedP99) };
  const cross = { p50: med((p) => p.relay.crossLatencyMs!.p50), p99: med((p) => p.relay.crossLatencyMs!.p99) };
  const direct = { p50: med((p) => p.nats.latencyMs.p50), p99: med((p) => p.nats.latencyMs.p99) };
  const delivered = med((p) => p.relay.deliveredPerSec);
  const cores = os.cpus().length;
  const cpuText = (r: GeneratedRun) => `relay A ${r.cpu.relayA} %, relay B ${r.cpu.relayB} %, nats-server ${r.cpu.nats} %, load generator ${r.loadgen.totalPct} % of a core; whole machine ${r.cpu.machine} % of ${cores * 100} %`;
  const config = `${n} participants over 2 relays, ${opts.frameBytes / 1024} KB frames, ${fps.toFixed(0)} fps each (${fmt.rate(delivered)} fr/s delivered = ½ of ${fmt.rate(maxDeliveredPerSec)})`;
  const rows: Row[] = [
    {
      benchmark: 'Added latency',
      configuration: `${config}, p50`,
      ours: `${signedMs(added.p50)} ms (relay path ${fmt.ms(cross.p50)} ms)`,
      yardstick: `direct NATS ${fmt.ms(direct.p50)} ms`,
      ratio: fmt.ratio(cross.p50 / direct.p50),
      target: '—',
      result: 'no target',
    },
    {
      benchmark: 'Added latency',
      configuration: `${config}, p99`,
      ours: `${signedMs(added.p99)} ms, ${p99Interval === undefined ? 'no 95 % interval from' : `95 % interval of the median ${signedMs(p99Interval.low)} to ${signedMs(p99Interval.high)},`} range ${signedMs(p99Spread.min)} to ${signedMs(p99Spread.max)} over ${pairs.length} pairs (relay path ${fmt.ms(cross.p99)} ms)`,
      yardstick: `direct NATS ${fmt.ms(direct.p99)} ms`,
      ratio: fmt.ratio(cross.p99 / direct.p99),
      target: `≤ ${TARGET_ADDED_P99_MS} ms`,
      result: p99Established ? 'met' : 'missed',
      note: p99Established ? undefined
        : `${added.p99 <= TARGET_ADDED_P99_MS ? `the median pair meets it but ${p99Interval === undefined ? `${pairs.length} pairs give no 95 % interval` : 'its 95 % interval does not'}: not established (within the noise); ` : ''}the relay path crosses two relay processes and nats-server, all sharing ${cores} cores with the load generator and other work (${cpuText(pairs[0].relay)}, first run). See the analysis below`,
    },
  ];
  const row = (label: string, d: RunResult['latencyMs'] | undefined) =>
    d === undefined ? `| ${label} | 0 | — | — | — | — |` : `| ${label} | ${d.count} | ${fmt.ms(d.p50)} | ${fmt.ms(d.p90)} | ${fmt.ms(d.p99)} | ${fmt.ms(d.max)} |`;
  const details = `
Path measured: a participant on relay A sends, one on relay B receives (and the other way round): client → relay A →
nats-server → relay B → client. The same load is then offered to ${n} participants connected straight to nats-server
(client → nats-server → client). Added latency = relay-path percentile − direct-NATS percentile, per pair of runs; the
table shows the median over ${opts.repeats} alternating pair(s), and the target counts as met only when the whole 95 %
confidence interval of the median pair meets it (a spread that excludes the noise; distribution-free, from order
statistics: with 9 pairs the 2nd to the 8th, bench/stats.ts medianInterval). ${placement.pinned ? `Both relays were pinned to core 0, the generator (one fresh process) and nats-server to core ${placement.otherCpus} (taskset -a), for both paths.` : 'Nothing was pinned.'} Load: half the maximum from ${maxSource}
(${fmt.rate(maxDeliveredPerSec)} delivered fr/s for ${n} participants, ${opts.frameBytes / 1024} KB), i.e. ${fps.toFixed(0)} frames/s per sender.
${opts.durationMs} ms measured after ${opts.warmupMs} ms warm-up per run, after one unmeasured run of each path (relay B's JIT warm-up). Senders are paced by a 1 ms timer, so frames leave in small bursts.

| Run | Path | samples | p50 ms | p90 ms | p99 ms | max ms |
| --- | --- | --- | --- | --- | --- | --- |
${pairs.map((p, i) => [
    row(`${i + 1} | client → relay A → NATS → relay B → client`, p.relay.crossLatencyMs),
    row(`${i + 1} | client → relay → client (same relay)`, p.relay.sameLatencyMs),
    row(`${i + 1} | client → NATS → client (direct)`, p.nats.latencyMs),
  ].join('\n')).join('\n')}

CPU during the relay runs: ${pairs.map((p, i) => `run ${i + 1}: ${cpuText(p.relay)}`).join('; ')}.
`;
  return { name: 'latency', title: 'Added latency', rows, details, raw: { options: opts, maxDeliveredPerSec, maxSource, fpsPerSender: fps, added, pairs: pairs.map((p) => ({ ...p, relay: withoutHistogram(p.relay), nats: withoutHistogram(p.nats) })) } };
}

/** The raw figures keep the percentiles; the merged histogram behind them is thousands of buckets. */
function withoutHistogram(r: GeneratedRun): Omit<GeneratedRun, 'latencyHistogram'> {
  const { latencyHistogram: _h, ...rest } = r;
  return rest;
}

/** "+0.40", "−0.25": an added latency can come out negative when both paths are noisy. */
function signedMs(v: number): string {
  return `${v < 0 ? '−' : '+'}${fmt.ms(Math.abs(v))}`;
}
