// The capacity benchmark's load generator in C (bench/native/wsload.c), driven from here: this
// side builds every byte it sends with bench/load.ts's templates and protocol/'s encoders, and
// turns what it reports into a RunResult like bench/load.ts runLoad's. The Node generator spends
// about 50 µs of CPU per delivered frame; on 2 cores it ran out long before our relay did.
import { execFileSync, spawn, type ChildProcess, type ChildProcessWithoutNullStreams } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PacketType, encodeRttProbe, utf8 } from '../protocol';
import {
  DRAIN_MS, MAGIC, MAX_LOCAL_BUFFER, WRAPPER_TYPE_TAG, lobbyPath, MEDIA_TICK_MS, TemplateSet, activationFrame, mediaPhase, mediaSizes, mediaStreams, mediaTypeOfSize, newRunId,
  userIdOf, type RunOptions, type RunResult,
} from './load';
import type { GeneratorProcess } from './generators';
import type { RoomAssignment } from './loadgen-worker';
import { ROOT } from './procs';
import { Histogram } from './stats';

const SOURCE = path.join(ROOT, 'bench', 'native', 'wsload.c');
const BINARY = path.join(ROOT, 'build', 'bench', 'wsload');

/**
 * Compiles the generator when its binary is missing or older than its source; returns its path.
 * Needs a C compiler (`$CC`, else `cc`): Debian's `gcc`.
 */
