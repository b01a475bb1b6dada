// Membership across relays on one NATS: a user failing over between relays is never announced
// gone while still in the call, and the members of a relay that dies without draining (SIGKILL)
// are announced left to everyone within 15 s, once.
import { LEAVE_GRACE_MS, MediaType, MeetingEvent, PacketType, decodePacketWrapper, encodeMediaPacket, encodePacketWrapper, subjects, utf8 } from '../../protocol';
import { PRESENCE_INTERVAL_MS } from '../../relay/membership';
import { participantFrame } from '../../relay/session';
import { NatsServer, startNatsServer } from '../support/nats';
import { eventually } from '../support/processes';
import { RelayProcess, startRelay } from '../support/relay';
import { NatsObserver, TestClient, closeAllClients, meetingOf, metricOf, sleep } from './helpers';

let nats: NatsServer;
let observer: NatsObserver;
beforeAll(async () => {
  nats = await startNatsServer();
  observer = await NatsObserver.start(nats.url);
});
afterAll(async () => {
  closeAllClients();
  await observer?.close();
  await nats?.stop();
});

/** Opens a session and activates it with one media frame: a member from then on. */
async function member(relay: RelayProcess, user: string, room: string) {
  const client = await TestClient.open(`${relay.url}/lobby/${user}/${room}`);
  const sessionId = decodePacketWrapper(await client.frame(0)).sessionId;
  client.send(encodePacketWrapper({ packetType: PacketType.MEDIA, userId: user, data: encodeMediaPacket({ mediaType: MediaType.AUDIO }) }));
  await eventually(() => observer.onSubject(subjects.session(room, sessionId)).length > 0, { what: `${user} active` });
  return { client, sessionId };
}

/** Two relays on the shared nats-server for one test; `a.stop()` inside is fine (stop is idempotent). */
async function withTwoRelays(ids: [string, string], body: (a: RelayProcess, b: RelayProcess) => Promise<void>): Promise<void> {
  const a = await startRelay({ natsUrl: nats.url, serverId: ids[0] });
  const b = await startRelay({ natsUrl: nats.url, serverId: ids[1] });
  try {
    await body(a, b);
  } finally {
    await a.stop();
    await b.stop();
  }
}

/** PARTICIPANT_LEFT published on the room's system subject, as every server would deliver it. */
const leftOnNats = (room: string) => observer.onSubject(subjects.system(room)).map((m) => meetingOf(m.data)).filter((m) => m?.eventType === MeetingEvent.PARTICIPANT_LEFT);

/** Whether `c` got a PARTICIPANT_LEFT for `user` after the PARTICIPANT_JOINED of `session`. */
function leftAfterJoin(c: TestClient, user: string, session: bigint): string[] {
  const events = participantEvents(c);
  return events.slice(events.indexOf(`joined ${user} ${session}`)).filter((e) => e.startsWith(`left ${user}`));
}

/** The PARTICIPANT_JOINED/LEFT events a client received, in order, as `event user session`. */
function participantEvents(c: TestClient): string[] {
  return c.frames.flatMap((f) => {
    const m = meetingOf(f);
    if (m === undefined || (m.eventType !== MeetingEvent.PARTICIPANT_JOINED && m.eventType !== MeetingEvent.PARTICIPANT_LEFT)) return [];
    return [`${m.eventType === MeetingEvent.PARTICIPANT_JOINED ? 'joined' : 'left'} ${utf8.decode(m.targetUserId)} ${m.sessionId}`];
  });
}

