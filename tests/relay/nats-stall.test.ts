// NATS that cannot take data: a hung nats-server (SIGSTOP) is detected within 5 s, media for NATS
// is dropped and counted while it lasts, the relay's memory stays bounded, and /readyz says so.
// And a nats-server with a smaller max_payload: a frame it would refuse reaches nobody.
import { MediaType, PacketType, decodePacketWrapper, encodeMediaPacket, encodePacketWrapper, subjects } from '../../protocol';
import { memoryBudgets } from '../../relay/config';
import { CloseCode } from '../../relay/session';
import { NatsServer, startNatsServer } from '../support/nats';
import { eventually, httpGet, waitForHttp } from '../support/processes';
import { RelayProcess, startRelay } from '../support/relay';
import { NatsObserver, TestClient, closeAllClients, metricOf, rssBytes, sleep, expectDeliveryFromNats } from './helpers';

const MIB = 1024 * 1024;
const MEMORY_LIMIT = 128 * MIB;

afterAll(() => closeAllClients());

describe('a hung nats-server', () => {
  let nats: NatsServer;
  let relay: RelayProcess;
  beforeAll(async () => {
    nats = await startNatsServer();
    relay = await startRelay({ natsUrl: nats.url, env: { MEMORY_LIMIT_BYTES: String(MEMORY_LIMIT) } });
  });
  afterAll(async () => {
    nats?.process.kill('SIGCONT');
    await relay?.stop();
    await nats?.stop();
  });

  test('is noticed within 5 s: not ready, big media dropped and counted, memory bounded; then it recovers', async () => {
    const room = 'stall';
    const c = await TestClient.open(`${relay.url}/lobby/sender/${room}`);
    await c.frame(1);
    const big = encodePacketWrapper({ packetType: PacketType.MEDIA, userId: 'sender', data: encodeMediaPacket({ mediaType: MediaType.VIDEO, data: new Uint8Array(3_900_000) }) });
    c.send(big);
    const rssBefore = rssBytes(relay.process.pid);

    nats.process.kill('SIGSTOP');
    const stoppedAt = Date.now();
    let frames = 0;
    const sent = (async () => {
      // 60 frames of 3.9 MB over ~8 s: far more than the NATS outbound budget.
      for (; frames < 60 && Date.now() - stoppedAt < 10_000; frames++) {
        c.send(big);
        await eventually(() => c.ws.bufferedAmount === 0, { what: 'frame sent', intervalMs: 5, timeoutMs: 10_000 });
        await sleep(100);
      }
    })();
    await waitForHttp(`${relay.httpUrl}/readyz`, { status: 503, timeoutMs: 5_000 });
    expect(Date.now() - stoppedAt).toBeLessThan(5_000);
    await sent;
    expect(frames).toBeGreaterThan(20);

    const growth = rssBytes(relay.process.pid) - rssBefore;
    // Slack for uWS receive buffers of 3.9 MB frames and V8; unbounded, the client library would hold all 60 frames (234 MB).
    expect(growth).toBeLessThan(memoryBudgets(MEMORY_LIMIT).natsOutboundBytes + 96 * MIB);
    const dropped = (await metricOf(relay.httpUrl, 'relay_dropped_frames_total{reason="nats_stalled"}'))
      + (await metricOf(relay.httpUrl, 'relay_dropped_frames_total{reason="nats_outbound_full"}'))
      + (await metricOf(relay.httpUrl, 'relay_dropped_frames_total{reason="nats_disconnected"}'));
    expect(dropped).toBeGreaterThan(frames / 2);
    expect((await httpGet(`${relay.httpUrl}/readyz`)).body).toMatch(/not ready: nats_/);
    expect(c.isClosed).toBeUndefined();

    nats.process.kill('SIGCONT');
    await waitForHttp(`${relay.httpUrl}/readyz`, { status: 200, timeoutMs: 30_000 });
    const peer = await NatsObserver.start(nats.url, `room.${room}.*`);
    try {
      const id = decodePacketWrapper(c.frames[0]).sessionId;
      const small = encodePacketWrapper({ packetType: PacketType.MEDIA, userId: 'sender', data: encodeMediaPacket({ mediaType: MediaType.AUDIO }) });
      await eventually(() => {
        c.send(small);
        return peer.onSubject(subjects.session(room, id)).length > 0;
      }, { what: 'publishing after the server resumed', intervalMs: 200, timeoutMs: 15_000 });
    } finally {
      await peer.close();
    }
  }, 90_000);
});

describe('a nats-server with a smaller max_payload', () => {
  const MAX_PAYLOAD = 64 * 1024;
  let nats: NatsServer;
  let relay: RelayProcess;
  beforeAll(async () => {
    // A later max_payload line wins over the one startNatsServer writes.
    nats = await startNatsServer({ config: `max_payload: ${MAX_PAYLOAD}` });
    relay = await startRelay({ natsUrl: nats.url });
  });
  afterAll(async () => {
    await relay?.stop();
    await nats?.stop();
  });

  test('a frame NATS would refuse ends the sender\'s session (1009) and reaches no peer, local or remote', async () => {
    const room = 'small';
    const sender = await TestClient.open(`${relay.url}/lobby/sender/${room}`);
    const local = await TestClient.open(`${relay.url}/lobby/local/${room}`);
    await Promise.all([sender.frame(1), local.frame(1)]);
    const observer = await NatsObserver.start(nats.url, `room.${room}.*`);
    try {
      const fits = encodePacketWrapper({ packetType: PacketType.MEDIA, userId: 'sender', data: encodeMediaPacket({ mediaType: MediaType.VIDEO, data: new Uint8Array(MAX_PAYLOAD - 100) }) });
      sender.send(fits);
      await local.waitFor((f) => f.length >= MAX_PAYLOAD - 100, { what: 'the frame that fits, locally' });
      await eventually(() => observer.messages.some((m) => m.data.length >= MAX_PAYLOAD - 100), { what: 'the frame that fits, on NATS' });

      const tooBig = encodePacketWrapper({ packetType: PacketType.MEDIA, userId: 'sender', data: encodeMediaPacket({ mediaType: MediaType.VIDEO, data: new Uint8Array(MAX_PAYLOAD + 100) }) });
      sender.send(tooBig);
      expect((await sender.closed).code).toBe(CloseCode.MESSAGE_TOO_BIG);
      await sleep(300);
      expect(local.frames.some((f) => f.length > MAX_PAYLOAD)).toBe(false);
      expect(observer.messages.some((m) => m.data.length > MAX_PAYLOAD)).toBe(false);
      expect(await metricOf(relay.httpUrl, 'relay_dropped_frames_total{reason="over_nats_max_payload"}')).toBe(1);
      expect(await metricOf(relay.httpUrl, 'relay_sessions_closed_total{reason="too_big"}')).toBe(1);
      // The NATS link and the other session are unharmed.
      await expectDeliveryFromNats(observer.nc, room, local, 'delivery over NATS afterwards');
      expect(local.isClosed).toBeUndefined();
    } finally {
      await observer.close();
    }
  });
});
