// The Dockerfile cannot be built here (no Docker engine), so its build steps are run as written,
// with /out in a temp dir, and the result is started the way the image starts it.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseConfig } from '../../relay/config';
import { eventually, httpGet, spawnProcess } from '../support/processes';

const root = path.resolve(__dirname, '..', '..');
const dockerfile = fs.readFileSync(path.join(root, 'Dockerfile'), 'utf8');
/** RUN instructions of the build stage, continuation lines joined, comment lines dropped. */
const runs = dockerfile
  .split(/^FROM .* AS runtime$/m)[0]
  .replace(/^\s*#.*\n/gm, '')
  .replace(/\\\n/g, ' ')
  .split('\n')
  .filter((l) => l.startsWith('RUN '))
  .map((l) => l.slice(4));

let out: string;
beforeAll(() => {
  out = fs.mkdtempSync(path.join(os.tmpdir(), 'vcg-image-'));
});
afterAll(() => {
  fs.rmSync(out, { recursive: true, force: true });
});

test('multi-stage, non-root, exposes the default port, starts the bundle', () => {
  expect(dockerfile.match(/^FROM /gm)?.length).toBeGreaterThanOrEqual(2);
  const runtime = dockerfile.split(/^FROM .* AS runtime$/m)[1];
  expect(runtime).toMatch(/^USER (?!root\b|0\b)\S+$/m);
  expect(runtime).toContain(`EXPOSE ${parseConfig({}).port}`);
  expect(runtime).toMatch(/^CMD \["node", "relay.js"\]$/m);
  expect(runtime).not.toMatch(/npm (ci|install)/);
});

test('the build steps produce a bundle that runs with only the uWebSockets.js addon beside it', async () => {
  const steps = runs.filter((r) => !r.startsWith('npm ci')); // node_modules is already here
  expect(steps.length).toBeGreaterThanOrEqual(2);
  for (const step of steps) {
    const p = spawnProcess('bash', ['-c', step.replace(/\/out\b/g, out)], { cwd: root });
    const exit = await p.exited;
    if (exit.code !== 0) throw new Error(`build step failed: ${step}\n${p.output()}`);
  }
  expect(fs.readdirSync(path.join(out, 'node_modules'))).toEqual(['uWebSockets.js']);
  expect(fs.readdirSync(path.join(out, 'node_modules', 'uWebSockets.js', 'binaries'))).toHaveLength(1);
  const help = spawnProcess(process.execPath, ['relay.js', '--help'], { cwd: out, env: { PATH: process.env.PATH } });
  expect((await help.exited).code).toBe(0);
  expect(help.output()).toContain('NATS_URL');
  // Started as the image starts it, outside the repository: it listens and answers /healthz.
  const relay = spawnProcess(process.execPath, ['relay.js'], { cwd: out, env: { PATH: process.env.PATH, PORT: '0', HOST: '127.0.0.1', NATS_URL: 'nats://127.0.0.1:1' } });
  const port = await relay.waitUntil(() => eventually(() => /"msg":"relay listening".*"port":(\d+)/.exec(relay.output())?.[1], { what: 'listening log line' }));
  expect((await httpGet(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
  expect((await httpGet(`http://127.0.0.1:${port}/readyz`)).status).toBe(503); // no NATS there
  await relay.stop();
}, 60_000);
