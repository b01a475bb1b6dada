// Child processes of `npm run local` and the tests: started with their output kept, stopped for sure.
import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';

/**
 * The kernel hands out ports in this range to `listen(0)` and to every outgoing connection, so a
 * port probed there can be taken by someone's connection before our child binds it. Ports below
 * the range are only ever taken by a bind.
 */
function ephemeralRangeStart(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    if (Number.isInteger(low)) return low;
  } catch {
    // not Linux: the IANA dynamic range
  }
  return 49152;
}

const LOWEST_PICKED_PORT = 10_000;
const handedOut = new Set<number>();

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen({ port, host: '127.0.0.1', exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

/**
 * A loopback port nobody listens on, for a child process to bind: picked at random below the
 * kernel's ephemeral range (never twice in this process), or from the kernel when there is no
 * room below it.
 */
export async function freePort(): Promise<number> {
  const low = ephemeralRangeStart();
  if (low - LOWEST_PICKED_PORT >= 1000) {
    for (let attempt = 0; attempt < 200; attempt++) {
      const port = LOWEST_PICKED_PORT + Math.floor(Math.random() * (low - LOWEST_PICKED_PORT));
      if (handedOut.has(port)) continue;
      if (await canListen(port)) {
        handedOut.add(port);
        return port;
      }
    }
  }
  return kernelPickedPort();
}

function kernelPickedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ProcessOptions {
  /** Added to this process's environment, or the whole environment when `inheritEnv` is false. */
  readonly env?: NodeJS.ProcessEnv;
  /** @default true */
  readonly inheritEnv?: boolean;
  readonly cwd?: string;
}

const MAX_CAPTURED_CHARS = 200_000;

/** A child process with its output kept for error messages, stopped for sure. */
export class ManagedProcess {
  readonly child: ChildProcess;
  /** Resolves once the process has exited (never rejects). */
  readonly exited: Promise<ExitInfo>;
  private captured = '';
  private exitInfo: ExitInfo | undefined;

  constructor(readonly name: string, command: string, args: readonly string[], options: ProcessOptions = {}) {
    const env = options.inheritEnv === false ? options.env : { ...process.env, ...options.env };
    this.child = spawn(command, args, { env, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    const capture = (chunk: Buffer) => {
      this.captured += chunk.toString('utf8');
      if (this.captured.length > MAX_CAPTURED_CHARS) this.captured = this.captured.slice(-MAX_CAPTURED_CHARS);
    };
    this.child.stdout!.on('data', capture);
    this.child.stderr!.on('data', capture);
    this.exited = new Promise((resolve) => {
      this.child.once('error', (err) => {
        capture(Buffer.from(`\n[spawn error] ${err.message}\n`));
        this.exitInfo ??= { code: null, signal: null };
        resolve(this.exitInfo);
      });
      this.child.once('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        resolve(this.exitInfo);
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** stdout and stderr interleaved, as far as captured (the last 200k characters). */
  output(): string {
    return this.captured;
  }

  /** The last `lines` lines of output, for error messages. */
  tail(lines = 60): string {
    return this.captured.trimEnd().split('\n').slice(-lines).join('\n');
  }

  get running(): boolean {
    return this.exitInfo === undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Exit code and signal once it has exited, otherwise undefined. */
  get exit(): ExitInfo | undefined {
    return this.exitInfo;
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    if (this.running) this.child.kill(signal);
  }

  /** SIGTERM, then SIGKILL if it has not exited after `timeoutMs`. */
  async stop(timeoutMs = 5_000): Promise<ExitInfo> {
    if (!this.running) return this.exited;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.kill('SIGKILL'), timeoutMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Resolves with `ready(signal)`; throws with the captured output when the process exits first,
   * and aborts `signal` then so that the readiness poll stops too.
   */
  async waitUntil<T>(ready: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const abort = new AbortController();
    const died = this.exited.then((info) => {
      abort.abort();
      throw new Error(`${this.name} exited (code ${info.code}, signal ${info.signal}) before it was ready:\n${this.tail()}`);
    });
    died.catch(() => undefined);
    try {
      return await Promise.race([ready(abort.signal), died]);
    } finally {
      abort.abort();
    }
  }
}

const OWNER_FILE = '.owner-pid';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * A new temp directory `<tmp>/<prefix>XXXXXX` marked with this process's pid. Directories of the
 * same prefix whose owner has died (a run killed before it could clean up: Ctrl-C of Jest, SIGKILL)
 * are removed first, so interrupted runs leave nothing behind for long.
 */
export function ownedTempDir(prefix: string): string {
  for (const name of readdirSync(tmpdir())) {
    if (!name.startsWith(prefix)) continue;
    const dir = join(tmpdir(), name);
    try {
      const owner = Number(readFileSync(join(dir, OWNER_FILE), 'utf8'));
      if (Number.isInteger(owner) && owner > 0 && !alive(owner)) rmSync(dir, { recursive: true, force: true });
    } catch {
      // not one of ours, or already gone
    }
  }
  const dir = mkdtempSync(join(tmpdir(), prefix));
  writeFileSync(join(dir, OWNER_FILE), String(process.pid));
  return dir;
}

/**
 * The processes one owner started (a test file, a benchmark run, `npm run local`), so that the
 * owner stops them all in one visible call. Nothing here registers itself anywhere.
 */
export class ProcessGroup {
  private readonly members = new Set<ManagedProcess>();
  private readonly pids: number[] = [];
  private readonly dirs = new Set<string>();
  private readonly controllers = new Set<() => Promise<void>>();

  /**
   * Something that starts members on its own (the emulated kubelet restarts a pod whose process
   * exits): stopAll stops it first, so no member is restarted while the group is being stopped.
   */
  addController(stop: () => Promise<void>): void {
    this.controllers.add(stop);
  }

  /** A directory the members write in, removed after they are stopped (also by killAllNow). */
  ownDir(dir: string): string {
    this.dirs.add(dir);
    return dir;
  }

  /** Removes `dir` now, and forgets it. */
  removeDir(dir: string): void {
    rmSync(dir, { recursive: true, force: true });
    this.dirs.delete(dir);
  }

  /** Adds a started process; it leaves the group when it exits. */
  add<T extends ManagedProcess>(p: T): T {
    this.members.add(p);
    if (p.pid !== undefined) this.pids.push(p.pid);
    void p.exited.then(() => this.members.delete(p));
    return p;
  }

  /** Members still running. */
  running(): ManagedProcess[] {
    return [...this.members];
  }

  /** Pids of every process ever added (to check that none outlives its owner). */
  startedPids(): number[] {
    return [...this.pids];
  }

  /** Stops the controllers, then SIGTERM to every member, SIGKILL after `timeoutMs`. */
  async stopAll(timeoutMs = 5_000): Promise<void> {
    const controllers = [...this.controllers];
    this.controllers.clear();
    await Promise.all(controllers.map((stop) => stop()));
    await Promise.all([...this.members].map((p) => p.stop(timeoutMs)));
    for (const d of [...this.dirs]) this.removeDir(d);
  }

  /** SIGKILL now, synchronously: for an exit handler, where nothing can be awaited. */
  killAllNow(): void {
    for (const p of this.members) p.kill('SIGKILL');
    for (const d of [...this.dirs]) this.removeDir(d);
  }
}

/** Starts `command` with `env` added to this process's environment. */
export function startProcess(name: string, command: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): ManagedProcess {
  return new ManagedProcess(name, command, args, { env });
}

/** Polls `check` until it returns true; fails with `describe()` after `timeoutMs`, or once `signal` aborts. */
export async function waitFor(check: () => Promise<boolean>, timeoutMs: number, describe: () => string, signal?: AbortSignal): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // not up yet
    }
    if (signal?.aborted) throw new Error(`gave up: ${describe()}`);
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${describe()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Waits until `check` passes for a started process; fails at once, with what the process printed,
 * if it exits first (a port taken, a bad config), instead of waiting out the timeout.
 */
export async function waitUntilReady(managed: ManagedProcess, check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  await managed.waitUntil((signal) => waitFor(check, timeoutMs, () => `${managed.name}: ${what} not seen:\n${managed.tail()}`, signal));
}

export async function httpOk(url: string): Promise<boolean> {
  const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
  await res.arrayBuffer();
  return res.ok;
}
