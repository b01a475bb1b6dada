// 5. Memory: RSS of a fresh relay before and after 10 000 idle WebSocket sessions, per session;
// the ws yardstick measured the same way for comparison.
import { spawnSync } from 'node:child_process';
import WebSocket from 'ws';
import { PacketType } from '../protocol';
import { benchEnv } from './env';
import { lobbyPath, sleep } from './load';
import { rssBytes, startRelay, startWsRelay, type Server } from './procs';
import { fmt, type BenchResult, type Row } from './report';

export interface MemoryOptions {
  sessions: number;
  perRoom: number;
}

export const MEMORY_FULL: MemoryOptions = { sessions: 10_000, perRoom: 100 };
export const MEMORY_QUICK: MemoryOptions = { sessions: 500, perRoom: 100 };

/** Time for the relay to settle after the last session opened (timers, allocations). */
const SETTLE_MS = 2_000;

/** The open-files limit children inherit from this process. */
function openFilesLimit(): number {
  const r = spawnSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' });
  const v = r.stdout.trim();
  return v === 'unlimited' ? Infinity : Number(v);
}

interface Measurement {
  system: 'relay' | 'ws';
  sessions: number;
  rssBeforeBytes: number;
  rssAfterBytes: number;
  perSessionBytes: number;
  connectMs: number;
}

async function measure(system: Measurement['system'], server: Server, opts: MemoryOptions, log: (s: string) => void): Promise<Measurement> {
  await sleep(1_000);
  const before = rssBytes(server.pid);
  const sockets: WebSocket[] = [];
  const t0 = performance.now();
  try {
    let next = 0;
    const open = async () => {
      while (next < opts.sessions) {
        const i = next++;
        const ws = new WebSocket(`ws://127.0.0.1:${server.port}${lobbyPath(i, `memory-${Math.floor(i / opts.perRoom)}`)}`, { perMessageDeflate: false });
        sockets.push(ws);
        await new Promise<void>((resolve, reject) => {
          ws.once('error', reject);
          ws.on('message', (data: Buffer) => { if (data[1] === PacketType.SESSION_ASSIGNED) resolve(); });
        });
        ws.on('error', () => undefined);
      }
    };
    await Promise.all(Array.from({ length: 100 }, open));
    const connectMs = performance.now() - t0;
    await sleep(SETTLE_MS);
    const open_ = sockets.filter((s) => s.readyState === WebSocket.OPEN).length;
    if (open_ !== opts.sessions) throw new Error(`${system}: only ${open_} of ${opts.sessions} sessions stayed open`);
    const after = rssBytes(server.pid);
    const m = { system, sessions: opts.sessions, rssBeforeBytes: before, rssAfterBytes: after, perSessionBytes: (after - before) / opts.sessions, connectMs };
    log(`memory ${system}: ${fmt.bytes(before)} → ${fmt.bytes(after)} with ${opts.sessions} sessions, ${fmt.bytes(m.perSessionBytes)} each`);
    return m;
  } finally {
    for (const s of sockets) s.terminate();
  }
}

export async function benchMemory(opts: MemoryOptions, log: (s: string) => void): Promise<BenchResult> {
  const limit = openFilesLimit();
  const needed = opts.sessions + 1_000;
  if (limit < needed) throw new Error(`open-files limit ${limit} is below the ${needed} this benchmark needs; raise it (ulimit -n ${needed}) and run again`);
  const env = await benchEnv();
  // fresh servers: the shared ones carry the other benchmarks' garbage
  const relay = await startRelay({ natsUrl: env.nats.url, serverId: 'memory', env: { MAX_SESSIONS: String(opts.sessions * 2) } });
  let ours: Measurement;
  try {
    ours = await measure('relay', relay, opts, log);
  } finally {
    await relay.stop();
  }
  const wsRelay = await startWsRelay({ natsUrl: env.nats.url, serverId: 'memory-ws' });
  let ws: Measurement;
  try {
    ws = await measure('ws', wsRelay, opts, log);
  } finally {
    await wsRelay.stop();
  }
  const rows: Row[] = [{
    benchmark: 'Memory',
    configuration: `${opts.sessions.toLocaleString('en-US')} idle sessions (${opts.sessions / opts.perRoom} rooms × ${opts.perRoom})`,
    ours: `${fmt.bytes(ours.perSessionBytes)} per session (RSS ${fmt.bytes(ours.rssBeforeBytes)} → ${fmt.bytes(ours.rssAfterBytes)})`,
    yardstick: `ws: ${fmt.bytes(ws.perSessionBytes)} per session (RSS ${fmt.bytes(ws.rssBeforeBytes)} → ${fmt.bytes(ws.rssAfterBytes)})`,
    ratio: fmt.ratio(ours.perSessionBytes / ws.perSessionBytes),
    target: '—',
    result: 'no target',
  }];
  const details = `
A fresh relay (\`node --import tsx relay/main.ts\`, so the pid is the relay's own) on the shared nats-server; VmRSS from
/proc/<pid>/status one second after start, then ${opts.sessions.toLocaleString('en-US')} WebSocket sessions on
\`/lobby/{user}/{room}\` (${opts.perRoom} per room, each waits for SESSION_ASSIGNED; they stay in Testing and send nothing
but pongs), then VmRSS again ${SETTLE_MS / 1000} s after the last one opened. Per session = RSS growth / sessions (includes
the room subscriptions and whatever garbage V8 has not collected yet). The ws yardstick is measured the same way.
Open-files limit: ${limit}.

| System | Sessions | RSS before | RSS after | Per session | Connect time |
| --- | --- | --- | --- | --- | --- |
${[ours, ws].map((m) => `| ${m.system === 'relay' ? 'our relay (uWS)' : '`ws` yardstick'} | ${m.sessions} | ${fmt.bytes(m.rssBeforeBytes)} | ${fmt.bytes(m.rssAfterBytes)} | ${fmt.bytes(m.perSessionBytes)} | ${(m.connectMs / 1000).toFixed(1)} s |`).join('\n')}
`;
  return { name: 'memory', title: 'Memory', rows, details, raw: { options: opts, openFilesLimit: limit, settleMs: SETTLE_MS, relay: ours, ws } };
}
