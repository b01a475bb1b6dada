// The one way `npm run local`, the benchmarks and the tests start a nats-server: from a config file,
// with its output kept, stopped by whoever holds the ManagedProcess.
import { ManagedProcess } from './processes';

export const NATS_SERVER_BIN = process.env.NATS_SERVER_BIN ?? 'nats-server';

/** `nats-server -c confPath`, with `env` added to this process's environment (the variables nats.conf reads). */
export function launchNatsServer(name: string, confPath: string, env: NodeJS.ProcessEnv = {}, extraArgs: readonly string[] = []): ManagedProcess {
  return new ManagedProcess(name, NATS_SERVER_BIN, ['-c', confPath, ...extraArgs], { env });
}
