// Child processes of `npm run local` and the tests: started with their output kept, stopped for sure.
import { ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/**
 * The kernel hands out ports in this range to `listen(0)` and to every outgoing connection, so a
 * port probed there can be taken by someone's connection before our child binds it. Ports below
 * the range are only ever taken by a bind.
 */
function ephemeralRange(): { low: number; high: number } {
  try {
    const [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (Number.isInteger(low) && Number.isInteger(high)) return { low, high };
  } catch {
    // not Linux: the IANA dynamic range
  }
  return { low: 49152, high: 65535 };
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
  const { low } = ephemeralRange();
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

export interface Managed {
  readonly name: string;
  readonly child: ChildProcess;
  /** Last lines the process printed (stdout and stderr), for error messages. */
  output(): string;
  readonly exited: Promise<number | null>;
  stop(timeoutMs?: number): Promise<void>;
}

export function startProcess(name: string, command: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): Managed {
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const keep = (chunk: Buffer) => {
    lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    if (lines.length > 200) lines.splice(0, lines.length - 200);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.once('error', (err) => {
      lines.push(String(err));
      resolve(null);
    });
  });
  return {
    name,
    child,
    output: () => lines.join('\n'),
    exited,
    async stop(timeoutMs = 5000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Polls `check` until it returns true; fails with `describe()` after `timeoutMs`. */
export async function waitFor(check: () => Promise<boolean>, timeoutMs: number, describe: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${describe()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Waits until `check` passes for a started process; fails at once, with what the process printed,
 * if it exits first (a port taken, a bad config), instead of waiting out the timeout.
 */
export async function waitUntilReady(managed: Managed, check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const hasExited = () => managed.child.exitCode !== null || managed.child.signalCode !== null;
  const exitError = () =>
    new Error(`${managed.name} exited (code ${managed.child.exitCode ?? managed.child.signalCode}) before ${what}:\n${managed.output()}`);
  await waitFor(
    async () => {
      if (hasExited()) return true;
      return check();
    },
    timeoutMs,
    () => `${managed.name}: ${what} not seen:\n${managed.output()}`,
  );
  if (hasExited()) throw exitError();
}

export async function httpOk(url: string): Promise<boolean> {
  const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
  await res.arrayBuffer();
  return res.ok;
}
