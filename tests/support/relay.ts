// The real relay (relay/main.ts) as a child process on a free 127.0.0.1 port.
import path from 'node:path';
import { launchRelay } from '../../local/relays';
import { freePort } from './ports';
import { ExitInfo, ManagedProcess, testProcesses, waitForHttp } from './processes';

const ROOT = path.resolve(__dirname, '..', '..');

export interface RelayOptions {
  natsUrl: string;
  region?: string;
  serverId?: string;
  /** Extra environment (JWT_SECRET, limits...); wins over the defaults set here. */
  env?: Record<string, string>;
  /** Wait for /readyz (NATS connected) instead of only /healthz; default true. */
  waitReady?: boolean;
}

export interface RelayProcess {
  readonly port: number;
  /** ws://127.0.0.1:port */
  readonly url: string;
  /** http://127.0.0.1:port */
  readonly httpUrl: string;
  readonly process: ManagedProcess;
  readonly exited: Promise<ExitInfo>;
  output(): string;
  /** SIGTERM (the relay drains), SIGKILL after the timeout. */
  stop(timeoutMs?: number): Promise<ExitInfo>;
  kill(signal?: NodeJS.Signals): void;
}

let counter = 0;

export async function startRelay(opts: RelayOptions): Promise<RelayProcess> {
  const port = await freePort();
  const serverId = opts.serverId ?? `relay-test-${process.pid}-${++counter}`;
  const child = testProcesses.add(
    launchRelay(`relay ${serverId}`, { port, natsUrl: opts.natsUrl, region: opts.region ?? 'local', serverId, env: opts.env, cwd: ROOT }),
  );
  const httpUrl = `http://127.0.0.1:${port}`;
  await child.waitUntil((signal) => waitForHttp(`${httpUrl}/${opts.waitReady === false ? 'healthz' : 'readyz'}`, { timeoutMs: 20_000, signal }));
  return {
    port,
    url: `ws://127.0.0.1:${port}`,
    httpUrl,
    process: child,
    exited: child.exited,
    output: () => child.output(),
    stop: (timeoutMs = 10_000) => child.stop(timeoutMs),
    kill: (signal: NodeJS.Signals = 'SIGKILL') => child.kill(signal),
  };
}
