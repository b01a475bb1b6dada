// `npm run local` driven as a person would: real relays, real nats-server, real Chromium.
import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Browser, Page, chromium } from 'playwright-core';

jest.setTimeout(120_000);
const ROOT = join(__dirname, '../..');
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

interface PageState {
  elected: Array<{ url: string; region: string }>;
  switched: Array<{ from: string; to: string; reason: string; code?: number }>;
  active: { region: string } | null;
  received: string[];
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('npm run local', () => {
  let child: ChildProcess;
  let output = '';
  let pageUrl: string;
  let browser: Browser | undefined;
  let exited: Promise<number | null>;
  const out = mkdtempSync(join(tmpdir(), 'videocall-local-'));

  beforeAll(async () => {
    child = spawn(process.execPath, ['--import', 'tsx', 'local/main.ts', '--port', '0', '--out', out, '--inter-region-rtt', '80',
      '--client-rtt', 'us-east=20,singapore=160', '--duration', '110'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    child.stderr!.on('data', (d) => (output += d));
    pageUrl = await new Promise<string>((resolve, reject) => {
      child.stdout!.on('data', (d) => {
        output += d;
        const m = /page: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(output);
        if (m) resolve(m[1]);
      });
      child.once('exit', () => reject(new Error(`npm run local exited:\n${output}`)));
    });
  });

  afterAll(async () => {
    await browser?.close();
    if (child.exitCode === null) child.kill('SIGKILL');
    rmSync(out, { recursive: true, force: true });
  });

  const state = (page: Page) => page.evaluate(() => (window as unknown as { videocall: PageState }).videocall);
  const until = async (page: Page, check: (s: PageState) => boolean, what: string) => {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const s = await state(page);
      if (s && check(s)) return s;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(s)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  };

  it('prints what it started and where', () => {
    expect(output).toMatch(/relay us-east-relay-0 at ws:\/\/127\.0\.0\.1:\d+ \(\+20 ms RTT\)/);
    expect(output).toMatch(/relay singapore-relay-0 at ws:\/\/127\.0\.0\.1:\d+ \(\+160 ms RTT\)/);
    expect(output).toContain('nats singapore-nats-1 at nats://127.0.0.1:');
    const servers = JSON.parse(readFileSync(join(out, 'servers.json'), 'utf8')).servers;
    expect(servers).toEqual([
      { region: 'us-east', transport: 'websocket', url: expect.stringMatching(/^ws:\/\/127\.0\.0\.1:\d+$/) },
      { region: 'singapore', transport: 'websocket', url: expect.stringMatching(/^ws:\/\/127\.0\.0\.1:\d+$/) },
    ]);
  });

  it('elects the nearest relay, carries test packets across regions, and fails over when the winner stops', async () => {
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
    const context = await browser.newContext();
    const nearby = await context.newPage();
    const faraway = await context.newPage();
    await nearby.goto(`${pageUrl}?room=e2e&user=alice`);
    await faraway.goto(`${pageUrl}?room=e2e&user=bob&only=singapore`);

    const a = await until(nearby, (s) => s.elected.length > 0, 'alice elected');
    expect(a.elected[0].region).toBe('us-east');
    expect((await until(faraway, (s) => s.elected.length > 0, 'bob elected')).elected[0].region).toBe('singapore');
    expect(await nearby.locator('#winner').textContent()).toContain('us-east');

    // Packets cross the gateway both ways.
    await until(nearby, (s) => s.received.some((l) => l.includes('bob: test packet') && l.includes('via singapore')), 'alice hears bob');
    await until(faraway, (s) => s.received.some((l) => l.includes('alice: test packet') && l.includes('via us-east')), 'bob hears alice');

    // Stop the winner with its button, as a person would.
    await nearby.locator('tr[data-relay="us-east-relay-0"] button').click();
    const switched = await until(nearby, (s) => s.switched.length > 0, 'failover');
    expect(switched.switched[0]).toMatchObject({ reason: 'closed', code: 1001 });
    expect(switched.active?.region).toBe('singapore');
    const heardBefore = (await state(nearby)).received.length;
    await until(nearby, (s) => s.received.length > heardBefore, 'packets after the failover');
    await until(faraway, (s) => s.received.some((l) => l.includes('alice: test packet') && l.includes('via singapore')), 'bob hears alice via singapore');

    // The page shows the stopped relay and can restart it.
    await until(nearby, () => true, 'refresh');
    await nearby.waitForSelector('tr[data-relay="us-east-relay-0"] td.down');
    await nearby.locator('tr[data-relay="us-east-relay-0"] button').click();
    await nearby.waitForSelector('tr[data-relay="us-east-relay-0"] button:text("stop")', { timeout: 30_000 });
  });

  it('shows pods Ready and gateway links, and black-holes and heals a link from its buttons', async () => {
    browser ??= await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
    const page = await (await browser.newContext()).newPage();
    await page.goto(`${pageUrl}?room=faults&user=carol`);
    const cluster = page.locator('#cluster');
    const shows = async (text: string | RegExp, timeout = 15_000) => {
      const deadline = Date.now() + timeout;
      for (;;) {
        const now = (await cluster.textContent()) ?? '';
        if (typeof text === 'string' ? now.includes(text) : text.test(now)) return now;
        if (Date.now() > deadline) throw new Error(`the page never showed ${text}:\n${now}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    };
    const ready = await shows('singapore → us-east: up');
    expect(ready).toContain('us-east: nats-0 Ready, nats-1 Ready, nats-2 Ready');
    expect(ready).toContain('us-east → singapore: up');
    await page.locator('button', { hasText: 'black-hole us-east↔singapore' }).click();
    await shows('us-east ↔ singapore partitioned (blackhole)', 5_000);
    // The gateway keepalive in the generated nats.conf reports the silent link down within 10 s.
    await shows(/us-east → singapore: DOWN|singapore → us-east: DOWN/, 12_000);
    await page.locator('button', { hasText: 'heal us-east↔singapore' }).click();
    await shows(/us-east → singapore: up\nsingapore → us-east: up$/, 15_000);
  });

  it('stops every process it started on Ctrl-C', async () => {
    const pids = (await (await fetch(`${pageUrl}api/pids`)).json()) as number[];
    expect(pids.length).toBe(7); // 5 NATS servers + 2 relays
    expect(pids.every(alive)).toBe(true);
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(output).toContain('stopped: every process this run started has ended');
    expect(pids.filter(alive)).toEqual([]);
  });
});
