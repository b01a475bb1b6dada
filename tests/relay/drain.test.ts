// SIGTERM: readiness goes false, new sessions are refused, every client gets 1001, active sessions
// are announced as left on NATS, and the process exits by itself.
import { MediaType, MeetingEvent, PacketType, decodePacketWrapper, encodeMediaPacket, encodePacketWrapper, subjects, utf8 } from '../../protocol';
import { CloseCode } from '../../relay/session';
import { NatsServer, startNatsServer } from '../support/nats';
import { eventually, httpGet } from '../support/processes';
import { RelayProcess, startRelay } from '../support/relay';
import { NatsObserver, TestClient, UpgradeRefused, closeAllClients, meetingOf } from './helpers';

let nats: NatsServer;
let relay: RelayProcess;
let observer: NatsObserver;

beforeAll(async () => {
  nats = await startNatsServer();
  // A longer linger than the default so the test surely sees /readyz answer 503.
  relay = await startRelay({ natsUrl: nats.url, env: { DRAIN_LINGER_MS: '3000' } });
  observer = await NatsObserver.start(nats.url);
});

afterAll(async () => {
  closeAllClients();
  await observer?.close();
  await relay?.stop();
  await nats?.stop();
});

test('SIGTERM drains: 503 readiness, 1001 to every client, PARTICIPANT_LEFT for active sessions, exit 0', async () => {
  const room = 'draining';
  const open = async (user: string) => {
    const c = await TestClient.open(`${relay.url}/lobby/${user}/${room}`);
    return { c, id: decodePacketWrapper(await c.frame(0)).sessionId };
  };
  const alice = await open('alice');
  const carol = await open('carol');
  const tester = await open('tester'); // stays in Testing
  for (const [x, user] of [[alice, 'alice'], [carol, 'carol']] as const) {
    x.c.send(encodePacketWrapper({ packetType: PacketType.MEDIA, userId: user, data: encodeMediaPacket({ mediaType: MediaType.AUDIO }) }));
  }
  await eventually(() => observer.onSubject(subjects.system(room)).length >= 2, { what: 'both activations' });
  expect((await httpGet(`${relay.httpUrl}/readyz`)).status).toBe(200);

  relay.kill('SIGTERM');
  const closes = await Promise.all([alice.c.closed, carol.c.closed, tester.c.closed]);
  for (const closed of closes) expect(closed.code).toBe(CloseCode.GOING_AWAY);

  // While it lingers: not ready, and no new sessions.
  const ready = await httpGet(`${relay.httpUrl}/readyz`);
  expect(ready.status).toBe(503);
  expect(ready.body).toMatch(/draining/);
  await expect(TestClient.open(`${relay.url}/lobby/late/${room}`)).rejects.toEqual(new UpgradeRefused(503));

  const left = () => observer.onSubject(subjects.system(room)).map((m) => meetingOf(m.data)).filter((m) => m?.eventType === MeetingEvent.PARTICIPANT_LEFT);
  await eventually(() => left().length >= 2, { what: 'PARTICIPANT_LEFT for both active sessions' });
  expect(left().map((m) => utf8.decode(m!.targetUserId)).sort()).toEqual(['alice', 'carol']);
  expect(left().map((m) => m!.sessionId)).not.toContain(tester.id);

  const exit = await relay.exited;
  expect(exit.code).toBe(0);
});
