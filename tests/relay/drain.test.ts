// SIGTERM: readiness goes false, new sessions are refused, every client gets 1001, active sessions
// are announced as left on NATS, and the process exits by itself.
import { MediaType, MeetingEvent, PacketType, decodePacketWrapper, encodeMediaPacket, encodePacketWrapper, subjects, utf8 } from '../../protocol';
import { CloseCode } from '../../relay/session';
import { eventually, httpGet } from '../support/processes';
import { TestClient, UpgradeRefused, meetingOf, useRelayOverNats } from './helpers';

// A longer linger than the default so the test surely sees /readyz answer 503.
const fx = useRelayOverNats({ DRAIN_LINGER_MS: '3000' });

test('SIGTERM drains: 503 readiness, 1001 to every client, PARTICIPANT_LEFT for active sessions, exit 0', async () => {
  const room = 'draining';
  const open = async (user: string) => {
    const c = await TestClient.open(`${fx.relay.url}/lobby/${user}/${room}`);
    return { c, id: decodePacketWrapper(await c.frame(0)).sessionId };
  };
  const alice = await open('alice');
  const carol = await open('carol');
  const tester = await open('tester'); // stays in Testing
  for (const [x, user] of [[alice, 'alice'], [carol, 'carol']] as const) {
    x.c.send(encodePacketWrapper({ packetType: PacketType.MEDIA, userId: user, data: encodeMediaPacket({ mediaType: MediaType.AUDIO }) }));
  }
  await eventually(() => fx.observer.onSubject(subjects.system(room)).length >= 2, { what: 'both activations' });
  expect((await httpGet(`${fx.relay.httpUrl}/readyz`)).status).toBe(200);

  fx.relay.kill('SIGTERM');
  const closes = await Promise.all([alice.c.closed, carol.c.closed, tester.c.closed]);
  for (const closed of closes) expect(closed.code).toBe(CloseCode.GOING_AWAY);

  // While it lingers: not ready, and no new sessions.
  const ready = await httpGet(`${fx.relay.httpUrl}/readyz`);
  expect(ready.status).toBe(503);
  expect(ready.body).toMatch(/draining/);
  await expect(TestClient.open(`${fx.relay.url}/lobby/late/${room}`)).rejects.toEqual(new UpgradeRefused(503));

  const left = () => fx.observer.onSubject(subjects.system(room)).map((m) => meetingOf(m.data)).filter((m) => m?.eventType === MeetingEvent.PARTICIPANT_LEFT);
  await eventually(() => left().length >= 2, { what: 'PARTICIPANT_LEFT for both active sessions' });
  expect(left().map((m) => utf8.decode(m!.targetUserId)).sort()).toEqual(['alice', 'carol']);
  expect(left().map((m) => m!.sessionId)).not.toContain(tester.id);

  const exit = await fx.relay.exited;
  expect(exit.code).toBe(0);
});
