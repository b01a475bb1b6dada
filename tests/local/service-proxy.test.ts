// The Service proxy of the emulation, with plain TCP servers as its endpoints: new connections go
// only where the Service points now, a black hole swallows without closing and lets through on heal,
// a reset path resets, and the connecting process is told apart by its socket.
import * as net from 'node:net';
import { PathState, ServiceProxy, pidOfLoopbackPeer } from '../../local/service-proxy';

const servers: net.Server[] = [];
const sockets: net.Socket[] = [];
const proxies: ServiceProxy[] = [];

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await Promise.all(proxies.map((p) => p.close()));
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
});

/** A server that answers every chunk with `tag:` + the chunk. */
async function taggedEcho(tag: string): Promise<number> {
  const server = net.createServer((s) => {
    sockets.push(s);
    s.on('data', (d) => s.write(`${tag}:${d}`));
    s.on('error', () => undefined);
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as net.AddressInfo).port;
}

interface Client {
  socket: net.Socket;
  data: string;
  closed: boolean;
  error?: string;
}

async function dial(port: number): Promise<Client> {
  const socket = net.connect({ port, host: '127.0.0.1' });
  sockets.push(socket);
  const c: Client = { socket, data: '', closed: false };
  socket.on('data', (d) => (c.data += d));
  socket.on('error', (e) => (c.error = (e as NodeJS.ErrnoException).code));
  socket.on('close', () => (c.closed = true));
  await new Promise((r) => {
    socket.once('connect', r);
    socket.once('close', r);
  });
  return c;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(check: () => boolean, what: string, ms = 3_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`not within ${ms} ms: ${what}`);
    await sleep(20);
  }
}

describe('ServiceProxy', () => {
  it('sends new connections only to the endpoints listed now; open ones stay where they are', async () => {
    const a = await taggedEcho('a');
    const b = await taggedEcho('b');
    let endpoints = [a];
    const proxy = new ServiceProxy({ name: 'test', endpoints: () => endpoints });
    proxies.push(proxy);
    const port = await proxy.start();
    const first = await dial(port);
    first.socket.write('1');
    await until(() => first.data === 'a:1', 'the first connection on a');
    endpoints = [b];
    const second = await dial(port);
    second.socket.write('2');
    first.socket.write('3');
    await until(() => second.data === 'b:2' && first.data === 'a:1a:3', 'the new one on b, the old one still on a');
  });

  it('refuses (resets) a connection when the Service has no endpoints', async () => {
    const proxy = new ServiceProxy({ name: 'empty', endpoints: () => [] });
    proxies.push(proxy);
    const c = await dial(await proxy.start());
    if (!c.closed) c.socket.write('x');
    await until(() => c.closed, 'the connection closed');
    expect(c.data).toBe('');
    expect(c.error).toBe('ECONNRESET');
  });

  it('holds a black-holed path silently and lets everything through on heal; a reset path resets', async () => {
    const a = await taggedEcho('a');
    let path: PathState = { mode: 'open', rttMs: 0 };
    const proxy = new ServiceProxy({ name: 'wan', endpoints: () => [a], identify: () => 'far', path: () => path });
    proxies.push(proxy);
    const port = await proxy.start();
    const open = await dial(port);
    open.socket.write('1');
    await until(() => open.data === 'a:1', 'the path working');

    path = { mode: 'blackhole' };
    proxy.reapplyPaths();
    open.socket.write('2');
    const late = await dial(port); // its SYN "vanishes": held until the heal
    late.socket.write('3');
    await sleep(500);
    expect({ open: open.data, late: late.data, closed: open.closed || late.closed }).toEqual({ open: 'a:1', late: '', closed: false });

    path = { mode: 'open', rttMs: 0 };
    proxy.reapplyPaths();
    await until(() => open.data === 'a:1a:2' && late.data === 'a:3', 'everything held delivered after the heal');

    path = { mode: 'reset' };
    proxy.reapplyPaths();
    await until(() => open.closed && late.closed, 'both connections reset');
    expect(proxy.connectionsFrom('far')).toBe(0);
  });

  it('tells which process owns the connecting socket', async () => {
    const seen: Array<number | undefined> = [];
    const a = await taggedEcho('a');
    const proxy = new ServiceProxy({
      name: 'who',
      endpoints: () => [a],
      identify: (s) => {
        seen.push(pidOfLoopbackPeer(s.remotePort!, s.localPort!, [999_999_999, process.pid]));
        return undefined;
      },
    });
    proxies.push(proxy);
    const c = await dial(await proxy.start());
    c.socket.write('x');
    await until(() => c.data === 'a:x', 'the echo');
    expect(seen).toEqual([process.pid]);
  });
});
