// The servers a benchmark runs against, as child processes on 127.0.0.1 free ports, started the way
// local/ and the tests start them. Every process started here joins one ProcessGroup, stopped by
// stopAll(), which run.ts calls on exit, error and Ctrl-C.
import { execFileSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ProcessGroup, freePort, httpOk, startProcess, waitUntilReady, type ManagedProcess } from '../local/processes';
import { prepareStandaloneNats, runStandaloneNats } from '../local/nats-server';
import { launchRelay } from '../local/relays';

export const ROOT = path.resolve(__dirname, '..');

const group = new ProcessGroup();
const tempDirs = new Set<string>();

/** Pids of every process started by this run (the test checks none outlives it). */
export function startedPids(): number[] {
  return [...group.startedPids(), ...childPids];
}

function track(m: ManagedProcess): ManagedProcess {
  return group.add(m);
}

// The load generators are forked with an IPC channel, which ManagedProcess does not open; they are
// tracked beside the group.
const children = new Set<ChildProcess>();
const childPids: number[] = [];

/** A child started outside startProcess (the load generators): registered, stopped by stopAll(). */
export function trackChild(child: ChildProcess): void {
  if (child.pid !== undefined) childPids.push(child.pid);
  children.add(child);
  child.once('exit', () => children.delete(child));
}

/** Stops every process this module started (SIGTERM, SIGKILL after 3 s) and removes temp dirs. */
export async function stopAll(): Promise<void> {
  await Promise.all([...children].map((c) => new Promise<void>((resolve) => {
    if (c.exitCode !== null || c.signalCode !== null) return resolve();
    const timer = setTimeout(() => c.kill('SIGKILL'), 3_000);
    c.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    c.kill('SIGTERM');
  })));
  await group.stopAll(3_000);
  for (const d of tempDirs) fs.rmSync(d, { recursive: true, force: true });
  tempDirs.clear();
}

/** Last resort on process exit: nothing may outlive the benchmark. */
export function killAllNow(): void {
  group.killAllNow();
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
}

/**
 * CPU placement on this machine: the system under test gets core 0, everything else of ours (load
 * generators, nats-server when it is not what is measured) core 1. Other work on the machine is
 * not ours to move, so core 0 is ours only as far as the scheduler keeps it so. Fewer than 2
 * cores, or no taskset: nothing is pinned (placement.pinned false).
 */
export const placement = (() => {
  const cores = os.cpus().length;
  let taskset = false;
  try {
    execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
    taskset = true;
  } catch {
    taskset = false;
  }
  const pinned = cores >= 2 && taskset;
  return {
    pinned,
    sutCpus: pinned ? '0' : undefined,
    otherCpus: pinned ? Array.from({ length: cores - 1 }, (_, i) => i + 1).join(',') : undefined,
    allCpus: pinned ? `0-${cores - 1}` : undefined,
  };
})();

