// The capacity benchmark's C load generator (bench/native/wsload.c) against the real servers it
// measures: the frames it builds are ones both our relay and the `ws` design accept and fan out,
// it counts and times every delivery, its latency is the path's (a delay proxy shows through),
// and bad requests fail with a message instead of hanging.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MEDIA_BYTES_PER_SEC, MEDIA_FRAMES_PER_SEC, MEDIA_MIX, RTT_PROBE, mediaSizes, mediaStreams } from '../../bench/load';
import { NativeGenerator, buildNativeGenerator } from '../../bench/native-generator';
import { DelayProxy } from '../../local/delay-proxy';
import { startNatsServer, type NatsServer } from '../support/nats';
import { freePort } from '../support/ports';
import { spawnProcess, waitForHttp } from '../support/processes';
import { startRelay, type RelayProcess } from '../support/relay';

const ROOT = path.resolve(__dirname, '..', '..');
jest.setTimeout(60_000);

let nats: NatsServer;
let relay: RelayProcess;
let wsDesignUrl: string;
const generators: NativeGenerator[] = [];

beforeAll(async () => {
  nats = await startNatsServer();
  relay = await startRelay({ natsUrl: nats.url });
  const port = await freePort();
  const ws = spawnProcess(process.execPath, ['--import', 'tsx', path.join(ROOT, 'bench', 'ws-relay.ts')], {
    name: 'ws design', cwd: ROOT, env: { ...process.env, PORT: String(port), NATS_URL: nats.url, SERVER_ID: 'ws-design-test' },
  });
  await ws.waitUntil((signal) => waitForHttp(`http://127.0.0.1:${port}/readyz`, { timeoutMs: 20_000, signal }));
  wsDesignUrl = `ws://127.0.0.1:${port}`;
});

afterAll(async () => {
  await Promise.all(generators.map((g) => g.stop()));
});

function generator(): NativeGenerator {
  const g = new NativeGenerator();
  generators.push(g);
  return g;
}

/** Rooms of the given sizes with participant indices from `first` on. */
function rooms(sizes: number[], first: number, tag: string) {
  let next = first;
  return sizes.map((n, r) => ({ room: `${tag}-${r}`, indices: Array.from({ length: n }, () => next++) }));
}

const run = { frameBytes: 0, mode: { kind: 'media' as const }, warmupMs: 300, durationMs: 1_000 };

test('the streams every generator paces are the media mix: its frame rate, bytes and probes', () => {
  expect(MEDIA_FRAMES_PER_SEC).toBeCloseTo(MEDIA_MIX.audio.perSec + MEDIA_MIX.video.perSec + MEDIA_MIX.heartbeat.perSec, 9);
  // audio 50 × 150 B; video 30 × (one 40 KiB keyframe + deltas 2/3/4 KiB by k mod 3 for k = 1…59: 19, 20 and 20 of them) ÷ 60; heartbeat 64 B
  expect(MEDIA_BYTES_PER_SEC).toBeCloseTo(50 * 150 + (30 * (40 * 1024 + 19 * 2048 + 20 * 3072 + 20 * 4096)) / 60 + 64, 6);
  const probe = mediaStreams().filter((s) => s.cycle.includes(RTT_PROBE));
  expect(probe.map((s) => [1000 / s.periodMs, s.cycle])).toEqual([[MEDIA_MIX.rttProbe.perSec, [RTT_PROBE]]]);
  expect(mediaSizes().sort((a, b) => a - b)).toEqual([64, 100, 150, 200, 2048, 3072, 4096, 40 * 1024]);
});

