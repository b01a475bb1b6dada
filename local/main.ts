// `npm run local`: the global deployment emulated on loopback, with a live page.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { regions as builtInRegions } from '../regions';
import { loadTopologyFile } from '../topology/file';
import { TopologyError } from '../topology/topology';
import { DEFAULT_INTER_REGION_RTT_MS, LocalDeployment, parseClientRtt, startLocalDeployment } from './deployment';
import { createInterface } from 'node:readline';
import { FAULT_HELP, runFault } from './faults';
import { PageServer, startPageServer } from './page-server';

const USAGE = `Usage: npm run local -- [options]

  --topology FILE          regions from a YAML or JSON file (default: regions/)
  --inter-region-rtt MS    RTT added to every gateway link (default ${DEFAULT_INTER_REGION_RTT_MS})
  --relays-per-region N    relays started in each region (default 1)
  --client-rtt R=MS,...    RTT between you and each region's relays (default: 30 to the first, 240 to others)
  --jitter MS              random extra one-way delay on client links (default 0)
  --port P                 the page's port on 127.0.0.1 (default 8090; 0 picks a free one)
  --duration S             stop by itself after S seconds (default: run until Ctrl-C)
  --out DIR                where servers.json for these endpoints goes (default dist/local)
  --deploy sequential|parallel  apply regions one after another in deploy order (default) or all at once
  --time-scale F           run the manifests' probe periods and back-offs F times as long (default 1)
  --fault "CMD; CMD"       faults to run once everything is Ready (also typed in this terminal);
                           ${FAULT_HELP.replace(/\n\s*/g, ' ')}
  -h, --help               this text`;

function number(name: string, raw: string | undefined, fallback: number, min = 0): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min) throw new RangeError(`--${name} must be a number ≥ ${min}, got "${raw}"`);
  return n;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      topology: { type: 'string' },
      'inter-region-rtt': { type: 'string' },
      'relays-per-region': { type: 'string' },
      'client-rtt': { type: 'string' },
      jitter: { type: 'string' },
      port: { type: 'string' },
      duration: { type: 'string' },
      out: { type: 'string' },
      deploy: { type: 'string' },
      'time-scale': { type: 'string' },
      fault: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const regions = values.topology ? loadTopologyFile(values.topology) : [...builtInRegions];
  const duration = values.duration === undefined ? undefined : number('duration', values.duration, 0, 1);
  const port = number('port', values.port, 8090);
  const deployOrder = values.deploy ?? 'sequential';
  if (deployOrder !== 'sequential' && deployOrder !== 'parallel') throw new RangeError(`--deploy must be sequential or parallel, got "${deployOrder}"`);
  const timeScale = number('time-scale', values['time-scale'], 1, 0.01);

  let deployment: LocalDeployment | undefined;
  let page: PageServer | undefined;
  let stopping: Promise<void> | undefined;
  const stop = (why: string) =>
    (stopping ??= (async () => {
      console.log(`\nstopping (${why}) …`);
      await page?.close();
      await deployment?.stop();
      console.log('stopped: every process this run started has ended');
    })());
  process.once('SIGINT', () => void stop('Ctrl-C').then(() => process.exit(0)));
  process.once('SIGTERM', () => void stop('SIGTERM').then(() => process.exit(0)));

  try {
    deployment = await startLocalDeployment({
      regions,
      interRegionRttMs: number('inter-region-rtt', values['inter-region-rtt'], DEFAULT_INTER_REGION_RTT_MS),
      relaysPerRegion: number('relays-per-region', values['relays-per-region'], 1, 1),
      clientRttMs: parseClientRtt(values['client-rtt']),
      clientJitterMs: number('jitter', values.jitter, 0),
      deployOrder,
      timeScale,
      log: (line) => console.log(line),
    });
    page = await startPageServer(deployment, port);
  } catch (e) {
    await stop('start-up failed');
    throw e;
  }
  for (const s of deployment.superCluster.servers) console.log(`nats ${s.serverName} at ${s.clientUrl} (monitor ${s.monitorUrl})`);
  // The same list a deployed client would get from dist/servers.json, for Node clients or curl.
  const serversFile = join(values.out ?? 'dist/local', 'servers.json');
  mkdirSync(dirname(serversFile), { recursive: true });
  writeFileSync(serversFile, `${JSON.stringify({ servers: deployment.servers() }, null, 2)}\n`);
  console.log(`servers.json at ${serversFile} and ${page.url}servers.json`);
  console.log(`page: ${page.url}  (open it in two tabs; stop the winning relay to watch a failover)`);
  const fault = async (line: string) => {
    const words = line.trim().split(/\s+/).filter(Boolean);
    if (words.length === 0) return;
    try {
      console.log(await runFault(deployment!, words));
    } catch (e) {
      console.log((e as Error).message);
    }
  };
  for (const command of (values.fault ?? '').split(';')) await fault(command);
  console.log(FAULT_HELP);
  if (process.stdin.isTTY) createInterface({ input: process.stdin }).on('line', (line) => void fault(line));
  if (duration !== undefined) {
    setTimeout(() => void stop(`--duration ${duration}`).then(() => process.exit(0)), duration * 1000);
  }
}

main().catch((e) => {
  console.error(`local: ${e instanceof TopologyError || e instanceof RangeError ? e.message : (e as Error).stack}`);
  process.exit(1);
});
