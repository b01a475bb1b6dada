// One receiver stops reading while a sender floods the room: the relay drops (and counts) media for
// that receiver only, tells the sender, keeps its memory bounded, keeps serving the others, and
// finally closes the slow socket.
import { MediaType, PacketType, decodePacketWrapper, encodeMediaPacket, encodePacketWrapper, utf8 } from '../../protocol';
import { CloseCode } from '../../relay/session';
import { NatsServer, startNatsServer } from '../support/nats';
import { eventually, httpGet } from '../support/processes';
import { RelayProcess, startRelay } from '../support/relay';
import { closeAllClients, openWelcomed, stopReading } from './helpers';

const BOUND = 1024 * 1024;
const FRAME_BYTES = 64 * 1024;
const FLOOD_BYTES = 128 * 1024 * 1024;
/** The sender waits for its socket to drain after each batch, so the fast receiver (in this same process) keeps up. */
const BATCH_FRAMES = 4;

let nats: NatsServer;
let relay: RelayProcess;

beforeAll(async () => {
  nats = await startNatsServer();
  relay = await startRelay({ natsUrl: nats.url, env: { MAX_BUFFERED_BYTES: String(BOUND), SLOW_SOCKET_CLOSE_MS: '3000' } });
});

afterAll(async () => {
  closeAllClients();
  await relay?.stop();
  await nats?.stop();
});

async function metric(name: string): Promise<number> {
  const body = (await httpGet(`${relay.httpUrl}/metrics`)).body;
  const m = new RegExp(`^${name.replace(/[{}"]/g, (c) => `\\${c}`)} (\\d+(?:\\.\\d+)?(?:e\\+\\d+)?)$`, 'm').exec(body);
  return m === null ? 0 : Number(m[1]);
}

test('a slow receiver costs bounded memory, counted drops and a CONGESTION notice, and is closed in the end', async () => {
  const room = 'flood';
  const open = (user: string) => openWelcomed(`${relay.url}/lobby/${user}/${room}`);
  const sender = await open('sender');
  const fast = await open('fast');
  const slow = await open('slow');
  const senderId = decodePacketWrapper(sender.frames[0]).sessionId;
  const slowSocket = stopReading(slow);

  const rssBefore = await metric('process_resident_memory_bytes');
  const flood = encodePacketWrapper({ packetType: PacketType.MEDIA, userId: 'sender', data: encodeMediaPacket({ mediaType: MediaType.VIDEO, data: new Uint8Array(FRAME_BYTES) }) });
  const frames = FLOOD_BYTES / FRAME_BYTES;
  const fastBefore = fast.frames.length;
  for (let i = 0; i < frames; i++) {
    sender.send(flood);
    if (i % BATCH_FRAMES === BATCH_FRAMES - 1) {
      await eventually(() => sender.ws.bufferedAmount === 0 && fast.frames.length - fastBefore >= i + 1 - 2 * BATCH_FRAMES, { what: 'paced flood', intervalMs: 1, timeoutMs: 20_000 });
    }
  }

  // The fast receiver gets every frame.
  await eventually(() => fast.frames.length - fastBefore >= frames, { what: `all ${frames} frames at the fast receiver`, timeoutMs: 20_000 });
  const rssAfter = await metric('process_resident_memory_bytes');
  const drops = await metric('relay_dropped_frames_total{reason="backpressure"}');
  expect(drops).toBeGreaterThan(0);
  // Unbounded buffering would hold most of the flood for the slow socket; the bound keeps it small.
  expect(rssAfter - rssBefore).toBeLessThan(FLOOD_BYTES / 2);

  // The sender was told: CONGESTION {user_id = the slow receiver, session_id = the sender}.
  const notice = await sender.waitFor((f) => decodePacketWrapper(f).packetType === PacketType.CONGESTION, { what: 'CONGESTION notice' });
  expect(utf8.decode(decodePacketWrapper(notice).userId)).toBe('slow');
  expect(decodePacketWrapper(notice).sessionId).toBe(senderId);
  expect(await metric('relay_congestion_notices_total')).toBeGreaterThanOrEqual(1);

  // Still over the bound after SLOW_SOCKET_CLOSE_MS: the relay closes it.
  await eventually(async () => (await metric('relay_slow_socket_closes_total')) >= 1, { what: 'slow socket closed', timeoutMs: 15_000 });
  slowSocket.resume();
  const closed = await eventually(() => slow.isClosed, { what: 'close at the slow client', timeoutMs: 10_000 });
  expect(closed.code).toBe(CloseCode.POLICY);
  expect(fast.isClosed).toBeUndefined();
  expect(sender.isClosed).toBeUndefined();
}, 60_000);
