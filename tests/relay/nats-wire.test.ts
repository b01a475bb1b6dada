// The relay writes each loop turn's NATS publishes as one buffer of PUB commands through the
// client's command queue (relay/nats-link.ts reserve, writePubHeader): a real nats-server must read exactly
// the frames, subjects and order that per-frame `nc.publish` calls would have given it.
import { connect } from '@nats-io/transport-node';
import { createLogger } from '../../relay/log';
import { relayMetrics } from '../../relay/metrics';
import { NatsLink, WIRE_CHUNK_BYTES, commandQueue, pubLength, writePubHeader } from '../../relay/nats-link';
import { eventually } from '../support/processes';
import { NatsServer, startNatsServer } from '../support/nats';
import { NatsObserver } from './helpers';

let nats: NatsServer;
let observer: NatsObserver;
let link: NatsLink;

beforeAll(async () => {
  nats = await startNatsServer();
  observer = await NatsObserver.start(nats.url, 'wire.>');
  link = new NatsLink({ servers: [nats.url], name: 'wire-test', outboundBudgetBytes: 64 * 1024 * 1024 }, createLogger('error', {}, () => undefined), relayMetrics());
  await link.start();
});

afterAll(async () => {
  await link?.close(2_000);
  await observer?.close();
  await nats?.stop();
});

const bytes = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 7 + seed) & 0xff);
const text = (s: string) => new TextEncoder().encode(s);

test('the installed NATS client has the command queue the relay writes through', async () => {
  const nc = await connect({ servers: nats.url });
  try {
    expect(commandQueue(nc)).toBeInstanceOf(Function);
  } finally {
    await nc.close();
  }
});

test('a batch of publishes reaches nats-server whole: every subject, payload and the order', async () => {
  const sent = [
    { subject: 'wire.room.a.1', frame: bytes(1024, 1) },
    { subject: 'wire.room.b.22', frame: new Uint8Array(0) },
    { subject: 'wire.room.a.1', frame: text('\r\nPUB wire.evil 3\r\nabc\r\n') }, // protocol text inside a payload is payload
    { subject: 'wire.room.café.3', frame: bytes(9, 2) }, // a non-ASCII subject is UTF-8 on the wire
    { subject: 'wire.room.c.4', frame: bytes(200_000, 3) },
    { subject: 'wire.room.a.1', frame: bytes(10, 4) },
  ];
  for (const { subject, frame } of sent) expect(link.publish(subject, frame)).toBeUndefined();
  const result = link.flush();
  expect(result).toEqual({ frames: sent.length, bytes: sent.reduce((a, s) => a + s.frame.byteLength, 0), failed: 0 });
  await eventually(() => observer.messages.length >= sent.length, { what: 'every publish at the observer' });
  link.publish('wire.end', new Uint8Array([1]));
  link.flush();
  await eventually(() => observer.messages.some((m) => m.subject === 'wire.end'), { what: 'the marker' });
  const got = observer.messages.filter((m) => m.subject !== 'wire.end');
  expect(got.map((m) => m.subject)).toEqual(sent.map((s) => s.subject));
  got.forEach((m, i) => expect(Buffer.from(m.data).equals(Buffer.from(sent[i].frame))).toBe(true));
  observer.messages.length = 0;
});

test('reserved payloads across several wire chunks and turns arrive whole and in order; a view never changes once written', async () => {
  // 3 KB frames, four turns of 40: each turn crosses a chunk boundary (WIRE_CHUNK_BYTES), and a 100 KB one needs a chunk of its own size
  const turns = [0, 1, 2, 3].map((t) => Array.from({ length: 40 }, (_, i) => ({ subject: `wire.chunk.${t}`, frame: bytes(3000 + i, t * 40 + i) })));
  turns[2].splice(7, 0, { subject: 'wire.chunk.big', frame: bytes(WIRE_CHUNK_BYTES + 36_000, 99) });
  const views: Array<{ view: Uint8Array; expected: Uint8Array }> = [];
  for (const turn of turns) {
    for (const { subject, frame } of turn) {
      const view = link.reserve(subject, frame.byteLength);
      if (typeof view === 'string') throw new Error(`refused: ${view}`);
      view.set(frame);
      views.push({ view, expected: frame });
    }
    expect(link.flush().frames).toBe(turn.length);
  }
  for (const { view, expected } of views) expect(Buffer.from(view).equals(Buffer.from(expected))).toBe(true);
  const all = turns.flat();
  await eventually(() => observer.messages.length >= all.length, { what: 'every reserved publish at the observer' });
  expect(observer.messages.map((m) => m.subject)).toEqual(all.map((s) => s.subject));
  observer.messages.forEach((m, i) => expect(Buffer.from(m.data).equals(Buffer.from(all[i].frame))).toBe(true));
  observer.messages.length = 0;
});

test('a subject nats.js would refuse is left out and counted; the rest of the batch and the connection are fine', async () => {
  link.publish('wire.ok.1', bytes(5, 1));
  link.publish('wire.bad subject', bytes(5, 2));
  link.publish('', bytes(5, 3));
  link.publish('wire.tab\there', bytes(5, 4));
  link.publish('wire.ok.2', bytes(5, 5));
  expect(link.flush()).toEqual({ frames: 2, bytes: 10, failed: 3 });
  link.publish('wire.ok.3', bytes(5, 6));
  link.flush();
  await eventually(() => observer.messages.length >= 3, { what: 'the valid publishes' });
  expect(observer.messages.map((m) => m.subject)).toEqual(['wire.ok.1', 'wire.ok.2', 'wire.ok.3']);
  expect(link.usable).toBe(true);
  observer.messages.length = 0;
});

test('writePubHeader writes PUB <subject> <size> CRLF, sizes in decimal and subjects in UTF-8, within pubLength; it refuses what nats.js would', () => {
  const header = (subject: string, size: number) => {
    const out = new Uint8Array(pubLength(subject, size));
    const end = writePubHeader(out, 0, subject, size);
    return end < 0 ? undefined : Buffer.from(out.subarray(0, end)).toString('utf8');
  };
  expect(header('a.b', 0)).toBe('PUB a.b 0\r\n');
  expect(header('a.b', 9)).toBe('PUB a.b 9\r\n');
  expect(header('x', 10)).toBe('PUB x 10\r\n');
  expect(header('x', 1_234_567)).toBe('PUB x 1234567\r\n');
  expect(header('room.café.3', 5)).toBe('PUB room.café.3 5\r\n');
  for (const bad of ['', 'a b', 'a\tb', 'a\r\nPUB x', 'a\u007fb', 'café b']) expect(header(bad, 1)).toBeUndefined();
  // written at an offset, the header starts there: the batch is back to back
  const out = new Uint8Array(64).fill(0xee);
  expect(writePubHeader(out, 3, 'q', 2)).toBe(3 + 'PUB q 2\r\n'.length);
  expect(out[2]).toBe(0xee);
});