test('failover (drain on one relay, new session on another): observers never get PARTICIPANT_LEFT after the new PARTICIPANT_JOINED', async () => {
  const room = 'failover';
  await withTwoRelays(['relay-a', 'relay-b'], async (a, b) => {
    const bob = await member(b, 'bob', room);
    const alice1 = await member(a, 'alice', room);
    await bob.client.waitFor((f) => meetingOf(f)?.eventType === MeetingEvent.PARTICIPANT_JOINED && meetingOf(f)?.sessionId === alice1.sessionId, { what: 'alice #1 joined at bob' });
    // Alice fails over to relay B before A goes away.
    const alice2 = await member(b, 'alice', room);
    await eventually(() => participantEvents(bob.client).includes(`joined alice ${alice2.sessionId}`), { what: 'alice #2 joined at bob' });
    await a.stop();
    // The old session's departure, from a server that does not know better (like the existing
    // servers would publish it): relay B holds it back while alice is live there.
    observer.nc.publish(subjects.system(room), participantFrame(MeetingEvent.PARTICIPANT_LEFT, { id: alice1.sessionId, userId: 'alice', room, displayName: 'alice' }));
    await sleep(LEAVE_GRACE_MS + 1_500);

    expect(leftAfterJoin(bob.client, 'alice', alice2.sessionId)).toEqual([]);
    // Relay A announced nothing for alice on NATS: it knew of her session on B.
    expect(leftOnNats(room)).toHaveLength(1); // only the one this test published
    expect(await metricOf(b.httpUrl, 'relay_left_suppressed_total')).toBeGreaterThanOrEqual(1);
    expect(alice2.client.isClosed).toBeUndefined();
  });
}, 60_000);

test('failover without a drain (old socket closed, new session within the grace period): no PARTICIPANT_LEFT is published at all', async () => {
  const room = 'failover-grace';
  await withTwoRelays(['relay-a2', 'relay-b2'], async (a, b) => {
    const bob = await member(b, 'bob', room);
    const alice1 = await member(a, 'alice', room);
    await eventually(() => participantEvents(bob.client).includes(`joined alice ${alice1.sessionId}`), { what: 'alice #1 joined at bob' });
    // Alice's only session on A ends; she is back through B well within the grace period.
    alice1.client.terminate();
    await alice1.client.closed;
    const alice2 = await member(b, 'alice', room);
    await sleep(LEAVE_GRACE_MS + 1_500);
    expect(leftOnNats(room)).toEqual([]);
    expect(leftAfterJoin(bob.client, 'alice', alice2.sessionId)).toEqual([]);
  });
}, 60_000);

test('a joiner on another relay is told about members who joined before that relay subscribed the room', async () => {
  const room = 'late';
  await withTwoRelays(['relay-early', 'relay-late'], async (a, b) => {
    const carol = await member(a, 'carol', room);
    // Relay B has no session in the room yet, so it never saw carol's PARTICIPANT_JOINED.
    const bob = await TestClient.open(`${b.url}/lobby/bob/${room}`);
    await eventually(() => participantEvents(bob).includes(`joined carol ${carol.sessionId}`), { what: 'carol at bob, from presence', timeoutMs: 3 * PRESENCE_INTERVAL_MS });
  });
}, 60_000);

test('a relay killed without draining: its members are announced left within 15 s, once, and never again', async () => {
  const room = 'ghosts';
  const b = await startRelay({ natsUrl: nats.url, serverId: 'relay-survivor' });
  const c = await startRelay({ natsUrl: nats.url, serverId: 'relay-doomed' });
  try {
    const bob = await member(b, 'bob', room);
    const carol = await member(c, 'carol', room);
    await eventually(() => participantEvents(bob.client).includes(`joined carol ${carol.sessionId}`), { what: 'carol joined at bob' });
    // No wait for the periodic presence: a relay publishes one right after a join.
    await sleep(500);
    c.kill('SIGKILL');
    const killedAt = Date.now();
    await eventually(() => participantEvents(bob.client).includes(`left carol ${carol.sessionId}`), { what: 'carol left at bob', timeoutMs: 15_000 });
    expect(Date.now() - killedAt).toBeLessThan(15_000);
    await sleep(PRESENCE_INTERVAL_MS * 2);
    expect(participantEvents(bob.client).filter((e) => e.startsWith('left carol'))).toHaveLength(1);
    // A new joiner is not told about carol.
    const dave = await TestClient.open(`${b.url}/lobby/dave/${room}`);
    await dave.frame(1);
    await sleep(300);
    expect(participantEvents(dave).filter((e) => e.includes('carol'))).toEqual([]);
    expect(participantEvents(dave)).toContain(`joined bob ${bob.sessionId}`);
  } finally {
    await b.stop();
    c.kill('SIGKILL');
  }
}, 60_000);
