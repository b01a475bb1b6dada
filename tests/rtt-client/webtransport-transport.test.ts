// WebTransportTransport against a fake WebTransport (no WebTransport server can run here),
// built on the real Web Streams of Node.
import { WebTransportTransport, type WebTransportConstructor, type WebTransportLike } from '../../rtt-client/webtransport-transport';
import type { TransportClose } from '../../rtt-client/transport';

class FakeWebTransport implements WebTransportLike {
  static last: FakeWebTransport;
  readonly ready: Promise<unknown>;
  readonly closed: Promise<{ closeCode?: number; reason?: string }>;
  readonly datagramsSent: number[][] = [];
  readonly streamsSent: number[][] = [];
  closeCalls: Array<{ closeCode?: number; reason?: string } | undefined> = [];
  readonly datagrams: WebTransportLike['datagrams'];
  readonly incomingUnidirectionalStreams: ReadableStream<ReadableStream<Uint8Array>>;
  private pushDatagram!: ReadableStreamDefaultController<Uint8Array>;
  private pushStream!: ReadableStreamDefaultController<ReadableStream<Uint8Array>>;
  open!: () => void;
  serverClose!: (info: { closeCode: number; reason: string }) => void;
  fail!: (err: Error) => void;

  constructor(readonly url: string) {
    FakeWebTransport.last = this;
    let rejectReady: (e: Error) => void;
    this.ready = new Promise((resolve, reject) => {
      this.open = () => resolve(undefined);
      rejectReady = reject;
    });
    this.ready.catch(() => undefined);
    this.closed = new Promise((resolve, reject) => {
      this.serverClose = resolve;
      this.fail = (err) => {
        rejectReady(err);
        reject(err);
      };
    });
    const sent = this.datagramsSent;
    this.datagrams = {
      readable: new ReadableStream({ start: (c) => void (this.pushDatagram = c) }),
      writable: new WritableStream({ write: (chunk) => void sent.push([...chunk]) }),
      maxDatagramSize: 16,
    };
    this.incomingUnidirectionalStreams = new ReadableStream({ start: (c) => void (this.pushStream = c) });
  }

  async createUnidirectionalStream(): Promise<WritableStream<Uint8Array>> {
    const parts: number[] = [];
    return new WritableStream({
      write: (chunk) => void parts.push(...chunk),
      close: () => void this.streamsSent.push(parts),
    });
  }

  close(info?: { closeCode?: number; reason?: string }): void {
    this.closeCalls.push(info);
  }

  datagram(bytes: number[]): void {
    this.pushDatagram.enqueue(Uint8Array.from(bytes));
  }

  /** one inbound unidirectional stream carrying `chunks` */
  stream(chunks: number[][]): void {
    this.pushStream.enqueue(new ReadableStream({
      start(c) {
        for (const chunk of chunks) c.enqueue(Uint8Array.from(chunk));
        c.close();
      },
    }));
  }
}

const Fake = FakeWebTransport as unknown as WebTransportConstructor;
const tick = () => new Promise((r) => setTimeout(r, 10));

function open() {
  const events: Array<['open'] | ['message', number[]] | ['close', TransportClose]> = [];
  const t = new WebTransportTransport('https://relay.test/lobby?token=SECRET', {
    onOpen: () => events.push(['open']),
    onMessage: (f) => events.push(['message', [...f]]),
    onClose: (c) => events.push(['close', c]),
  }, Fake);
  return { t, events, wt: FakeWebTransport.last };
}

test('probes go as datagrams when they fit, otherwise on a stream; frames go one per stream', async () => {
  const { t, wt } = open();
  t.sendProbe(Uint8Array.of(1)); // before ready: dropped
  wt.open();
  await tick();
  t.sendProbe(Uint8Array.of(1, 2, 3));
  t.sendProbe(new Uint8Array(17).fill(4)); // larger than maxDatagramSize
  t.send(Uint8Array.of(9, 9));
  await tick();
  expect(wt.datagramsSent).toEqual([[1, 2, 3]]);
  expect(wt.streamsSent).toEqual(expect.arrayContaining([new Array(17).fill(4), [9, 9]]));
  expect(wt.streamsSent).toHaveLength(2);
});

test('inbound datagrams and streams are frames; a stream is one frame however it is chunked', async () => {
  const { events, wt } = open();
  wt.open();
  await tick();
  wt.datagram([5, 6]);
  wt.stream([[1, 2], [3], [4, 5, 6]]);
  await tick();
  expect(events).toEqual([['open'], ['message', [5, 6]], ['message', [1, 2, 3, 4, 5, 6]]]);
});

test('a server close reports its code and reason once', async () => {
  const { events, wt } = open();
  wt.open();
  await tick();
  wt.serverClose({ closeCode: 1001, reason: 'draining' });
  await tick();
  expect(events).toEqual([['open'], ['close', { code: 1001, reason: 'draining' }]]);
});

test('a failed connection reports a close with the error, without the query string', async () => {
  const { events, wt } = open();
  wt.fail(new Error('Opening handshake failed for https://relay.test/lobby?token=SECRET'));
  await tick();
  expect(events).toEqual([['close', { code: 0, reason: '', error: 'Opening handshake failed for https://relay.test/lobby' }]]);
});

test('close() closes the session and reports nothing', async () => {
  const { t, events, wt } = open();
  wt.open();
  await tick();
  t.close(1000, 'not elected');
  wt.serverClose({ closeCode: 1000, reason: 'not elected' });
  wt.datagram([1]);
  await tick();
  expect(wt.closeCalls).toEqual([{ closeCode: 1000, reason: 'not elected' }]);
  expect(events).toEqual([['open']]);
});

test('without WebTransport the error is clear', () => {
  const handlers = { onOpen: () => undefined, onMessage: () => undefined, onClose: () => undefined };
  expect(() => new WebTransportTransport('https://x', handlers, undefined)).toThrow(/WebTransport is not available/);
});
