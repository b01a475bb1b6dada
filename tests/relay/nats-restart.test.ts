// The NATS server dies and comes back: the relay keeps its WebSocket clients, reconnects,
// re-subscribes its rooms, and traffic over NATS resumes in both directions.
import { MediaType, PacketType, decodePacketWrapper, encodeMediaPacket, encodePacketWrapper, subjects } from '../../protocol';
import { NatsServer, startNatsServer } from '../support/nats';
import { eventually, httpGet, waitForHttp } from '../support/processes';
import { RelayProcess, startRelay } from '../support/relay';
import { NatsObserver, TestClient, closeAllClients, expectDeliveryFromNats } from './helpers';

let nats: NatsServer;
let relay: RelayProcess;

beforeAll(async () => {
  nats = await startNatsServer();
  relay = await startRelay({ natsUrl: nats.url });
});

afterAll(async () => {
  closeAllClients();
  await relay?.stop();
  await nats?.stop();
});

const frame = (n: number) => encodePacketWrapper({ packetType: PacketType.MEDIA, userId: 'a', data: encodeMediaPacket({ mediaType: MediaType.VIDEO, data: Uint8Array.of(n) }) });

test('kill and restart the NATS server: clients stay, traffic resumes', async () => {
  const room = 'restart';
  const a = await TestClient.open(`${relay.url}/lobby/a/${room}`);
  const aId = decodePacketWrapper(await a.frame(0)).sessionId;
  a.send(frame(0));

  await nats.kill();
  await waitForHttp(`${relay.httpUrl}/readyz`, { status: 503 });
  a.send(frame(1)); // published while NATS is down: dropped and counted, the session survives
  await nats.restart();
  await waitForHttp(`${relay.httpUrl}/readyz`, { status: 200, timeoutMs: 15_000 });
  expect(a.isClosed).toBeUndefined();

  const peer = await NatsObserver.start(nats.url, `room.${room}.*`);
  try {
    // NATS → client: the room's subscription is back.
    await expectDeliveryFromNats(peer.nc, room, a, 'delivery from NATS after the restart');

    // client → NATS: publishing works again.
    await eventually(() => {
      a.send(frame(2));
      return peer.onSubject(subjects.session(room, aId)).length > 0;
    }, { what: 'publish to NATS after the restart', intervalMs: 200 });

    const metrics = (await httpGet(`${relay.httpUrl}/metrics`)).body;
    expect(Number(/^relay_nats_reconnects_total (\d+)/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(1);
    expect(metrics).toMatch(/^relay_dropped_frames_total\{reason="nats_disconnected"\} [1-9]/m);
  } finally {
    await peer.close();
  }
});
