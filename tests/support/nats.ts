// A real nats-server on 127.0.0.1 with its own temp dir and free ports, for integration tests.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { NATS_MAX_PAYLOAD } from '../../topology/constants';
import { NATS_SERVER_BIN } from '../../local/nats-server';
import { freePort } from './ports';
import { ManagedProcess, spawnProcess, waitForHttp } from './processes';

export interface NatsServerOptions {
  /** server_name; defaults to a unique one. */
  name?: string;
  /** Client port; a free one when omitted. */
  port?: number;
  /** Extra nats.conf text appended after the generated lines (cluster, gateway, accounts...). */
  config?: string;
  /** Extra command-line arguments. */
  args?: string[];
}

export interface NatsServer {
  readonly url: string;
  readonly port: number;
  readonly monitorPort: number;
  readonly configPath: string;
  readonly dir: string;
  /** The currently running process (replaced by restart()). */
  readonly process: ManagedProcess;
  /** SIGTERM, then SIGKILL; removes the temp dir. */
  stop(): Promise<void>;
  /** Kills the server at once (SIGKILL by default) without cleanup, to simulate a crash. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same ports with the same config (after stop or kill). */
  restart(): Promise<void>;
}

let counter = 0;

export async function startNatsServer(opts: NatsServerOptions = {}): Promise<NatsServer> {
  const port = opts.port ?? (await freePort());
  const monitorPort = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vcg-nats-'));
  const name = opts.name ?? `test-${process.pid}-${++counter}`;
  const configPath = path.join(dir, 'nats.conf');
  const lines = [
    `server_name: "${name}"`,
    `listen: "127.0.0.1:${port}"`,
    `http: "127.0.0.1:${monitorPort}"`,
    // Frames up to the protocol's limit must fit in one NATS message.
    `max_payload: ${NATS_MAX_PAYLOAD}`,
    opts.config ?? '',
  ];
  fs.writeFileSync(configPath, lines.join('\n') + '\n');

  let current: ManagedProcess;
  const launch = async () => {
    current = spawnProcess(NATS_SERVER_BIN, ['-c', configPath, ...(opts.args ?? [])], { name: `nats-server ${name}` });
    await current.waitUntil((signal) => waitForHttp(`http://127.0.0.1:${monitorPort}/healthz`, { timeoutMs: 15_000, signal }));
  };
  await launch();

  let removed = false;
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    monitorPort,
    configPath,
    dir,
    get process() {
      return current;
    },
    async stop() {
      await current.stop();
      if (!removed) fs.rmSync(dir, { recursive: true, force: true });
      removed = true;
    },
    async kill(signal: NodeJS.Signals = 'SIGKILL') {
      current.kill(signal);
      await current.exited;
    },
    async restart() {
      if (current.running) await current.stop();
      if (removed) throw new Error(`nats-server ${name} was stopped for good; its config is gone`);
      await launch();
    },
  };
}
