// The delay proxy over real TCP on loopback.
import * as net from 'node:net';
import { once } from 'node:events';
import { DelayProxy } from '../../local/delay-proxy';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function echoServer(): Promise<{ port: number; sockets: Set<net.Socket>; lastData: Map<net.Socket, string> }> {
  const sockets = new Set<net.Socket>();
  const lastData = new Map<net.Socket, string>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('data', (d: Buffer) => lastData.set(s, d.toString()));
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    s.pipe(s);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cleanups.push(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  });
  return { port: (server.address() as net.AddressInfo).port, sockets, lastData };
}

async function startProxy(targetPort: number, rttMs: number, jitterMs = 0): Promise<DelayProxy> {
  const proxy = new DelayProxy({ targetPort, rttMs, jitterMs });
  await proxy.start();
  cleanups.push(() => proxy.close());
  return proxy;
}

async function connect(port: number): Promise<net.Socket> {
  const s = net.connect({ host: '127.0.0.1', port });
  s.on('error', () => undefined);
  cleanups.push(() => {
    s.destroy();
  });
  await once(s, 'connect');
  return s;
}

/** Round trip of one small message through the echo, in ms. */
async function roundTrip(s: net.Socket): Promise<number> {
  const t0 = performance.now();
  s.write('ping');
  let got = '';
  while (got.length < 4) got += ((await once(s, 'data')) as [Buffer])[0].toString();
  return performance.now() - t0;
}

test('adds the configured RTT, and a new delay applies to open connections', async () => {
  const echo = await echoServer();
  const proxy = await startProxy(echo.port, 120);
  const s = await connect(proxy.port);
  expect(await roundTrip(s)).toBeGreaterThanOrEqual(119);
  proxy.setDelay({ rttMs: 300 });
  expect(await roundTrip(s)).toBeGreaterThanOrEqual(299);
  proxy.setDelay({ rttMs: 0 });
  expect(await roundTrip(s)).toBeLessThan(299);
  expect(proxy.delay).toEqual({ rttMs: 0, jitterMs: 0 });
});

test('keeps byte order under jitter', async () => {
  const echo = await echoServer();
  const proxy = await startProxy(echo.port, 20, 40);
  const s = await connect(proxy.port);
  const expected = Array.from({ length: 300 }, (_, i) => `<${i}>`).join('');
  let received = '';
  s.on('data', (d: Buffer) => (received += d.toString()));
  for (let i = 0; i < 300; i++) {
    s.write(`<${i}>`);
    if (i % 30 === 0) await new Promise((r) => setTimeout(r, 3)); // spread over time so chunks get different jitter
  }
  const deadline = Date.now() + 10000;
  while (received.length < expected.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  expect(received).toBe(expected);
});

test('counts connections, forwards a clean end after the data, and close() destroys every socket', async () => {
  const echo = await echoServer();
  const proxy = await startProxy(echo.port, 40);
  const a = await connect(proxy.port);
  const b = await connect(proxy.port);
  await roundTrip(a);
  await roundTrip(b);
  expect(proxy.connectionCount).toBe(2);
  expect(proxy.openConnections).toBe(2);

  // the server ends one connection: the client sees the data first, then the end
  let tail = '';
  a.on('data', (d: Buffer) => (tail += d.toString()));
  a.write('last words');
  // wait until the echo server has it (past the one-way delay; later on a loaded machine), then end that socket
  const ending = async (): Promise<void> => {
    for (const [s, last] of echo.lastData) if (last === 'last words') return void s.end();
    await new Promise((r) => setTimeout(r, 5));
    return ending();
  };
  await ending();
  await once(a, 'end');
  expect(tail).toBe('last words');
  a.end();
  await once(a, 'close');

  const closed = once(b, 'close');
  await proxy.close();
  await closed;
  expect(proxy.openConnections).toBe(0);
  expect(() => proxy.port).toThrow(/not listening/);
});

test('dropConnections resets every link and keeps listening', async () => {
  const echo = await echoServer();
  const proxy = await startProxy(echo.port, 10);
  const a = await connect(proxy.port);
  await roundTrip(a);
  const closed = once(a, 'close');
  proxy.dropConnections();
  await closed;
  const b = await connect(proxy.port);
  expect(await roundTrip(b)).toBeGreaterThanOrEqual(9);
  expect(proxy.connectionCount).toBe(2);
});

test('a target that refuses closes the client connection', async () => {
  const echo = await echoServer();
  const proxy = await startProxy(echo.port, 10);
  await cleanups.splice(0, 1)[0](); // stop the echo server now: nothing listens on its port any more
  await new Promise((r) => setTimeout(r, 20));
  const s = net.connect({ host: '127.0.0.1', port: proxy.port });
  s.on('error', () => undefined);
  cleanups.push(() => {
    s.destroy();
  });
  await once(s, 'close');
  expect(proxy.connectionCount).toBe(1);
  expect(proxy.openConnections).toBe(0);
});

test('rejects bad settings', () => {
  expect(() => new DelayProxy({ targetPort: 0, rttMs: 10 })).toThrow(/targetPort/);
  expect(() => new DelayProxy({ targetPort: 80, rttMs: -1 })).toThrow(/rttMs/);
  expect(() => new DelayProxy({ targetPort: 80, rttMs: 1, jitterMs: NaN })).toThrow(/jitterMs/);
  expect(() => new DelayProxy({ targetPort: 80, rttMs: 1, targetHost: '10.0.0.1' as '127.0.0.1' })).toThrow(/127.0.0.1/);
});
