// Relays of `npm run local`: real relay processes, each behind a delay proxy that puts it at
// its region's distance from the user. Stop and start keep the proxy (and so the URL clients use).
import { join } from 'node:path';
import { DelayProxy } from './delay-proxy';
import { ManagedProcess, freePort, httpOk, waitUntilReady } from './processes';

const RELAY_MAIN = join(__dirname, '..', 'relay', 'main.ts');

/**
 * How to run the relay from source: node itself with tsx's loader, not the tsx CLI, which would
 * run node as a second process that a SIGKILL of the CLI leaves orphaned with the port open.
 */
export function relayCommand(): [command: string, args: string[]] {
  return [process.execPath, ['--import', 'tsx', RELAY_MAIN]];
}

export interface RelayLaunchOptions {
  readonly port: number;
  readonly natsUrl: string;
  readonly region: string;
  readonly serverId: string;
  /** Added last: wins over the settings above (JWT_SECRET, limits, LOG_LEVEL…). */
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
}

/** The one way `npm run local`, the benchmarks and the tests start a relay on 127.0.0.1. */
export function launchRelay(name: string, opts: RelayLaunchOptions): ManagedProcess {
  const [command, args] = relayCommand();
  return new ManagedProcess(name, command, args, {
    cwd: opts.cwd,
    env: { HOST: '127.0.0.1', PORT: String(opts.port), NATS_URL: opts.natsUrl, REGION: opts.region, SERVER_ID: opts.serverId, ...opts.env },
  });
}

export interface LocalRelayOptions {
  readonly id: string;
  readonly region: string;
  readonly natsUrls: readonly string[];
  readonly clientRttMs: number;
  readonly clientJitterMs: number;
}

export class LocalRelay {
  readonly id: string;
  readonly region: string;
  private process?: ManagedProcess;
  private relayPort = 0;
  private proxy?: DelayProxy;
  private proxyPort = 0;

  constructor(private readonly options: LocalRelayOptions) {
    this.id = options.id;
    this.region = options.region;
  }

  /** ws:// URL through the delay proxy: what servers.json lists. */
  get url(): string {
    return `ws://127.0.0.1:${this.proxyPort}`;
  }

  get running(): boolean {
    return this.process !== undefined && this.process.child.exitCode === null && this.process.child.signalCode === null;
  }

  get pid(): number | undefined {
    return this.running ? this.process!.child.pid : undefined;
  }

  get clientRttMs(): number {
    return this.options.clientRttMs;
  }

  /** Picks the relay's port, puts the proxy in front of it, starts the relay. */
  async open(): Promise<void> {
    this.relayPort = await freePort();
    // The proxy outlives restarts of the relay, so the URL in servers.json stays the same.
    this.proxy = new DelayProxy({ targetPort: this.relayPort, rttMs: this.options.clientRttMs, jitterMs: this.options.clientJitterMs });
    this.proxyPort = (await this.proxy.start()).port;
    await this.start();
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.process = launchRelay(this.id, { port: this.relayPort, natsUrl: this.options.natsUrls.join(','), region: this.region, serverId: this.id });
    await waitUntilReady(this.process, () => httpOk(`http://127.0.0.1:${this.relayPort}/readyz`), 20_000, '/readyz answering 200');
  }

  /** SIGTERM: the relay drains and tells its clients to fail over (close code 1001). */
  async stop(): Promise<void> {
    await this.process?.stop(10_000);
  }

  /** SIGKILL: the relay dies without a word; its clients see the socket drop. */
  async kill(): Promise<void> {
    this.process?.kill('SIGKILL');
    await this.process?.exited;
  }

  async close(): Promise<void> {
    await this.stop();
    await this.proxy?.close();
  }
}
