// WebSocketTransport with the `ws` package against a real `ws` server on loopback.
import { once } from 'node:events';
import WebSocket, { WebSocketServer } from 'ws';
import { WebSocketTransport, type WebSocketConstructor } from '../../rtt-client/websocket-transport';
import type { TransportClose } from '../../rtt-client/transport';

const Ws = WebSocket as unknown as WebSocketConstructor;
let server: WebSocketServer;
let port: number;
const serverSockets: WebSocket[] = [];

beforeAll(async () => {
  server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await once(server, 'listening');
  port = (server.address() as { port: number }).port;
  server.on('connection', (ws, req) => {
    serverSockets.push(ws);
    ws.on('message', (data, isBinary) => {
      if (!isBinary) return;
      if (req.url === '/echo') ws.send(data, { binary: true });
    });
    if (req.url === '/hello') {
      ws.send('a text frame is not a protocol frame');
      ws.send(Buffer.from([1, 2, 3]), { binary: true });
    }
    if (req.url === '/drain') ws.close(1001, 'draining');
  });
});

afterAll(async () => {
  for (const ws of serverSockets) ws.terminate();
  await new Promise<void>((r) => server.close(() => r()));
});

function open(path: string) {
  const events: Array<['open'] | ['message', number[]] | ['close', TransportClose]> = [];
  let resolveClose: (c: TransportClose) => void;
  const closed = new Promise<TransportClose>((r) => (resolveClose = r));
  let resolveOpen: () => void;
  const opened = new Promise<void>((r) => (resolveOpen = r));
  const t = new WebSocketTransport(`ws://127.0.0.1:${port}${path}`, {
    onOpen: () => {
      events.push(['open']);
      resolveOpen();
    },
    onMessage: (f) => events.push(['message', [...f]]),
    onClose: (c) => {
      events.push(['close', c]);
      resolveClose(c);
    },
  }, Ws);
  return { t, events, opened, closed };
}

const until = async (cond: () => boolean) => {
  const deadline = Date.now() + 5000;
  while (!cond() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
};

test('binary frames both ways; text frames are dropped', async () => {
  const c = open('/hello');
  await until(() => c.events.length >= 2);
  expect(c.events).toEqual([['open'], ['message', [1, 2, 3]]]);
  c.t.close(1000, 'done');
});

test('probes and frames are echoed as bytes, and close() does not report a close', async () => {
  const c = open('/echo');
  c.t.send(Uint8Array.of(9)); // before open: dropped, not thrown
  await c.opened;
  c.t.sendProbe(Uint8Array.of(5, 6));
  c.t.send(Uint8Array.of(7));
  await until(() => c.events.length >= 3);
  expect(c.events).toEqual([['open'], ['message', [5, 6]], ['message', [7]]]);
  c.t.close(1000, 'bye');
  await new Promise((r) => setTimeout(r, 100));
  expect(c.events.filter((e) => e[0] === 'close')).toEqual([]);
});

test('a draining server\'s close code 1001 and reason are reported once', async () => {
  const c = open('/drain');
  expect(await c.closed).toEqual({ code: 1001, reason: 'draining' });
  expect(c.events.filter((e) => e[0] === 'close')).toHaveLength(1);
});

test('a refused connection reports a close with the error, without the query string', async () => {
  const refused = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await once(refused, 'listening');
  const deadPort = (refused.address() as { port: number }).port;
  await new Promise<void>((r) => refused.close(() => r()));
  const events: TransportClose[] = [];
  const done = new Promise<void>((resolve) => {
    new WebSocketTransport(`ws://127.0.0.1:${deadPort}/lobby?token=SECRET`, {
      onOpen: () => undefined,
      onMessage: () => undefined,
      onClose: (c) => {
        events.push(c);
        resolve();
      },
    }, Ws);
  });
  await done;
  expect(events).toHaveLength(1);
  expect(events[0].code).toBe(1006);
  expect(events[0].error).toMatch(/ECONNREFUSED/);
  expect(JSON.stringify(events)).not.toMatch(/SECRET/);
});

test('without any WebSocket implementation the error says what to do', () => {
  const handlers = { onOpen: () => undefined, onMessage: () => undefined, onClose: () => undefined };
  const saved = (globalThis as { WebSocket?: unknown }).WebSocket;
  delete (globalThis as { WebSocket?: unknown }).WebSocket;
  try {
    expect(() => new WebSocketTransport('ws://127.0.0.1:1', handlers)).toThrow(/rtt-client\/node/);
  } finally {
    if (saved !== undefined) (globalThis as { WebSocket?: unknown }).WebSocket = saved;
  }
});
