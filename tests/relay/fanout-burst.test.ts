// Client frames are fanned out at the end of the poll phase that read them (relay/fanout-queue.ts):
// bursts that arrive in one read reach every receiver whole and in order per sender, and frames read
// just before their sender's socket closes still reach the room.
import type net from 'node:net';
import { MediaType, PacketType, decodeMediaPacket, decodePacketWrapper, encodeMediaPacket, encodePacketWrapper } from '../../protocol';
import { CloseCode } from '../../relay/session';
import { eventually } from '../support/processes';
import { TestClient, metricOf, openWelcomed, useRelayOverNats } from './helpers';

const env = useRelayOverNats();

/** A MEDIA frame from `user` whose payload carries `index` (and some bulk, so a burst spans many frames of a read). */
function mediaFrame(user: string, index: number): Uint8Array {
  const data = new Uint8Array(1000);
  new DataView(data.buffer).setUint32(0, index);
  return encodePacketWrapper({ packetType: PacketType.MEDIA, userId: user, data: encodeMediaPacket({ mediaType: MediaType.VIDEO, userId: user, data }) });
}

/** The indices of `user`'s media frames a client received, in arrival order. */
function indicesFrom(c: TestClient, user: string): number[] {
  const out: number[] = [];
  for (const f of c.frames) {
    const pw = decodePacketWrapper(f);
    if (pw.packetType !== PacketType.MEDIA || Buffer.from(pw.userId).toString() !== user) continue;
    const media = decodeMediaPacket(pw.data);
    out.push(new DataView(media.data.buffer, media.data.byteOffset, media.data.byteLength).getUint32(0));
  }
  return out;
}

/** Sends every frame in one TCP write, so the relay reads them together (far more than 32 per read). */
function sendAsOneWrite(c: TestClient, frames: Uint8Array[]): void {
  const socket = (c.ws as unknown as { _socket: net.Socket })._socket;
  socket.cork();
  for (const f of frames) c.send(f);
  socket.uncork();
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

test('bursts from two senders, each read in one go, reach every receiver whole and in order per sender', async () => {
  const open = (user: string) => openWelcomed(`${env.relay.url}/lobby/${user}/burst`);
  const a = await open('a');
  const b = await open('b');
  const r1 = await open('r1');
  const r2 = await open('r2');
  const outBefore = await metricOf(env.relay.httpUrl, 'relay_frames_out_total{destination="client"}');

  sendAsOneWrite(a, range(300).map((i) => mediaFrame('a', i)));
  sendAsOneWrite(b, range(200).map((i) => mediaFrame('b', i)));
  sendAsOneWrite(a, range(100).map((i) => mediaFrame('a', 300 + i)));

  for (const r of [r1, r2]) {
    await eventually(() => indicesFrom(r, 'a').length === 400 && indicesFrom(r, 'b').length === 200, { what: 'every frame at a receiver', timeoutMs: 10_000 });
    expect(indicesFrom(r, 'a')).toEqual(range(400));
    expect(indicesFrom(r, 'b')).toEqual(range(200));
  }
  await eventually(() => indicesFrom(b, 'a').length === 400 && indicesFrom(a, 'b').length === 200, { what: 'the senders get each other\'s frames', timeoutMs: 10_000 });
  expect(indicesFrom(b, 'a')).toEqual(range(400));
  expect(indicesFrom(a, 'b')).toEqual(range(200));
  // nobody gets its own frames back
  expect(indicesFrom(a, 'a')).toEqual([]);
  expect(indicesFrom(b, 'b')).toEqual([]);
  // the relay counted each delivery once: 400 × 3 receivers + 200 × 3
  expect(await metricOf(env.relay.httpUrl, 'relay_frames_out_total{destination="client"}') - outBefore).toBe(400 * 3 + 200 * 3);
  expect(await metricOf(env.relay.httpUrl, 'relay_dropped_frames_total{reason="backpressure"}')).toBe(0);
});

test('frames read just before their sender\'s socket is closed still reach the room, in order', async () => {
  const open = (user: string) => openWelcomed(`${env.relay.url}/lobby/${user}/closing`);
  const sender = await open('s');
  const receiver = await open('r');
  // 60 frames, then a frame that is not a PacketWrapper, in one write: the relay closes the sender
  // while handling that read, before the queued frames go out.
  sendAsOneWrite(sender, [...range(60).map((i) => mediaFrame('s', i)), new Uint8Array([0xff, 0xff, 0xff])]);
  expect((await sender.closed).code).toBe(CloseCode.INVALID_PAYLOAD);
  await eventually(() => indicesFrom(receiver, 's').length === 60, { what: 'the closed sender\'s frames at the receiver', timeoutMs: 10_000 });
  expect(indicesFrom(receiver, 's')).toEqual(range(60));
  // the relay is still serving the room
  const late = await open('late');
  receiver.send(mediaFrame('r', 7));
  await eventually(() => indicesFrom(late, 'r').length === 1, { what: 'a frame after the close' });
  expect(receiver.isClosed).toBeUndefined();
});

test('a frame is not held for a timer: 100 round trips through the room take far less than 100 housekeeping ticks', async () => {
  const open = (user: string) => openWelcomed(`${env.relay.url}/lobby/${user}/pingpong`);
  const a = await open('pa');
  const b = await open('pb');
  // b answers each of a's frames with its own; a sends the next when the answer arrives
  b.ws.on('message', (data: Buffer) => {
    const pw = decodePacketWrapper(new Uint8Array(data));
    if (pw.packetType === PacketType.MEDIA && Buffer.from(pw.userId).toString() === 'pa') b.send(mediaFrame('pb', indicesFrom(b, 'pa').length));
  });
  const started = Date.now();
  for (let i = 0; i < 100; i++) {
    a.send(mediaFrame('pa', i));
    await eventually(() => indicesFrom(a, 'pb').length === i + 1, { what: `answer #${i}`, intervalMs: 1 });
  }
  // held until the relay's 250 ms housekeeping tick, this would take 25 s or more
  expect(Date.now() - started).toBeLessThan(5_000);
  expect(indicesFrom(a, 'pb')).toEqual(range(100).map((i) => i + 1));
}, 20_000);