export function buildNativeGenerator(binary = BINARY): string {
  const fresh = fs.existsSync(binary) && fs.statSync(binary).mtimeMs >= fs.statSync(SOURCE).mtimeMs;
  if (fresh) return binary;
  fs.mkdirSync(path.dirname(binary), { recursive: true });
  const cc = process.env.CC ?? 'cc';
  const tmp = `${binary}.${process.pid}.tmp`;
  try {
    execFileSync(cc, ['-O2', '-Wall', '-Wextra', '-Werror', '-o', tmp, SOURCE, '-lm'], { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: Buffer };
    if (e.code === 'ENOENT') throw new Error(`the native load generator needs a C compiler (${cc} not found): apt-get install -y gcc`);
    throw new Error(`compiling ${path.relative(ROOT, SOURCE)} failed:\n${e.stderr?.toString() ?? e.message}`);
  }
  fs.renameSync(tmp, binary); // atomic: parallel builds never run a half-written binary
  return binary;
}

const hex = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');

/** 127.0.0.1's port of a `ws://127.0.0.1:PORT` URL: the generator talks to loopback only. */
function loopbackPort(url: string): number {
  const u = new URL(url);
  if (u.hostname !== '127.0.0.1') throw new Error(`the native load generator connects to 127.0.0.1 only, not ${u.hostname}`);
  return Number(u.port);
}

/** One generator process: commands go one at a time, each answered by one line. */
export class NativeGenerator implements GeneratorProcess {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly replies: string[] = [];
  private waiting?: { resolve: (line: string) => void; reject: (e: Error) => void };
  private queue: Promise<unknown> = Promise.resolve();
  private exited?: Error;
  private buffered = '';
  private stderr = '';
  /** tags with participants open */
  private readonly opened = new Set<string>();

  constructor(binary = buildNativeGenerator()) {
    this.child = spawn(binary, [], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stdout.setEncoding('utf8');
    this.child.stdout.on('data', (chunk: string) => {
      this.buffered += chunk;
      let nl: number;
      while ((nl = this.buffered.indexOf('\n')) >= 0) {
        const line = this.buffered.slice(0, nl);
        this.buffered = this.buffered.slice(nl + 1);
        const w = this.waiting;
        this.waiting = undefined;
        if (w !== undefined) w.resolve(line);
        else this.replies.push(line);
      }
    });
    this.child.stderr.on('data', (c: Buffer) => (this.stderr = (this.stderr + c.toString()).slice(-4000)));
    this.child.stdin.on('error', () => undefined); // an exited generator is reported by its exit
    this.child.on('exit', (code, signal) => {
      this.exited = new Error(`native load generator ${this.child.pid} exited (${code ?? signal})${this.stderr ? `: ${this.stderr.trim()}` : ''}`);
      this.waiting?.reject(this.exited);
      this.waiting = undefined;
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** the process, for bench/procs.ts trackChild */
  get process(): ChildProcess {
    return this.child;
  }

  /** Sends `lines` (one command: a line, or `open` with its participant lines) and resolves with its reply; an error reply rejects. */
  private command(lines: string[]): Promise<string> {
    const run = async () => {
      if (this.exited) throw this.exited;
      const reply = new Promise<string>((resolve, reject) => {
        const next = this.replies.shift();
        if (next !== undefined) resolve(next);
        else this.waiting = { resolve, reject };
      });
      this.child.stdin.write(`${lines.join('\n')}\n`);
      const line = await reply;
      if (line.startsWith('error')) throw new Error(`native load generator ${this.pid}: ${line.slice(6)} (after "${lines[0].slice(0, 80)}")`);
      return line;
    };
    const p = this.queue.then(run, run);
    this.queue = p.catch(() => undefined);
    return p;
  }

  /** Connects the rooms' participants (WebSocket, `/lobby/{user}/{room}`), each activated. */
  async open(tag: string, system: 'ws' | 'nats', url: string, rooms: readonly RoomAssignment[]): Promise<void> {
    if (system !== 'ws') throw new Error(`the native load generator speaks WebSocket only, not ${system}`);
    if (this.opened.has(tag)) throw new Error(`native load generator ${this.pid}: ${tag} is open already`);
    const lines: string[] = [];
    for (const r of rooms) {
      for (let k = 0; k < r.indices.length; k++) {
        const index = r.indices[k];
        const user = userIdOf(index);
        const port = loopbackPort(r.urls?.[k] ?? url);
        lines.push(['p', port, index, r.indices.length - 1, mediaPhase(lines.length).toFixed(9), lobbyPath(index, r.room),
          hex(utf8.encode(user)), hex(activationFrame(index)), hex(encodeRttProbe(user, 0))].join(' '));
      }
    }
    if (lines.length === 0) return;
    await this.command([`prefixes ${WRAPPER_TYPE_TAG} ${PacketType.SESSION_ASSIGNED} ${WRAPPER_TYPE_TAG} ${PacketType.MEDIA}`]);
    await this.command([`open ${tag} ${lines.length}`, ...lines]);
    this.opened.add(tag);
  }

  /** Runs the media mix (MEDIA_MIX) over every participant opened under `tag`. */
  async run(tag: string, opts: Omit<RunOptions, 'participants' | 'rooms' | 'cpuPids'>): Promise<RunResult> {
    if (opts.mode.kind !== 'media') throw new Error(`the native load generator sends the media mix only, not '${opts.mode.kind}'`);
    if (!this.opened.has(tag)) throw new Error(`native load generator ${this.pid}: nothing open under ${tag}`);
    const runId = newRunId();
    const templates = new TemplateSet(runId, mediaTypeOfSize);
    const setup = ['reset'];
    for (const size of mediaSizes()) {
      const t = templates.get(size);
      setup.push(`template ${size} ${t.payloadOffset} ${t.timestampOffset} ${t.userIdOffsets[0]} ${t.userIdOffsets[1]} ${hex(t.bytes)}`);
    }
    for (const [length, l] of templates.layouts) setup.push(`layout ${length} ${l.payloadOffset} ${l.timestampOffset}`);
    for (const s of mediaStreams()) setup.push(`stream ${s.periodMs} ${s.cycle.length} ${s.cycle.join(' ')}`);
    for (const line of setup) await this.command([line]);
    const file = path.join(os.tmpdir(), `wsload-${process.pid}-${runId}.f64`);
    try {
      const reply = await this.command([`run ${tag} ${MAGIC} ${runId} ${opts.warmupMs} ${opts.durationMs} ${MEDIA_TICK_MS} ${MAX_LOCAL_BUFFER} ${DRAIN_MS} ${file}`]);
      const [, delivered, sent, windowMs, expected, lost, samples] = reply.split(' ');
      const raw = fs.readFileSync(file);
      const values = new Float64Array(raw.buffer, raw.byteOffset, raw.byteLength / 8);
      if (values.length !== Number(samples)) throw new Error(`native load generator: ${samples} samples announced, ${values.length} written`);
      const h = new Histogram();
      for (const v of values) h.push(v);
      const ms = Number(windowMs);
      return {
        deliveredPerSec: (Number(delivered) / ms) * 1000,
        sentPerSec: (Number(sent) / ms) * 1000,
        deliveredInWindow: Number(delivered),
        windowMs: ms,
        latencyMs: h.summary(),
        latencyHistogram: h.data(),
        expected: Number(expected),
        lost: Number(lost),
        cpu: {},
      };
    } finally {
      fs.rmSync(file, { force: true });
    }
  }

  /** Closes every participant opened under `tag` (a clean 1000 close each). */
  async close(tag: string): Promise<void> {
    if (!this.opened.delete(tag)) return;
    await this.command([`close ${tag}`]);
  }

  /** Ends the process: closing stdin closes what it holds, then it exits. */
  async stop(): Promise<void> {
    if (this.exited) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.stdin.end();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  }
}
