// The one way `npm run local`, the benchmarks and the tests start a nats-server: from a config file,
// with its output kept; stopped by whoever holds the ManagedProcess (or the ProcessGroup it joined).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NATS_MAX_PAYLOAD } from '../topology/constants';
import { ManagedProcess, freePort, httpOk, ownedTempDir, waitUntilReady } from './processes';

export const NATS_SERVER_BIN = process.env.NATS_SERVER_BIN ?? 'nats-server';

/** `nats-server -c confPath`, with `env` added to this process's environment (the variables nats.conf reads). */
export function launchNatsServer(name: string, confPath: string, env: NodeJS.ProcessEnv = {}, extraArgs: readonly string[] = []): ManagedProcess {
  return new ManagedProcess(name, NATS_SERVER_BIN, ['-c', confPath, ...extraArgs], { env });
}

/** A single nats-server's files: a temp dir with its config, and the loopback ports it listens on. */
export interface StandaloneNats {
  readonly name: string;
  readonly port: number;
  readonly monitorPort: number;
  readonly url: string;
  readonly dir: string;
  readonly configPath: string;
}

export interface StandaloneNatsOptions {
  readonly name: string;
  /** @default a free port */
  readonly port?: number;
  /** nats.conf text appended after the generated lines (cluster, gateway, accounts…). */
  readonly config?: string;
  /** @default 'vcg-nats-' */
  readonly dirPrefix?: string;
}

/** Writes the config of a loopback nats-server with the deployment's max_payload; the caller removes `dir`. */
export async function prepareStandaloneNats(opts: StandaloneNatsOptions): Promise<StandaloneNats> {
  const port = opts.port ?? (await freePort());
  const monitorPort = await freePort();
  const dir = ownedTempDir(opts.dirPrefix ?? 'vcg-nats-');
  const configPath = join(dir, 'nats.conf');
  const lines = [
    `server_name: "${opts.name}"`,
    `listen: "127.0.0.1:${port}"`,
    `http: "127.0.0.1:${monitorPort}"`,
    // Frames up to the protocol's limit must fit in one NATS message, as in the generated regions.
    `max_payload: ${NATS_MAX_PAYLOAD}`,
    opts.config ?? '',
  ];
  writeFileSync(configPath, `${lines.join('\n')}\n`);
  return { name: opts.name, port, monitorPort, url: `nats://127.0.0.1:${port}`, dir, configPath };
}

/** Starts it and waits for /healthz; fails with its output if it exits first. */
export async function runStandaloneNats(nats: StandaloneNats, args: readonly string[] = [], timeoutMs = 15_000): Promise<ManagedProcess> {
  const p = launchNatsServer(`nats-server ${nats.name}`, nats.configPath, {}, args);
  try {
    await waitUntilReady(p, () => httpOk(`http://127.0.0.1:${nats.monitorPort}/healthz`), timeoutMs, '/healthz answering 200');
  } catch (e) {
    p.kill('SIGKILL');
    throw e;
  }
  return p;
}