test('compiles once and reuses the binary while the source is unchanged', () => {
  // its own path: the benchmark run by another test file may be building the shared one
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wsload-'));
  try {
    const binary = buildNativeGenerator(path.join(dir, 'wsload'));
    const built = fs.statSync(binary).mtimeMs;
    expect(fs.statSync(binary).mode & 0o111).not.toBe(0);
    expect(buildNativeGenerator(binary)).toBe(binary);
    expect(fs.statSync(binary).mtimeMs).toBe(built);
    expect(fs.readdirSync(dir)).toEqual(['wsload']); // no temporary file left behind
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

describe.each([
  ['our relay', () => relay.url],
  ['the ws design', () => wsDesignUrl],
])('against %s', (_name, url) => {
  test('every frame is delivered to every other member of its room, counted and timed', async () => {
    const g = generator();
    const sizes = [2, 2, 3];
    const participants = sizes.reduce((a, b) => a + b, 0);
    const deliveriesPerSec = sizes.reduce((a, n) => a + n * (n - 1), 0) * MEDIA_FRAMES_PER_SEC;
    await g.open('t', 'ws', url(), rooms(sizes, 100, `native-${process.pid}-${Date.now()}`));
    const r = await g.run('t', run);
    await g.close('t');
    expect(r.lost).toBe(0);
    expect(r.expected).toBeGreaterThan(0);
    // paced at the mix's rate: within 10 % over one second (a tick is 5 ms)
    expect(r.sentPerSec / (participants * MEDIA_FRAMES_PER_SEC)).toBeGreaterThan(0.9);
    expect(r.sentPerSec / (participants * MEDIA_FRAMES_PER_SEC)).toBeLessThan(1.1);
    expect(r.deliveredPerSec / deliveriesPerSec).toBeGreaterThan(0.9);
    expect(r.deliveredPerSec / deliveriesPerSec).toBeLessThan(1.1);
    expect(r.latencyMs.count).toBe(r.deliveredInWindow);
    expect(r.latencyMs.min).toBeGreaterThan(0);
    expect(r.latencyMs.p99).toBeLessThan(1_000);
  });
});

test('the latency it reports is the path\'s: a 40 ms round trip in front of the relay shows through', async () => {
  const proxy = new DelayProxy({ targetPort: relay.port, rttMs: 40 });
  const { port } = await proxy.start();
  try {
    const g = generator();
    await g.open('delayed', 'ws', `ws://127.0.0.1:${port}`, rooms([2, 2], 200, `native-delay-${process.pid}`));
    const r = await g.run('delayed', run);
    await g.close('delayed');
    expect(r.lost).toBe(0);
    // one way in, one way out: a full round trip between sender and receiver
    expect(r.latencyMs.min).toBeGreaterThanOrEqual(39);
    expect(r.latencyMs.p50).toBeLessThan(200);
  } finally {
    await proxy.close();
  }
});

test('frames of an earlier run are not counted in the next one', async () => {
  const g = generator();
  await g.open('twice', 'ws', relay.url, rooms([2], 300, `native-twice-${process.pid}`));
  const first = await g.run('twice', { ...run, durationMs: 300 });
  const second = await g.run('twice', { ...run, durationMs: 300 });
  await g.close('twice');
  for (const r of [first, second]) {
    expect(r.lost).toBe(0);
    expect(r.deliveredInWindow).toBe(r.latencyMs.count);
  }
  // each run's due deliveries are its own sends only
  expect(second.expected / first.expected).toBeGreaterThan(0.8);
  expect(second.expected / first.expected).toBeLessThan(1.25);
});

test('bad requests are refused with a reason, and the process keeps serving', async () => {
  const g = generator();
  const closed = await freePort();
  await expect(g.open('refused', 'ws', `ws://127.0.0.1:${closed}`, rooms([2], 400, 'x'))).rejects.toThrow(`connect 127.0.0.1:${closed}: Connection refused`);
  await expect(g.open('nats', 'nats', nats.url, rooms([2], 400, 'x'))).rejects.toThrow(/WebSocket only/);
  await expect(g.open('far', 'ws', 'ws://192.0.2.1:80', rooms([2], 400, 'x'))).rejects.toThrow(/127\.0\.0\.1 only/);
  await expect(g.run('nothing', run)).rejects.toThrow(/nothing open under nothing/);
  // the relay refuses an upgrade whose path is not a lobby: the reply names the status
  await expect(g.open('bad-path', 'ws', relay.url, [{ room: 'a/b', indices: [500, 501] }])).rejects.toThrow(/refused: HTTP\/1\.1 4\d\d/);
  await g.open('ok', 'ws', relay.url, rooms([2], 600, `native-after-${process.pid}`));
  await expect(g.run('ok', { ...run, mode: { kind: 'rate', fps: 30 } })).rejects.toThrow(/media mix only/);
  const r = await g.run('ok', { ...run, durationMs: 300 });
  await g.close('ok');
  expect(r.lost).toBe(0);
  expect(r.deliveredInWindow).toBeGreaterThan(0);
});

test('stop ends the process and the sockets it held', async () => {
  const g = new NativeGenerator();
  await g.open('s', 'ws', relay.url, rooms([2], 700, `native-stop-${process.pid}`));
  const exited = new Promise<number | null>((resolve) => g.process.once('exit', (code) => resolve(code)));
  await g.stop();
  expect(await exited).toBe(0);
});
