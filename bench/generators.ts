// The load generator as several processes (bench/loadgen-worker.ts), so that it is not what limits
// a run: whole rooms are spread over the workers, each runs its rooms with bench/load.ts, and the
// figures are merged here. Frames are stamped with CLOCK_MONOTONIC, so latency holds across them.
import { fork, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import type { RunOptions, RunResult } from './load';
import type { RoomAssignment, WorkerReply, WorkerRequest } from './loadgen-worker';
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

interface Worker {
  child: ChildProcess;
  pending: Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>;
  /** participants by tag */
  participants: Map<string, number>;
}


let nextId = 1;

export class Generators {
  private constructor(private readonly workers: Worker[]) {}

  /** `count` worker processes, pinned to the cores the system under test does not use. */
  static async start(count: number): Promise<Generators> {
    const workers: Worker[] = [];
    for (let i = 0; i < count; i++) {
      const child = fork(path.join(ROOT, 'bench', 'loadgen-worker.ts'), [], {
        execArgv: ['--import', 'tsx'],
        serialization: 'advanced',
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      trackChild(child);
      const w: Worker = { child, pending: new Map(), participants: new Map() };
      child.on('message', (m: WorkerReply) => {
        const p = w.pending.get(m.id);
        if (p === undefined) return;
        w.pending.delete(m.id);
        if (m.ok) p.resolve(m.result);
        else p.reject(new Error(`load generator ${child.pid}: ${m.error}`));
      });
      child.once('exit', (code, signal) => {
        for (const p of w.pending.values()) p.reject(new Error(`load generator ${child.pid} exited (${code ?? signal})`));
        w.pending.clear();
      });
      workers.push(w);
    }
    await Promise.all(workers.map((w) => new Promise<void>((resolve, reject) => {
      w.child.once('spawn', () => resolve());
      w.child.once('error', reject);
    })));
    return new Generators(workers);
  }

  get pids(): number[] {
    return this.workers.map((w) => w.child.pid!);
  }

  get count(): number {
    return this.workers.length;
  }

  private ask(w: Worker, req: WorkerRequest extends infer R ? (R extends WorkerRequest ? Omit<R, 'id'> : never) : never): Promise<unknown> {
    const id = nextId++;
    return new Promise((resolve, reject) => {
      w.pending.set(id, { resolve, reject });
      w.child.send({ ...req, id } as WorkerRequest);
    });
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
    await Promise.all(this.workers.map((w, k) => (per[k].length > 0 ? this.ask(w, { op: 'open', tag, system, url, rooms: per[k] }) : undefined)));
  }

  async close(tag: string): Promise<void> {
    await Promise.all(this.workers.map((w) => this.ask(w, { op: 'close', tag })));
    for (const w of this.workers) w.participants.delete(tag);
  }

  /** Runs every worker's rooms together; CPU of `cpuPids` and of the workers over the measured window. */
  async run(tag: string, opts: Omit<RunOptions, 'participants' | 'rooms' | 'cpuPids'>, cpuPids: Record<string, number>): Promise<GeneratedRun> {
    const busy = this.workers.filter((w) => (w.participants.get(tag) ?? 0) > 0);
    const genPids = Object.fromEntries(busy.map((w, i) => [`gen${i}`, w.child.pid!]));
    const meter = new CpuMeter({ ...cpuPids, ...genPids });
    const results = busy.map((w) => this.ask(w, { op: 'run', tag, opts }) as Promise<RunResult>);
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
    await Promise.all(this.workers.map((w) => new Promise<void>((resolve) => {
      if (w.child.exitCode !== null || w.child.signalCode !== null) return resolve();
      w.child.once('exit', () => resolve());
      w.child.disconnect();
    })));
  }
}
