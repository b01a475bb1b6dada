// `npm run bench`: every benchmark of the issue in one run, side by side, written to BENCHMARKS.md
// and bench/results/*.json. `--quick` is the smoke test `npm test` runs; it is not the benchmark.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CAPACITY_FULL, CAPACITY_QUICK, benchCapacity } from './capacity';
import { ELECTION_FULL, ELECTION_QUICK, benchElection } from './election';
import { FAILOVER_FULL, FAILOVER_QUICK, benchFailover } from './failover';
import { FANOUT_FULL, FANOUT_QUICK, benchFanout } from './fanout';
import { LATENCY_FULL, LATENCY_QUICK, benchLatency } from './latency';
import { MEMORY_FULL, MEMORY_QUICK, benchMemory } from './memory';
import { NATS_SERVER_BIN } from '../local/nats-server';
import { ROOT, killAllNow, startedPids, stopAll } from './procs';
import { keptResult, writeReport, type BenchResult, type RunInfo } from './report';
import { SYNTH_FULL, SYNTH_QUICK, benchSynth } from './synth';

const NAMES = ['fanout', 'capacity', 'latency', 'election', 'failover', 'synth', 'memory'] as const;
type Name = (typeof NAMES)[number];

const TITLES: Record<Name, string> = {
  fanout: 'Relay fan-out', capacity: 'Capacity', latency: 'Added latency', election: 'Election', failover: 'Failover', synth: 'Synthesis', memory: 'Memory',
};

const USAGE = `Usage: npm run bench [-- options]
  --quick           small sizes and short durations (a smoke test, well under a minute)
  --only NAME[,..]  run only these: ${NAMES.join(', ')}
  --out FILE        Markdown report (default BENCHMARKS.md)
  --results DIR     raw figures as JSON (default bench/results)
  --help`;

interface Args {
  quick: boolean;
  only: Name[];
  out: string;
  results: string;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { quick: false, only: [...NAMES], out: path.join(ROOT, 'BENCHMARKS.md'), results: path.join(ROOT, 'bench', 'results') };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined || v.startsWith('--')) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--quick') args.quick = true;
    else if (a === '--only') {
      const names = value().split(',').map((s) => s.trim());
      for (const n of names) if (!(NAMES as readonly string[]).includes(n)) throw new Error(`--only: unknown benchmark "${n}" (one of ${NAMES.join(', ')})`);
      args.only = names as Name[];
    } else if (a === '--out') args.out = path.resolve(value());
    else if (a === '--results') args.results = path.resolve(value());
    else if (a === '--help' || a === '-h') {
      process.stdout.write(USAGE + '\n');
      process.exit(0);
    } else throw new Error(`unknown argument ${JSON.stringify(a)}\n${USAGE}`);
  }
  return args;
}

function safe(f: () => string): string {
  try {
    return f().trim();
  } catch {
    return 'unknown';
  }
}

/** Measured code that differs from HEAD (other agents may be editing it while we run). */
function uncommittedFiles(): string[] {
  try {
    const out = execFileSync('git', ['status', '--porcelain', '--', 'relay', 'rtt-client', 'protocol', 'bench'], { cwd: ROOT, encoding: 'utf8' });
    return out.split('\n').filter((l) => l.length > 3).map((l) => l.slice(3)).filter((f) => !f.startsWith('bench/results/'));
  } catch {
    return ['(git status failed)'];
  }
}

const log = (s: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${s}\n`);

/** A benchmark that failed still gets its rows: "not measured", with the reason. */
function failed(name: Name, err: unknown): BenchResult {
  const reason = (err instanceof Error ? err.message : String(err)).split('\n')[0].slice(0, 300);
  return {
    name, title: TITLES[name],
    rows: [{ benchmark: TITLES[name], configuration: '—', ours: '—', yardstick: '—', ratio: '—', target: '—', result: 'not measured', note: `the benchmark failed: ${reason}` }],
    details: `Not measured: the benchmark failed.\n\n\`\`\`\n${err instanceof Error ? err.stack ?? err.message : String(err)}\n\`\`\``,
    raw: { error: err instanceof Error ? err.message : String(err) },
  };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const startedAt = new Date().toISOString();
  // the code measured is the code at the start (other agents may commit while we run)
  const commit = safe(() => execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }));
  const uncommitted = uncommittedFiles();
  const loadStart = os.loadavg();
  const results: BenchResult[] = [];
  let commonMax: Record<string, number> | undefined;
  const run = async (name: Name, f: () => Promise<BenchResult> | BenchResult) => {
    if (!args.only.includes(name)) return;
    log(`${name}: start`);
    try {
      results.push(await f());
    } catch (err) {
      log(`${name}: FAILED ${(err as Error).stack ?? err}`);
      results.push(failed(name, err));
    }
  };
  try {
    await run('fanout', async () => {
      const r = await benchFanout(args.quick ? FANOUT_QUICK : FANOUT_FULL, log);
      commonMax = r.commonMax;
      return r;
    });
    await run('capacity', () => benchCapacity(args.quick ? CAPACITY_QUICK : CAPACITY_FULL, log));
    await run('latency', () => {
      const o = args.quick ? LATENCY_QUICK : LATENCY_FULL;
      return benchLatency(o, commonMax?.[`${o.roomSize}/${o.frameBytes}`], log);
    });
    await run('election', () => benchElection(args.quick ? ELECTION_QUICK : ELECTION_FULL, log));
    await run('failover', () => benchFailover(args.quick ? FAILOVER_QUICK : FAILOVER_FULL, log));
    await run('memory', () => benchMemory(args.quick ? MEMORY_QUICK : MEMORY_FULL, log));
    await run('synth', () => benchSynth(args.quick ? SYNTH_QUICK : SYNTH_FULL, log));
  } finally {
    await stopAll();
  }
  // a partial run keeps the other benchmarks' sections as their last run left them
  if (!args.quick) {
    for (const name of NAMES) {
      if (args.only.includes(name)) continue;
      const kept = keptResult(args.results, args.out, name, TITLES[name]);
      if (kept !== undefined) results.push(kept);
    }
  }
  const order = (r: BenchResult) => NAMES.indexOf(r.name as Name);
  results.sort((a, b) => order(a) - order(b));
  const info: RunInfo = {
    startedAt,
    finishedAt: new Date().toISOString(),
    quick: args.quick,
    cores: os.cpus().length,
    cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown',
    node: process.version,
    natsServer: safe(() => execFileSync(NATS_SERVER_BIN, ['--version'], { encoding: 'utf8' })),
    commit,
    loadAverage: { start: loadStart, end: os.loadavg() },
    childPids: startedPids(),
    uncommitted,
    command: ['npm run bench', ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : [])].join(' '),
  };
  const analysisFile = path.join(ROOT, 'bench', 'analysis.md');
  writeReport(args.out, args.results, info, results, fs.existsSync(analysisFile) ? fs.readFileSync(analysisFile, 'utf8') : undefined);
  log(`wrote ${args.out} and ${args.results}/`);
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log(`${signal}: stopping every process started`);
    void stopAll().finally(() => process.exit(130));
  });
}
process.once('exit', killAllNow);

main().catch(async (err: unknown) => {
  process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n`);
  await stopAll();
  process.exit(1);
});
