// 2. Added latency: client → relay A → NATS → relay B → client, minus client → NATS → client,
// one room of N split over two relays, at half the maximum load our relay reached in (1).
import os from 'node:os';
import { benchEnv } from './env';
import { closeAll, connectAll, natsParticipant, runLoad, sleep, wsParticipant, type Participant, type RunResult } from './load';
import { startRelay } from './procs';
import { fmt, type BenchResult, type Row } from './report';

export interface LatencyOptions {
  roomSize: number;
  frameBytes: number;
  warmupMs: number;
  durationMs: number;
}

export const LATENCY_FULL: LatencyOptions = { roomSize: 5, frameBytes: 1024, warmupMs: 1000, durationMs: 5000 };
export const LATENCY_QUICK: LatencyOptions = { roomSize: 5, frameBytes: 1024, warmupMs: 200, durationMs: 800 };

export const TARGET_ADDED_P99_MS = 1;

/**
 * `maxDeliveredPerSec`: our relay's saturation figure for this room and frame size from the fan-out
 * benchmark; measured here (one short saturation run) when that benchmark did not run.
 */
export async function benchLatency(opts: LatencyOptions, maxDeliveredPerSec: number | undefined, log: (s: string) => void): Promise<BenchResult> {
  const env = await benchEnv();
  const n = opts.roomSize;
  let maxSource = 'fan-out benchmark (1), saturation';
  if (maxDeliveredPerSec === undefined) {
    const ps = await connectAll(n, (i) => wsParticipant(`ws://127.0.0.1:${env.relay.port}`, `latency-max-${process.pid}`, i));
    try {
      await sleep(300);
      const window = Math.max(2, Math.floor((128 * 1024) / (opts.frameBytes * n)));
      const r = await runLoad({ participants: ps, frameBytes: opts.frameBytes, mode: { kind: 'saturate', window }, warmupMs: opts.warmupMs, durationMs: opts.durationMs });
      maxDeliveredPerSec = r.deliveredPerSec;
      maxSource = 'a saturation run of this benchmark (fan-out did not run)';
    } finally {
      await closeAll(ps);
    }
  }
  const targetDelivered = maxDeliveredPerSec / 2;
  const fps = targetDelivered / (n * (n - 1));
  log(`latency: max ${fmt.rate(maxDeliveredPerSec)} fr/s → ${fps.toFixed(0)} fps per sender`);

  const relayB = await startRelay({ natsUrl: env.nats.url, serverId: 'bench-b' });
  const room = `latency-${process.pid}`;
  let relayRun: RunResult;
  let natsRun: RunResult;
  let relayPs: Participant[] = [];
  let natsPs: Participant[] = [];
  try {
    // alternate participants between relay A and relay B, so every sender has receivers on the other one
    relayPs = await connectAll(n, (i) => wsParticipant(`ws://127.0.0.1:${i % 2 === 0 ? env.relay.port : relayB.port}`, room, i, i % 2));
    natsPs = await connectAll(n, (i) => natsParticipant(env.nats.url, `${room}-nats`, i));
    await sleep(300);
    relayRun = await runLoad({ participants: relayPs, frameBytes: opts.frameBytes, mode: { kind: 'rate', fps }, warmupMs: opts.warmupMs, durationMs: opts.durationMs, cpuPids: { relayA: env.relay.pid, relayB: relayB.pid, nats: env.nats.pid } });
    natsRun = await runLoad({ participants: natsPs, frameBytes: opts.frameBytes, mode: { kind: 'rate', fps }, warmupMs: opts.warmupMs, durationMs: opts.durationMs, cpuPids: { nats: env.nats.pid } });
  } finally {
    await closeAll(relayPs);
    await closeAll(natsPs);
    await relayB.stop();
  }
  const cross = relayRun.crossLatencyMs!;
  const direct = natsRun.latencyMs;
  const added = { p50: cross.p50 - direct.p50, p99: cross.p99 - direct.p99 };
  log(`latency: relay path p50 ${fmt.ms(cross.p50)} p99 ${fmt.ms(cross.p99)}; NATS p50 ${fmt.ms(direct.p50)} p99 ${fmt.ms(direct.p99)}`);
  const config = `${n} participants over 2 relays, ${opts.frameBytes / 1024} KB frames, ${fps.toFixed(0)} fps each (${fmt.rate(relayRun.deliveredPerSec)} fr/s delivered = ½ of ${fmt.rate(maxDeliveredPerSec)})`;
  const rows: Row[] = [
    {
      benchmark: 'Added latency',
      configuration: `${config}, p50`,
      ours: `+${fmt.ms(added.p50)} ms (relay path ${fmt.ms(cross.p50)} ms)`,
      yardstick: `direct NATS ${fmt.ms(direct.p50)} ms`,
      ratio: fmt.ratio(cross.p50 / direct.p50),
      target: '—',
      result: 'no target',
    },
    {
      benchmark: 'Added latency',
      configuration: `${config}, p99`,
      ours: `+${fmt.ms(added.p99)} ms (relay path ${fmt.ms(cross.p99)} ms)`,
      yardstick: `direct NATS ${fmt.ms(direct.p99)} ms`,
      ratio: fmt.ratio(cross.p99 / direct.p99),
      target: `≤ ${TARGET_ADDED_P99_MS} ms`,
      result: added.p99 <= TARGET_ADDED_P99_MS ? 'met' : 'missed',
      note: added.p99 <= TARGET_ADDED_P99_MS ? undefined
        : `two relays, nats-server and the load generator share ${os.cpus().length} cores (CPU: relay A ${relayRun.cpu.relayA} %, relay B ${relayRun.cpu.relayB} %, nats-server ${relayRun.cpu.nats} %, load generator ${relayRun.cpu.loadgen} %); the tail is scheduling delay`,
    },
  ];
  const details = `
Path measured: a participant on relay A sends, one on relay B receives (and the other way round): client → relay A →
nats-server → relay B → client. The same load is then offered to ${n} participants connected straight to nats-server
(client → nats-server → client). Added latency = relay-path percentile − direct-NATS percentile. Load: half of our
relay's maximum from ${maxSource} (${fmt.rate(maxDeliveredPerSec)} delivered fr/s for ${n} participants,
${opts.frameBytes / 1024} KB), i.e. ${fps.toFixed(0)} frames/s per sender. ${opts.durationMs} ms measured after ${opts.warmupMs} ms warm-up.
Senders are paced by a 1 ms timer, so frames leave in small bursts.

| Path | samples | p50 ms | p90 ms | p99 ms | max ms |
| --- | --- | --- | --- | --- | --- |
| client → relay A → NATS → relay B → client | ${cross.count} | ${fmt.ms(cross.p50)} | ${fmt.ms(cross.p90)} | ${fmt.ms(cross.p99)} | ${fmt.ms(cross.max)} |
| client → relay → client (same relay, local fan-out) | ${relayRun.sameLatencyMs?.count ?? 0} | ${fmt.ms(relayRun.sameLatencyMs?.p50 ?? NaN)} | ${fmt.ms(relayRun.sameLatencyMs?.p90 ?? NaN)} | ${fmt.ms(relayRun.sameLatencyMs?.p99 ?? NaN)} | ${fmt.ms(relayRun.sameLatencyMs?.max ?? NaN)} |
| client → NATS → client (direct) | ${direct.count} | ${fmt.ms(direct.p50)} | ${fmt.ms(direct.p90)} | ${fmt.ms(direct.p99)} | ${fmt.ms(direct.max)} |
`;
  return { name: 'latency', title: 'Added latency', rows, details, raw: { options: opts, maxDeliveredPerSec, maxSource, fpsPerSender: fps, added, relay: relayRun, nats: natsRun } };
}