/** Pins every thread of `pid` to `cpus` (taskset -a -p -c); false when it could not. */
export function pin(pid: number, cpus: string | undefined): boolean {
  if (cpus === undefined) return false;
  try {
    execFileSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Every core again, after a benchmark that pinned. */
export function release(pids: readonly number[]): void {
  for (const pid of pids) pin(pid, placement.allCpus);
}

/** The system under test on core 0, the rest of ours on the other cores. */
export function placeSystem(sut: readonly number[], rest: readonly number[]): void {
  for (const pid of sut) pin(pid, placement.sutCpus);
  for (const pid of rest) pin(pid, placement.otherCpus);
}

export interface Server {
  readonly name: string;
  readonly pid: number;
  readonly port: number;
  readonly managed: ManagedProcess;
  stop(): Promise<void>;
  kill(signal?: NodeJS.Signals): void;
}

function server(name: string, port: number, managed: ManagedProcess): Server {
  return {
    name,
    port,
    managed,
    pid: managed.child.pid!,
    stop: async () => {
      await managed.stop(3_000);
    },
    kill: (signal = 'SIGKILL') => managed.kill(signal),
  };
}

async function ready(m: ManagedProcess, url: string, what: string): Promise<void> {
  await waitUntilReady(m, () => httpOk(url), 20_000, `${what} answered at ${url}`);
}

export interface NatsServer extends Server {
  readonly url: string;
}

export async function startNats(): Promise<NatsServer> {
  const nats = await prepareStandaloneNats({ name: `bench-${process.pid}`, dirPrefix: 'vcg-bench-nats-' });
  tempDirs.add(nats.dir);
  const m = track(await runStandaloneNats(nats, [], 20_000));
  return { ...server('nats-server', nats.port, m), url: nats.url };
}

export interface RelayOptions {
  natsUrl: string;
  serverId: string;
  env?: Record<string, string>;
}

/**
 * Our relay, as `node --import tsx relay/main.ts` so that the pid is the relay itself (for RSS,
 * CPU time and SIGKILL). Logs at warn: per-session info lines are not what is measured.
 */
export async function startRelay(opts: RelayOptions): Promise<Server> {
  const port = await freePort();
  const m = track(launchRelay(`relay ${opts.serverId}`, { port, natsUrl: opts.natsUrl, region: 'bench', serverId: opts.serverId, env: { LOG_LEVEL: 'warn', ...opts.env } }));
  await ready(m, `http://127.0.0.1:${port}/readyz`, `relay ${opts.serverId}`);
  return server(`relay ${opts.serverId}`, port, m);
}

/** The `ws` yardstick (bench/ws-relay.ts), started the same way. */
export async function startWsRelay(opts: RelayOptions): Promise<Server> {
  const port = await freePort();
  const m = track(startProcess(`ws-relay ${opts.serverId}`, process.execPath, ['--import', 'tsx', path.join(ROOT, 'bench', 'ws-relay.ts')], {
    PORT: String(port),
    NATS_URL: opts.natsUrl,
    SERVER_ID: opts.serverId,
    ...opts.env,
  }));
  await ready(m, `http://127.0.0.1:${port}/readyz`, `ws-relay ${opts.serverId}`);
  return server(`ws-relay ${opts.serverId}`, port, m);
}

const CLOCK_TICKS_PER_S = 100; // USER_HZ on Linux

/** utime + stime of a process in ms, from /proc (0 when it is gone). */
export function cpuTimeMs(pid: number): number {
  const t = cpuTimesMs(pid);
  return t.user + t.system;
}

/** utime and stime of a process in ms, from /proc/<pid>/stat (0 when it is gone). */
export function cpuTimesMs(pid: number): { user: number; system: number } {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // fields after the ")" of the command name: state is field 3, utime 14, stime 15
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { user: (Number(rest[11]) * 1000) / CLOCK_TICKS_PER_S, system: (Number(rest[12]) * 1000) / CLOCK_TICKS_PER_S };
  } catch {
    return { user: 0, system: 0 };
  }
}

/** VmRSS of a process in bytes. */
export function rssBytes(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  if (m === null) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) * 1024;
}

/** Busy and total jiffies of the whole machine, from /proc/stat. */
function machineJiffies(): { busy: number; total: number } {
  try {
    const fields = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const total = fields.reduce((a, b) => a + b, 0);
    const idle = fields[3] + (fields[4] ?? 0); // idle + iowait
    return { busy: total - idle, total };
  } catch {
    return { busy: 0, total: 0 };
  }
}

/**
 * CPU use of some processes over an interval, as a percentage of one core each, and of the whole
 * machine (`machine`, out of cores × 100): the difference is what other work took meanwhile.
 */
export class CpuMeter {
  private start = new Map<string, { user: number; system: number }>();
  private t0 = 0;
  private self0 = process.cpuUsage();
  private machine0 = machineJiffies();

  constructor(private readonly pids: Record<string, number>) {}

  begin(): void {
    this.t0 = performance.now();
    this.self0 = process.cpuUsage();
    this.machine0 = machineJiffies();
    for (const [name, pid] of Object.entries(this.pids)) this.start.set(name, cpuTimesMs(pid));
  }

  /** name → % of one core (and `${name}Sys`: the kernel's part of it); `loadgen` is this process. */
  end(): Record<string, number> {
    const wall = performance.now() - this.t0;
    const out: Record<string, number> = {};
    for (const [name, pid] of Object.entries(this.pids)) {
      const now = cpuTimesMs(pid);
      const start = this.start.get(name)!;
      out[name] = Math.round(((now.user + now.system - start.user - start.system) / wall) * 100);
      out[`${name}Sys`] = Math.round(((now.system - start.system) / wall) * 100);
    }
    const self = process.cpuUsage(this.self0);
    out.loadgen = Math.round(((self.user + self.system) / 1000 / wall) * 100);
    const m = machineJiffies();
    const total = m.total - this.machine0.total;
    out.machine = total > 0 ? Math.round(((m.busy - this.machine0.busy) / total) * os.cpus().length * 100) : NaN;
    return out;
  }
}
