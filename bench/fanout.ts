// 1. Relay fan-out: one room of N participants, everyone sending, on our relay, on the ws
// yardstick and straight on NATS, against the same nats-server, interleaved config by config.
import os from 'node:os';
import { benchEnv } from './env';
import { closeAll, connectAll, natsParticipant, runLoad, sleep, wsParticipant, type Participant, type RunResult } from './load';
import { fmt, markdownTable, type BenchResult, type Row } from './report';

export interface FanoutOptions {
  roomSizes: number[];
  frameBytes: number[];
  /** video-like rate per sender */
  fps: number;
  warmupMs: number;
  durationMs: number;
  /** saturation runs per configuration and window; the best is reported (the machine is shared) */
  repeats: number;
}

export const FANOUT_FULL: FanoutOptions = { roomSizes: [2, 5, 20], frameBytes: [1024, 10240], fps: 30, warmupMs: 700, durationMs: 3000, repeats: 2 };
export const FANOUT_QUICK: FanoutOptions = { roomSizes: [2, 5], frameBytes: [1024], fps: 30, warmupMs: 200, durationMs: 500, repeats: 1 };

/**
 * Saturation is closed-loop: bytes in flight (sent, not yet delivered everywhere) over the whole
 * room. Each system runs at every budget and its best is kept: uWS slows down when a receiver's
 * send buffer grows (shallow is best for it), the `ws` library and NATS batch better when deep.
 */
const IN_FLIGHT_BUDGETS = [128 * 1024, 1024 * 1024];
const windowFor = (budget: number, frameBytes: number, roomSize: number) => Math.max(2, Math.floor(budget / (frameBytes * roomSize)));

export const TARGET_VS_WS = 3;
export const TARGET_VS_NATS = 0.5;

const SYSTEMS = ['relay', 'ws', 'nats'] as const;
type System = (typeof SYSTEMS)[number];
const SYSTEM_LABEL: Record<System, string> = { relay: 'our relay (uWS)', ws: '`ws` yardstick', nats: 'raw NATS' };

export interface FanoutMeasurement {
  system: System;
  roomSize: number;
  frameBytes: number;
  phase: 'video' | 'saturation';
  offeredPerSec?: number;
  window?: number;
  best: RunResult;
  runs: RunResult[];
}

export interface FanoutResult extends BenchResult {
  /** our relay's saturation delivered frames/s by `${roomSize}/${frameBytes}` */
  relayMax: Record<string, number>;
}

export async function benchFanout(opts: FanoutOptions, log: (s: string) => void): Promise<FanoutResult> {
  const env = await benchEnv();
  const measurements: FanoutMeasurement[] = [];
  const pids = { nats: env.nats.pid, relay: env.relay.pid, ws: env.wsRelay.pid };
  const open: Record<System, (room: string, i: number) => Promise<Participant>> = {
    relay: (room, i) => wsParticipant(`ws://127.0.0.1:${env.relay.port}`, room, i),
    ws: (room, i) => wsParticipant(`ws://127.0.0.1:${env.wsRelay.port}`, room, i),
    nats: (room, i) => natsParticipant(env.nats.url, room, i),
  };
  const cpuPids = (s: System): Record<string, number> => (s === 'nats' ? { nats: pids.nats } : { server: s === 'relay' ? pids.relay : pids.ws, nats: pids.nats });

  for (const n of opts.roomSizes) {
    const rooms = {} as Record<System, Participant[]>;
    try {
      for (const s of SYSTEMS) rooms[s] = await connectAll(n, (i) => open[s](`fanout-${s}-${n}-${process.pid}`, i));
      await sleep(300); // joins and announcements settle
      for (const size of opts.frameBytes) {
        for (const s of SYSTEMS) {
          const r = await runLoad({ participants: rooms[s], frameBytes: size, mode: { kind: 'rate', fps: opts.fps }, warmupMs: opts.warmupMs, durationMs: opts.durationMs, cpuPids: cpuPids(s) });
          measurements.push({ system: s, roomSize: n, frameBytes: size, phase: 'video', offeredPerSec: n * opts.fps * (n - 1), best: r, runs: [r] });
          log(`fanout ${s} N=${n} ${size}B video: ${fmt.rate(r.deliveredPerSec)} fr/s p50 ${fmt.ms(r.latencyMs.p50)} p99 ${fmt.ms(r.latencyMs.p99)} ms`);
        }
        const runs: Record<System, Array<RunResult & { window: number }>> = { relay: [], ws: [], nats: [] };
        for (let k = 0; k < opts.repeats; k++) {
          for (const budget of IN_FLIGHT_BUDGETS) {
            const window = windowFor(budget, size, n);
            for (const s of SYSTEMS) {
              const r = await runLoad({ participants: rooms[s], frameBytes: size, mode: { kind: 'saturate', window }, warmupMs: opts.warmupMs, durationMs: opts.durationMs, cpuPids: cpuPids(s) });
              runs[s].push({ ...r, window });
              log(`fanout ${s} N=${n} ${size}B saturation window ${window}: ${fmt.rate(r.deliveredPerSec)} fr/s p50 ${fmt.ms(r.latencyMs.p50)} p99 ${fmt.ms(r.latencyMs.p99)} ms cpu ${JSON.stringify(r.cpu)}`);
            }
          }
        }
        for (const s of SYSTEMS) {
          const best = runs[s].reduce((a, b) => (b.deliveredPerSec > a.deliveredPerSec ? b : a));
          measurements.push({ system: s, roomSize: n, frameBytes: size, phase: 'saturation', window: best.window, best, runs: runs[s] });
        }
      }
    } finally {
      await Promise.all(Object.values(rooms).map((ps) => closeAll(ps)));
    }
  }
  return report(opts, measurements);
}

