// The load generator as several processes, so that it is not what limits a run: Node ones
// (bench/loadgen-worker.ts running bench/load.ts; every system and send mode) or C ones
// (bench/native-generator.ts; WebSocket and the media mix, for capacity). Whole rooms are spread
// over the processes and the figures merged here. Frames are stamped with CLOCK_MONOTONIC, so
// latency holds across them.
import { fork, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import type { RunOptions, RunResult } from './load';
import type { RoomAssignment, WorkerReply, WorkerRequest } from './loadgen-worker';
import { NativeGenerator } from './native-generator';
import { CpuMeter, ROOT, placement, trackChild } from './procs';
import { Histogram, type HistogramData } from './stats';
import { sleep } from './load';

/** A run of the generator at or above this share of the CPU it may use was limited by it. */
export const GENERATOR_SATURATED_PCT = 85;

export interface GeneratedRun extends Omit<RunResult, 'cpu'> {
  /** % of one core: `server`, `nats` (the pids asked for), `machine` (of cores × 100) */
  cpu: Record<string, number>;
  /** the generator processes' CPU, % of one core: all together and the busiest one */
  loadgen: { totalPct: number; sysPct: number; maxPct: number; processes: number; allowedPct: number };
  /** the generator, not the system, may have set the rate */
  generatorSaturated: boolean;
}

/** One load-generator process: the Node one (bench/loadgen-worker.ts) or the native one (bench/native-generator.ts). */
export interface GeneratorProcess {
  readonly pid: number;
  open(tag: string, system: 'ws' | 'nats', url: string, rooms: RoomAssignment[]): Promise<void>;
  run(tag: string, opts: Omit<RunOptions, 'participants' | 'rooms' | 'cpuPids'>): Promise<RunResult>;
  close(tag: string): Promise<void>;
  stop(): Promise<void>;
}

export type GeneratorKind = 'node' | 'native';

let nextId = 1;

/** bench/loadgen-worker.ts in a forked Node process, asked over IPC. */
class NodeGenerator implements GeneratorProcess {
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

  private constructor(private readonly child: ChildProcess) {
    child.on('message', (m: WorkerReply) => {
      const p = this.pending.get(m.id);
      if (p === undefined) return;
      this.pending.delete(m.id);
      if (m.ok) p.resolve(m.result);
      else p.reject(new Error(`load generator ${child.pid}: ${m.error}`));
    });
    child.once('exit', (code, signal) => {
      for (const p of this.pending.values()) p.reject(new Error(`load generator ${child.pid} exited (${code ?? signal})`));
      this.pending.clear();
    });
  }

  static async start(): Promise<NodeGenerator> {
    const child = fork(path.join(ROOT, 'bench', 'loadgen-worker.ts'), [], {
      execArgv: ['--import', 'tsx'],
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    trackChild(child);
    const g = new NodeGenerator(child);
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', () => resolve());
      child.once('error', reject);
    });
    return g;
  }

  get pid(): number {
    return this.child.pid!;
  }

  private ask(req: WorkerRequest extends infer R ? (R extends WorkerRequest ? Omit<R, 'id'> : never) : never): Promise<unknown> {
    const id = nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.child.send({ ...req, id } as WorkerRequest);
    });
  }

  async open(tag: string, system: 'ws' | 'nats', url: string, rooms: RoomAssignment[]): Promise<void> {
    await this.ask({ op: 'open', tag, system, url, rooms });
  }

  run(tag: string, opts: Omit<RunOptions, 'participants' | 'rooms' | 'cpuPids'>): Promise<RunResult> {
    return this.ask({ op: 'run', tag, opts }) as Promise<RunResult>;
  }

  async close(tag: string): Promise<void> {
    await this.ask({ op: 'close', tag });
  }

  stop(): Promise<void> {
    return new Promise<void>((resolve) => {
      if (this.child.exitCode !== null || this.child.signalCode !== null) return resolve();
      this.child.once('exit', () => resolve());
      this.child.disconnect();
    });
  }
}

interface Worker {
  proc: GeneratorProcess;
  /** participants by tag */
  participants: Map<string, number>;
}

export class Generators {
  private constructor(private readonly workers: Worker[], readonly kind: GeneratorKind) {}

