// What the integration tests add to local/processes.ts's ManagedProcess: one ProcessGroup per test
// file, stopped by tests/support/cleanup.ts (jest.config.js setupFilesAfterEnv) after the file's
// tests, and readiness waits by TCP or HTTP.
import http from 'node:http';
import net from 'node:net';
import { ManagedProcess, ProcessGroup, type ExitInfo } from '../../local/processes';

export { ManagedProcess, type ExitInfo };

export interface SpawnOptions {
  /** Label used in error messages. */
  name?: string;
  /** The whole environment of the child (default: this process's). */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/** This test file's processes (Jest loads modules once per test file). */
export const testProcesses = new ProcessGroup();

/** Starts a process that tests/support/cleanup.ts stops after this test file, whatever the test did. */
export function spawnProcess(command: string, args: readonly string[], options: SpawnOptions = {}): ManagedProcess {
  const env = options.env === undefined ? {} : { env: options.env, inheritEnv: false };
  return testProcesses.add(new ManagedProcess(options.name ?? command, command, args, { ...env, cwd: options.cwd }));
}

/** Every process started by this module that is still running. */
export function runningProcesses(): ManagedProcess[] {
  return testProcesses.running();
}

/** Stops every process started in this test file (tests/support/cleanup.ts calls it in afterAll). */
export async function stopAllProcesses(timeoutMs = 5_000): Promise<void> {
  await testProcesses.stopAll(timeoutMs);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface WaitOptions {
  timeoutMs?: number;
  intervalMs?: number;
  /** Stops the poll early (it then rejects). */
  signal?: AbortSignal;
}

function checkAborted(opts: WaitOptions, what: string): void {
  if (opts.signal?.aborted) throw new Error(`gave up waiting for ${what}`);
}

/** Resolves once a TCP connection to host:port succeeds. */
export async function waitForPort(port: number, host = '127.0.0.1', opts: WaitOptions = {}): Promise<void> {
  const deadline = Date.now() + (opts.timeoutMs ?? 15_000);
  let lastError = '';
  while (Date.now() < deadline) {
    checkAborted(opts, `${host}:${port}`);
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect({ port, host });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', (err) => {
        lastError = err.message;
        socket.destroy();
        resolve(false);
      });
    });
    if (ok) return;
    await sleep(opts.intervalMs ?? 50);
  }
  throw new Error(`nothing answered on ${host}:${port}: ${lastError}`);
}

export interface HttpResult {
  status: number;
  body: string;
  headers: http.IncomingHttpHeaders;
}

/** One GET on 127.0.0.1; rejects on connection errors. */
export function httpGet(url: string, timeoutMs = 5_000): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), headers: res.headers }));
      res.on('error', reject);
    });
    req.once('timeout', () => req.destroy(new Error(`GET ${url} timed out`)));
    req.once('error', reject);
  });
}

/** Resolves with the response once GET `url` answers with `status` (any 2xx when omitted). */
export async function waitForHttp(url: string, opts: WaitOptions & { status?: number } = {}): Promise<HttpResult> {
  const deadline = Date.now() + (opts.timeoutMs ?? 15_000);
  let last = '';
  while (Date.now() < deadline) {
    checkAborted(opts, url);
    try {
      const res = await httpGet(url, 2_000);
      const ok = opts.status === undefined ? res.status >= 200 && res.status < 300 : res.status === opts.status;
      if (ok) return res;
      last = `status ${res.status}: ${res.body.slice(0, 200)}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await sleep(opts.intervalMs ?? 50);
  }
  throw new Error(`GET ${url} did not answer as expected: ${last}`);
}

/** Polls `check` until it returns a value that is not undefined/false. */
export async function eventually<T>(check: () => T | undefined | false | Promise<T | undefined | false>, opts: WaitOptions & { what?: string } = {}): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 10_000);
  let lastError: unknown;
  while (Date.now() < deadline) {
    checkAborted(opts, opts.what ?? 'condition');
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      lastError = err;
    }
    await sleep(opts.intervalMs ?? 50);
  }
  throw new Error(`timed out waiting for ${opts.what ?? 'condition'}${lastError ? `: ${(lastError as Error).message}` : ''}`);
}