const kb = (bytes: number) => `${bytes / 1024} KB`;
const figure = (r: RunResult) => `${fmt.rate(r.deliveredPerSec)} fr/s, p50 ${fmt.ms(r.latencyMs.p50)} / p99 ${fmt.ms(r.latencyMs.p99)} ms`;

function report(opts: FanoutOptions, ms: FanoutMeasurement[]): FanoutResult {
  const find = (s: System, n: number, size: number, phase: FanoutMeasurement['phase']) =>
    ms.find((m) => m.system === s && m.roomSize === n && m.frameBytes === size && m.phase === phase)!;
  const rows: Row[] = [];
  const relayMax: Record<string, number> = {};
  for (const n of opts.roomSizes) {
    for (const size of opts.frameBytes) {
      const config = `${n} participants, ${kb(size)} frames`;
      const v = { relay: find('relay', n, size, 'video'), ws: find('ws', n, size, 'video'), nats: find('nats', n, size, 'video') };
      rows.push({
        benchmark: 'Fan-out, video rate',
        configuration: `${config}, ${opts.fps} fps each (offered ${fmt.rate(v.relay.offeredPerSec!)} fr/s)`,
        ours: figure(v.relay.best),
        yardstick: `ws: ${figure(v.ws.best)}; NATS: ${figure(v.nats.best)}`,
        ratio: `${fmt.ratio(v.relay.best.deliveredPerSec / v.ws.best.deliveredPerSec)} ws`,
        target: '—',
        result: 'no target',
      });
      const s = { relay: find('relay', n, size, 'saturation'), ws: find('ws', n, size, 'saturation'), nats: find('nats', n, size, 'saturation') };
      relayMax[`${n}/${size}`] = s.relay.best.deliveredPerSec;
      const vsWs = s.relay.best.deliveredPerSec / s.ws.best.deliveredPerSec;
      const vsNats = s.relay.best.deliveredPerSec / s.nats.best.deliveredPerSec;
      const c = s.relay.best.cpu;
      const cpu = `CPU during our best run: relay ${c.server} %, nats-server ${c.nats} %, load generator ${c.loadgen} % of a core; whole machine ${c.machine} % of ${os.cpus().length * 100} % (the rest is other work on the shared machine)`;
      rows.push({
        benchmark: 'Fan-out, saturation',
        configuration: `${config}, vs ws yardstick`,
        ours: figure(s.relay.best),
        yardstick: figure(s.ws.best),
        ratio: fmt.ratio(vsWs),
        target: `≥ ${TARGET_VS_WS}×`,
        result: vsWs >= TARGET_VS_WS ? 'met' : 'missed',
        note: vsWs >= TARGET_VS_WS ? undefined : `${cpu}. See the analysis below`,
      });
      rows.push({
        benchmark: 'Fan-out, saturation',
        configuration: `${config}, vs raw NATS`,
        ours: figure(s.relay.best),
        yardstick: figure(s.nats.best),
        ratio: fmt.pct(vsNats),
        target: `≥ ${TARGET_VS_NATS * 100} %`,
        result: vsNats >= TARGET_VS_NATS ? 'met' : 'missed',
        note: vsNats >= TARGET_VS_NATS ? undefined : `${cpu}. See the analysis below`,
      });
    }
  }
  const detail = markdownTable(
    ['Room', 'Frame', 'Phase', 'System', 'Delivered fr/s', 'Sent fr/s', 'p50 ms', 'p99 ms', 'Lost', 'CPU % (server / nats / load gen)', `Machine busy % (of ${os.cpus().length * 100})`],
    ms.map((m) => [
      String(m.roomSize), kb(m.frameBytes), m.phase === 'video' ? `${opts.fps} fps` : `saturation (window ${m.window})`, SYSTEM_LABEL[m.system],
      fmt.rate(m.best.deliveredPerSec), fmt.rate(m.best.sentPerSec), fmt.ms(m.best.latencyMs.p50), fmt.ms(m.best.latencyMs.p99), String(m.best.lost),
      `${m.best.cpu.server ?? '—'} / ${m.best.cpu.nats} / ${m.best.cpu.loadgen}`, String(m.best.cpu.machine),
    ]),
  );
  const details = `
Every participant of the room sends MEDIA PacketWrappers (built with protocol/'s encoders; MediaPacket.timestamp = send time)
and receives everyone else's; latency = receive time − send time on the same clock (one load-generator process).
Delivered frames/s counts frames received by all receivers. Our relay and the yardstick are reached over WebSocket
(\`ws\` clients, no compression); raw NATS participants have one connection each (echo off), subscribe \`room.R.*\` and
publish on their own subject: the same deliveries with no relay in between. The three systems use the same nats-server and
take turns configuration by configuration. *Video rate*: ${opts.fps} frames/s per sender, offered load N·${opts.fps}·(N−1)
deliveries/s. *Saturation*: closed loop, each sender keeps at most *window* frames not yet delivered to every receiver
and never more than 1 MiB queued in its socket, so the rate is what the system delivers; latency then includes that queue
(Little's law). Each system runs with windows for ${IN_FLIGHT_BUDGETS.map((b) => `${b / 1024} KiB`).join(' and ')} in flight per room
(${opts.repeats} run(s) each) and its best run is reported, with its window. ${opts.warmupMs} ms warm-up, ${opts.durationMs} ms measured. CPU: % of one core over the measured window
(the load generator is one Node process for all participants).

${detail}
`;
  return { name: 'fanout', title: 'Relay fan-out', rows, details, raw: { options: opts, inFlightBudgetsBytes: IN_FLIGHT_BUDGETS, measurements: ms }, relayMax };
}
