// `npm run bench -- --quick` runs end to end and writes a valid report. No speed is asserted:
// benchmarks are never timed tests; this only proves the harness works and cleans up after itself.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SUMMARY_HEADERS } from '../../bench/report';

const ROOT = path.resolve(__dirname, '..', '..');
const BENCHMARKS = ['fanout', 'capacity', 'latency', 'election', 'failover', 'memory', 'synth'];
const ROW_NAMES = ['Fan-out, CPU per frame', 'Fan-out, throughput vs raw NATS', 'Capacity, media mix', 'Added latency', 'Election', 'Failover', 'Memory', 'Synthesis'];
const VERDICTS = ['met', 'missed', 'no target', 'not measured'];

let dir: string;
let run: { code: number | null; output: string };

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vcg-bench-test-'));
  run = await new Promise((resolve) => {
    const child = spawn('npm', ['run', '--silent', 'bench', '--', '--quick', '--out', path.join(dir, 'B.md'), '--results', path.join(dir, 'r')], { cwd: ROOT });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c));
    child.stderr.on('data', (c: Buffer) => (output += c));
    child.on('exit', (code) => resolve({ code, output }));
  });
}, 180_000);

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Cells of the summary table (the first table of the report). */
function summaryRows(markdown: string): string[][] {
  const lines = markdown.split('\n');
  const start = lines.findIndex((l) => l.startsWith(`| ${SUMMARY_HEADERS.join(' | ')} |`));
  expect(start).toBeGreaterThan(-1);
  const rows: string[][] = [];
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith('|')) break;
    rows.push(line.slice(2, -2).split(/(?<!\\) \| /));
  }
  return rows;
}

test('the quick run exits 0 and leaves no process of its own behind', () => {
  expect({ code: run.code, tail: run.code === 0 ? '' : run.output.slice(-3000) }).toEqual({ code: 0, tail: '' });
  expect(run.output).toMatch(/wrote .*B\.md/);
  const { childPids } = JSON.parse(fs.readFileSync(path.join(dir, 'r', 'run.json'), 'utf8')).info as { childPids: number[] };
  expect(childPids.length).toBeGreaterThan(0);
  const alive = childPids.filter((pid) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  });
  expect(alive).toEqual([]);
});

test('the report has a full summary table: every benchmark, seven cells a row, a verdict in each', () => {
  const md = fs.readFileSync(path.join(dir, 'B.md'), 'utf8');
  expect(md).toMatch(/\d+ cores/);
  const rows = summaryRows(md);
  for (const name of ROW_NAMES) expect(rows.map((r) => r[0])).toContain(name);
  for (const r of rows) {
    expect(r).toHaveLength(SUMMARY_HEADERS.length);
    const verdict = r[6].replace(/\*\*/g, '').split(':')[0];
    expect(VERDICTS).toContain(verdict);
  }
  // rows with a target are judged, never left as "no target"
  for (const r of rows.filter((x) => x[5] !== '—' && !x[5].startsWith('— '))) expect(r[6]).toMatch(/met|missed|not measured/);
  // the quick run measures everything but the hung-relay failover it skips
  expect(rows.filter((r) => r[6].includes('not measured')).map((r) => r[1])).toEqual(['active relay SIGSTOPped (hung)']);
});

test('the raw figures are JSON, one file per benchmark, with the rows of the table', () => {
  const files = fs.readdirSync(path.join(dir, 'r')).sort();
  expect(files).toEqual([...BENCHMARKS.map((b) => `${b}.json`), 'run.json'].sort());
  const md = fs.readFileSync(path.join(dir, 'B.md'), 'utf8');
  const tableRows = summaryRows(md).length;
  let jsonRows = 0;
  for (const b of BENCHMARKS) {
    const data = JSON.parse(fs.readFileSync(path.join(dir, 'r', `${b}.json`), 'utf8'));
    expect(data.name).toBe(b);
    expect(data.info.quick).toBe(true);
    expect(data.raw).toBeDefined();
    jsonRows += data.rows.length;
  }
  expect(jsonRows).toBe(tableRows);
  const runInfo = JSON.parse(fs.readFileSync(path.join(dir, 'r', 'run.json'), 'utf8'));
  expect(runInfo.info.cores).toBe(os.cpus().length);
});
