// The Dockerfile cannot be built here (no Docker engine), so its build steps are run as written, with
// /out in a temp dir: once as the image is built (the btc-vision build under the image's Node 24, whose
// addon needs glibc >= 2.38, so on Debian 12 the build must stop loudly at its addon check), and once
// with UWS_PACKAGE=uWebSockets.js under this machine's Node 20, whose result is started the way the
// image starts it.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseConfig } from '../../relay/config';
import { eventually, httpGet, spawnProcess } from '../support/processes';
import {
  atLeast, dockerfile, dockerfileArg, glibcHere, glibcRequired, imageNodeAvailableHere, imageNodeBinDir, requireImageNode, root,
} from './image-support';

/** RUN instructions of the build stage, continuation lines joined, comment lines dropped. */
const runs = dockerfile
  .split(/^FROM .* AS runtime$/m)[0]
  .replace(/^\s*#.*\n/gm, '')
  .replace(/\\\n/g, ' ')
  .split('\n')
  .filter((l) => l.startsWith('RUN '))
  .map((l) => l.slice(4));
const steps = runs.filter((r) => !r.startsWith('npm ci')); // node_modules is already here

const outs: string[] = [];
function tempOut(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vcg-image-'));
  outs.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of outs) fs.rmSync(dir, { recursive: true, force: true });
});

/** Runs the build steps in order with `node` from nodeBinDir; stops at the first that fails. */
async function build(out: string, env: { UWS_PACKAGE: string; nodeBinDir: string }): Promise<{ failed?: string; output: string }> {
  let output = '';
  for (const step of steps) {
    const p = spawnProcess('bash', ['-c', step.replace(/\/out\b/g, out)], {
      cwd: root, env: { ...process.env, UWS_PACKAGE: env.UWS_PACKAGE, PATH: `${env.nodeBinDir}:${process.env.PATH}` },
    });
    const exit = await p.exited;
    output += p.output();
    if (exit.code !== 0) return { failed: step, output };
  }
  return { output };
}

function nodeFiles(dir: string): string[] {
  return fs.readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.node'));
}

test('multi-stage, non-root, exposes the default port, starts the bundle', () => {
  expect(dockerfile.match(/^FROM /gm)?.length).toBeGreaterThanOrEqual(2);
  const runtime = dockerfile.split(/^FROM .* AS runtime$/m)[1];
  expect(runtime).toMatch(/^USER (?!root\b|0\b)\S+$/m);
  expect(runtime).toContain(`EXPOSE ${parseConfig({}).port}`);
  expect(runtime).toMatch(/^CMD \["node", "relay.js"\]$/m);
  expect(runtime).not.toMatch(/npm (ci|install)/);
  // A supported LTS on a glibc the btc-vision addons accept (Debian 13 has 2.41).
  expect(dockerfileArg('NODE_IMAGE')).toMatch(/^node:(22|24)\.\d+\.\d+-trixie-slim$/);
  expect(dockerfileArg('UWS_PACKAGE')).toBe('@btc-vision/uwebsockets.js');
  // The addon check runs the relay's own loader under the image's Node.
  expect(runs.join('\n')).toMatch(/node uws-check\.js/);
});

(imageNodeAvailableHere ? test : test.skip)('built as the image is built (btc-vision, the image\'s Node): the bundle runs, and the addon check fails loudly unless glibc >= 2.38', async () => {
  requireImageNode();
  const out = tempOut();
  const result = await build(out, { UWS_PACKAGE: dockerfileArg('UWS_PACKAGE'), nodeBinDir: imageNodeBinDir });
  const addon = path.join(root, 'node_modules', '@btc-vision', 'uwebsockets.js', 'uws_linux_x64_137.node');
  if (atLeast(glibcHere(), glibcRequired(addon))) {
    expect(result.failed).toBeUndefined(); // a Debian 13 / Ubuntu 24.04 machine builds the image for real
  } else {
    // The bundles were built, and the step that keeps the addon refused to continue, naming the cause.
    expect(fs.existsSync(path.join(out, 'relay.js'))).toBe(true);
    expect(result.failed).toMatch(/uws-check\.js/);
    expect(result.output).toMatch(/uws-check: no uWebSockets\.js native addon loads .* on Node v24\.[\s\S]*GLIBC_2\.38' not found/);
    expect(nodeFiles(path.join(out, 'node_modules'))).toEqual([path.join('@btc-vision', 'uwebsockets.js', 'uws_linux_x64_137.node')]);
  }
}, 120_000);

test('the build steps with UWS_PACKAGE=uWebSockets.js produce a bundle that runs with only that addon beside it', async () => {
  const out = tempOut();
  const result = await build(out, { UWS_PACKAGE: 'uWebSockets.js', nodeBinDir: path.dirname(process.execPath) });
  if (result.failed !== undefined) throw new Error(`build step failed: ${result.failed}\n${result.output}`);
  expect(fs.readdirSync(path.join(out, 'node_modules'))).toEqual(['uWebSockets.js']);
  expect(nodeFiles(path.join(out, 'node_modules'))).toEqual([path.join('uWebSockets.js', 'binaries', `uws_linux_x64_${process.versions.modules}.node`)]);
  expect(fs.existsSync(path.join(out, 'node_modules', 'uWebSockets.js', 'dist'))).toBe(false); // no JS fallback to fall back on
  // The check command the README gives operators.
  const check = spawnProcess(process.execPath, ['uws-check.js'], { cwd: out, env: { PATH: process.env.PATH } });
  expect((await check.exited).code).toBe(0);
  expect(JSON.parse(check.output().trim())).toMatchObject({ package: 'uWebSockets.js', version: '20.30.0-unofficial.0', sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
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
