// The browser bundle of rtt-client in real headless Chromium, electing among real relays on loopback
// (behind delay proxies at clearly different RTTs) with the browser's own WebSocket.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser, type Page } from 'playwright-core';
import { BROWSER_GLOBAL, bundleForBrowser } from '../../rtt-client/build';
import { startRegions, type Regions } from '../rtt-client/regions';

jest.setTimeout(90_000);

const CHROMIUM = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const REGIONS = [
  { region: 'mid', rttMs: 90 },
  { region: 'near', rttMs: 20 },
  { region: 'far', rttMs: 180 },
] as const;

interface PageResults {
  elected: Array<{ region: string; rttMs: number; standby?: string; why: string }>;
  switched: Array<{ from: string; to: string; reason: string }>;
  lost: number;
  messages: number;
  diagnostics: Array<{ state: string; candidates: Array<{ region: string; role: string; state: string; samples: number[] }> }>;
  errors: string[];
}

let regions: Regions | undefined;
let http: Server | undefined;
let browser: Browser | undefined;
let page: Page | undefined;
let bundle = '';

beforeAll(async () => {
  [regions, bundle] = await Promise.all([startRegions(REGIONS), bundleForBrowser()]);
  const servers = regions.servers;
  const html = `<!doctype html><meta charset="utf-8"><title>rtt-client</title>
<script src="/rtt-client.js"></script>
<script>
  const results = { elected: [], switched: [], lost: 0, messages: 0, diagnostics: [], errors: [] };
  window.results = results;
  window.addEventListener('error', (e) => results.errors.push(String(e.message)));
  const manager = new ${BROWSER_GLOBAL}.ConnectionManager({ servers: ${JSON.stringify(servers)}, userId: 'carol', path: '/lobby/carol/browser' });
  manager.on('elected', (e) => results.elected.push({ region: e.server.region, rttMs: e.rttMs, standby: e.standby && e.standby.region, why: e.why }));
  manager.on('switched', (e) => results.switched.push({ from: e.from.region, to: e.to.region, reason: e.reason }));
  manager.on('lost', () => results.lost++);
  manager.on('message', () => results.messages++);
  manager.on('diagnostics', (d) => results.diagnostics.push(d));
  manager.start();
  window.manager = manager;
</script>`;
  http = createServer((req, res) => {
    if (req.url === '/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(html);
    } else if (req.url === '/rtt-client.js') {
      res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' }).end(bundle);
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => http!.listen(0, '127.0.0.1', resolve));
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  page = await browser.newPage();
});

afterAll(async () => {
  await page?.evaluate(() => (window as unknown as { manager?: { close(): void } }).manager?.close()).catch(() => undefined);
  await browser?.close();
  await new Promise<void>((resolve) => (http ? http.close(() => resolve()) : resolve()));
  await regions?.stop();
});

const results = () => page!.evaluate(() => (window as unknown as { results: PageResults }).results);

test('the bundle has no Node-only code in it', () => {
  expect(bundle).not.toMatch(/require\(|from ["']node:|from ["']ws["']/);
});

test('elects the nearest relay in Chromium, with the browser\'s own WebSocket', async () => {
  const { port } = http!.address() as AddressInfo;
  await page!.goto(`http://127.0.0.1:${port}/`);
  await page!.waitForFunction(() => (window as unknown as { results: PageResults }).results.elected.length > 0, undefined, { timeout: 20_000 });
  const r = await results();
  expect(r.errors).toEqual([]);
  expect(r.elected).toHaveLength(1);
  expect(r.elected[0]).toMatchObject({ region: 'near' });
  expect(r.elected[0].rttMs).toBeGreaterThanOrEqual(20);
  expect(r.messages).toBeGreaterThan(0); // SESSION_ASSIGNED replayed from the winner
  // the 1 Hz 'diagnostics' events arrive in the page too; an early decision can come before the
  // runner-up's second sample, and then a background election makes the next fastest the standby
  const standbyReady = () =>
    (window as unknown as { results: PageResults }).results.diagnostics.some((x) => x.state === 'active' && x.candidates.some((c) => c.role === 'standby'));
  await page!.waitForFunction(standbyReady, undefined, { timeout: 8_000 });
  const d = (await results()).diagnostics.at(-1)!;
  expect(d.state).toBe('active');
  expect(d.candidates.map((c) => [c.region, c.role, c.state])).toEqual([['mid', 'standby', 'open'], ['near', 'active', 'open'], ['far', 'candidate', 'closed']]);
  expect(JSON.stringify(d)).not.toMatch(/\?/);
});

test('fails over in Chromium when the winner is killed', async () => {
  regions!.relays.get('near')!.kill('SIGKILL');
  await page!.waitForFunction(() => (window as unknown as { results: PageResults }).results.switched.length > 0, undefined, { timeout: 10_000 });
  const r = await results();
  expect(r.switched[0]).toMatchObject({ from: 'near', to: 'mid' });
  expect(r.lost).toBe(0);
});