  /** `count` generator processes of `kind` (pinned by the caller to the cores the system under test does not use). */
  static async start(count: number, kind: GeneratorKind = 'node'): Promise<Generators> {
    const procs = await Promise.all(Array.from({ length: count }, async (): Promise<GeneratorProcess> => {
      if (kind === 'node') return NodeGenerator.start();
      const g = new NativeGenerator();
      trackChild(g.process);
      return g;
    }));
    return new Generators(procs.map((proc) => ({ proc, participants: new Map() })), kind);
  }

  get pids(): number[] {
    return this.workers.map((w) => w.proc.pid);
  }

  get count(): number {
    return this.workers.length;
  }

  /** Opens the rooms under `tag`, each whole on one worker, the least loaded first. */
  async open(tag: string, system: 'ws' | 'nats', url: string, rooms: RoomAssignment[]): Promise<void> {
    const per = this.workers.map(() => [] as RoomAssignment[]);
    const count = this.workers.map(() => 0);
    for (const r of [...rooms].sort((a, b) => b.indices.length - a.indices.length)) {
      let k = 0;
      for (let j = 1; j < this.workers.length; j++) if (count[j] < count[k]) k = j;
      per[k].push(r);
      count[k] += r.indices.length;
    }
    this.workers.forEach((w, k) => w.participants.set(tag, (w.participants.get(tag) ?? 0) + count[k]));
    await Promise.all(this.workers.map((w, k) => (per[k].length > 0 ? w.proc.open(tag, system, url, per[k]) : undefined)));
  }

  async close(tag: string): Promise<void> {
    await Promise.all(this.workers.map((w) => ((w.participants.get(tag) ?? 0) > 0 ? w.proc.close(tag) : undefined)));
    for (const w of this.workers) w.participants.delete(tag);
  }

  /** Runs every worker's rooms together; CPU of `cpuPids` and of the workers over the measured window. */
  async run(tag: string, opts: Omit<RunOptions, 'participants' | 'rooms' | 'cpuPids'>, cpuPids: Record<string, number>): Promise<GeneratedRun> {
    const busy = this.workers.filter((w) => (w.participants.get(tag) ?? 0) > 0);
    const genPids = Object.fromEntries(busy.map((w, i) => [`gen${i}`, w.proc.pid]));
    const meter = new CpuMeter({ ...cpuPids, ...genPids });
    const results = busy.map((w) => w.proc.run(tag, opts));
    // the workers start their windows when the request arrives: IPC takes well under a millisecond
    await sleep(opts.warmupMs);
    meter.begin();
    await sleep(opts.durationMs);
    const cpu = meter.end();
    const rs = await Promise.all(results);
    const h = new Histogram();
    for (const r of rs) h.merge(r.latencyHistogram as HistogramData);
    const genPct = Object.keys(genPids).map((k) => cpu[k]);
    const genSys = Object.keys(genPids).reduce((a, k) => a + cpu[`${k}Sys`], 0);
    const totalPct = genPct.reduce((a, b) => a + b, 0);
    const allowedPct = placement.pinned ? placement.otherCpus!.split(',').length * 100 : os.cpus().length * 100;
    const out: GeneratedRun = {
      deliveredPerSec: rs.reduce((a, r) => a + r.deliveredPerSec, 0),
      sentPerSec: rs.reduce((a, r) => a + r.sentPerSec, 0),
      deliveredInWindow: rs.reduce((a, r) => a + r.deliveredInWindow, 0),
      windowMs: Math.max(...rs.map((r) => r.windowMs)),
      latencyMs: h.summary(),
      latencyHistogram: h.data(),
      // split by group only within one process (summaries do not merge)
      crossLatencyMs: rs.length === 1 ? rs[0].crossLatencyMs : undefined,
      sameLatencyMs: rs.length === 1 ? rs[0].sameLatencyMs : undefined,
      expected: rs.reduce((a, r) => a + r.expected, 0),
      lost: rs.reduce((a, r) => a + r.lost, 0),
      cpu: Object.fromEntries(Object.entries(cpu).filter(([k]) => !k.startsWith('gen') && k !== 'loadgen')),
      loadgen: { totalPct, sysPct: genSys, maxPct: Math.max(...genPct), processes: busy.length, allowedPct },
      generatorSaturated: totalPct >= (GENERATOR_SATURATED_PCT / 100) * allowedPct || Math.max(...genPct) >= GENERATOR_SATURATED_PCT,
    };
    return out;
  }

  async stop(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.proc.stop()));
  }
}
