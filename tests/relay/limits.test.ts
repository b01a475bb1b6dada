// Bounds a client can hit, against a real relay and nats-server: name lengths (a long room must
// not break the relay's NATS link for every room) and the total memory of all sockets' buffers.
import { MAX_NAME_LENGTH, MediaType, PacketType, TOKEN_ISSUER, decodePacketWrapper, encodeMediaPacket, encodePacketWrapper, subjects } from '../../protocol';
import { memoryBudgets } from '../../relay/config';
import { eventually } from '../support/processes';
import { startRelay } from '../support/relay';
import { TestClient, UpgradeRefused, makeToken, metricOf, rssBytes, useRelayOverNats, expectDeliveryFromNats, openWelcomed, stopReading } from './helpers';

const SECRET = 'limits-secret';
const fx = useRelayOverNats({ JWT_SECRET: SECRET, ALLOW_PATH_LOBBY: 'true' });
const MIB = 1024 * 1024;

test('a room or user id over MAX_NAME_LENGTH is refused at the upgrade with 400, and NATS keeps working for everyone', async () => {
  const longRoom = 'r'.repeat(4_100); // a SUB line over nats-server's 4096-byte control line
  const token = (claims: Record<string, unknown>) => makeToken({ sub: 'u', room: 'ok', room_join: true, is_host: false, display_name: 'U', exp: Math.floor(Date.now() / 1000) + 600, iss: TOKEN_ISSUER, ...claims }, { secret: SECRET });
  for (const url of [
    `${fx.relay.url}/lobby/user/${longRoom}`,
    `${fx.relay.url}/lobby/${'u'.repeat(MAX_NAME_LENGTH + 1)}/room`,
    `${fx.relay.url}/lobby?token=${token({ room: longRoom })}`,
    `${fx.relay.url}/lobby?token=${token({ sub: 'u'.repeat(MAX_NAME_LENGTH + 1) })}`,
  ]) {
    await expect(TestClient.open(url)).rejects.toEqual(new UpgradeRefused(400));
  }
  // A room of exactly the bound works end to end over NATS.
  const room = 'x'.repeat(MAX_NAME_LENGTH);
  const c = await TestClient.open(`${fx.relay.url}/lobby/user/${room}`);
  await c.frame(1);
  await expectDeliveryFromNats(fx.observer.nc, room, c, 'delivery over NATS in a room of the longest name');
  expect(await metricOf(fx.relay.httpUrl, 'relay_nats_reconnects_total')).toBe(0);
  c.close();
});

test('all sockets together stay within the budget MEMORY_LIMIT_BYTES sets, not only each one', async () => {
  const memoryLimit = 128 * MIB;
  const perSocket = 8 * MIB;
  const receivers = 30;
  // Without a total bound, every silent receiver would hold its own perSocket: 240 MiB here.
  const relay = await startRelay({
    natsUrl: fx.nats.url,
    env: { MEMORY_LIMIT_BYTES: String(memoryLimit), MAX_BUFFERED_BYTES: String(perSocket), SLOW_SOCKET_CLOSE_MS: '120000' },
  });
  try {
    const room = 'budget';
    const open = (user: string) => openWelcomed(`${relay.url}/lobby/${user}/${room}`);
    const sender = await open('sender');
    const silent = await Promise.all(Array.from({ length: receivers }, (_, i) => open(`silent${i}`)));
    for (const c of silent) stopReading(c);
    const rssBefore = rssBytes(relay.process.pid);

    const frame = encodePacketWrapper({ packetType: PacketType.MEDIA, userId: 'sender', data: encodeMediaPacket({ mediaType: MediaType.VIDEO, data: new Uint8Array(64 * 1024) }) });
    const frames = (2 * perSocket) / (64 * 1024);
    for (let i = 0; i < frames; i++) {
      sender.send(frame);
      if (i % 16 === 15) await eventually(() => sender.ws.bufferedAmount === 0, { what: 'sender drained', intervalMs: 5, timeoutMs: 20_000 });
    }
    // The relay has read (and fanned out) everything once the sender's last frame made it to NATS.
    const senderId = decodePacketWrapper(sender.frames[0]).sessionId;
    await eventually(() => fx.observer.onSubject(subjects.session(room, senderId)).length >= frames, { what: 'every frame through the relay', timeoutMs: 30_000 });

    // The process itself: growth well under what per-socket bounds alone would allow.
    const budget = memoryBudgets(memoryLimit).socketBytes;
    const growth = rssBytes(relay.process.pid) - rssBefore;
    // Slack for what else a flood costs (uWS receive buffers, V8 heap, malloc arenas); without the total bound this grows past 250 MiB.
    expect(growth).toBeLessThan(budget + 64 * MIB);
    expect(growth).toBeLessThan((receivers * perSocket) / 2);
    const buffered = await metricOf(relay.httpUrl, 'relay_socket_buffered_bytes');
    // Accounting is refreshed per receiver as a frame fans out: the total overshoots by a frame or two per socket at most.
    expect(buffered).toBeLessThanOrEqual(budget + 2 * receivers * frame.length);
    expect(await metricOf(relay.httpUrl, 'relay_dropped_frames_total{reason="memory_budget"}')).toBeGreaterThan(0);
    expect(sender.isClosed).toBeUndefined();
  } finally {
    await relay.stop();
  }
}, 90_000);
