// A real nats-server on 127.0.0.1 with its own temp dir and free ports, for integration tests.
import fs from 'node:fs';
import { prepareStandaloneNats, runStandaloneNats } from '../../local/nats-server';
import { ManagedProcess, testProcesses } from './processes';

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
  const name = opts.name ?? `test-${process.pid}-${++counter}`;
  const files = await prepareStandaloneNats({ name, port: opts.port, config: opts.config });
  const { port, monitorPort, dir, configPath } = files;
  testProcesses.ownDir(dir);

  let current: ManagedProcess;
  const launch = async () => {
    current = testProcesses.add(await runStandaloneNats(files, opts.args ?? []));
  };
  try {
    await launch();
  } catch (e) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw e;
  }

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
