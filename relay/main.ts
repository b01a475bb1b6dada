// Entry point of `npm run relay`: settings from the environment, --help, start, and drain on SIGTERM.
import { ConfigError, helpText, memoryBudgets, parseConfig } from './config';
import { createLogger } from './log';
import { relayMetrics } from './metrics';
import { RelayServer } from './server';
import { UwsLoadError, loadUws } from './uws';

/** Kubernetes waits 30 s by default after SIGTERM; exit well before that whatever happens. */
const HARD_EXIT_MS = 25_000;

async function main(argv: string[]): Promise<void> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(helpText() + '\n');
    return;
  }
  if (argv.length > 0) {
    process.stderr.write(`relay: unknown argument ${JSON.stringify(argv[0])}; settings come from the environment (see --help)\n`);
    process.exit(2);
  }

  let config;
  let uws;
  try {
    config = parseConfig(process.env);
    uws = loadUws();
  } catch (err) {
    if (err instanceof ConfigError || err instanceof UwsLoadError) {
      process.stderr.write(`relay: ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }

  const log = createLogger(config.logLevel, { region: config.region, server: config.serverId });
  const server = new RelayServer(config, uws, log, relayMetrics());
  const port = await server.start();
  log.info('relay listening', {
    host: config.host, port, nats: config.natsUrls, pathLobby: config.allowPathLobby, lobbyAuth: config.jwtSecret !== undefined ? 'enabled' : 'disabled',
    memoryLimitBytes: config.memoryLimitBytes, budgets: memoryBudgets(config.memoryLimitBytes),
  });

  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log.info('signal received, draining', { signal });
    setTimeout(() => {
      log.error('drain took too long, exiting');
      process.exit(1);
    }, HARD_EXIT_MS).unref();
    server.drain().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error('drain failed', { error: err });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('uncaughtException', (err) => {
    log.error('uncaught exception', { error: err, stack: err.stack });
    process.exit(1);
  });
}

void main(process.argv.slice(2));
