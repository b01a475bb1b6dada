// Two clients on one real relay over a real nats-server: the session steps of PROTOCOL.md.
import {
  LEAVE_GRACE_MS, MediaType, MeetingEvent, PacketType, SYSTEM_USER_ID, decodePacketWrapper, encodeMediaPacket,
  encodePacketWrapper, encodeRttProbe, subjects, utf8,
} from '../../protocol';
import { eventually } from '../support/processes';
import { TestClient, meetingOf, sameBytes, sleep, useRelayOverNats } from './helpers';

const fx = useRelayOverNats();

const video = (user: string, payload: number[]) =>
  encodePacketWrapper({ packetType: PacketType.MEDIA, userId: user, data: encodeMediaPacket({ mediaType: MediaType.VIDEO, userId: user, data: Uint8Array.from(payload) }) });

async function join(user: string, room: string) {
  const c = await TestClient.open(`${fx.relay.url}/lobby/${user}/${room}`);
  const assigned = decodePacketWrapper(await c.frame(0));
  return { client: c, sessionId: assigned.sessionId };
}

/** Everything the relay published before this call has reached the observer once this returns. */
async function natsBarrier(): Promise<void> {
  // The relay has one NATS connection, so its publishes reach the observer in order.
  const room = `marker${Date.now()}`;
  const marker = await join('marker', room);
  marker.client.send(video('marker', [1]));
  await eventually(() => fx.observer.onSubject(subjects.session(room, marker.sessionId)).length > 0, { what: 'marker frame on NATS' });
  marker.client.close();
}

test('SESSION_ASSIGNED comes first and MEETING_STARTED second', async () => {
  const before = Date.now();
  const { client } = await join('alice', 'welcome');
  const assigned = decodePacketWrapper(await client.frame(0));
  expect(assigned.packetType).toBe(PacketType.SESSION_ASSIGNED);
  expect(utf8.decode(assigned.userId)).toBe(SYSTEM_USER_ID);
  expect(assigned.sessionId >> 62n).toBe(2n); // top two bits `10`
  const started = decodePacketWrapper(await client.frame(1));
  expect(started.packetType).toBe(PacketType.MEETING);
  expect(started.sessionId).toBe(0n);
  const meeting = meetingOf(await client.frame(1))!;
  expect(meeting.eventType).toBe(MeetingEvent.MEETING_STARTED);
  expect(meeting.roomId).toBe('welcome');
  expect(utf8.decode(meeting.creatorId)).toBe('alice');
  expect(Number(meeting.startTimeMs)).toBeGreaterThanOrEqual(before - 1000);
  client.close();
});

test('RTT probes are echoed byte-for-byte, never reach NATS, and a Testing session publishes nothing', async () => {
  const room = 'rtt';
  const { client, sessionId } = await join('rita', room);
  const probes = [encodeRttProbe('rita', 1234.5678), encodeRttProbe('rita', 99.25)];
  for (const p of probes) client.send(p);
  for (const p of probes) await client.waitFor((f) => sameBytes(f, p), { from: 2, what: 'RTT echo' });
  await natsBarrier();
  expect(fx.observer.messages.filter((m) => m.subject.startsWith(`room.${room}.`))).toEqual([]);
  expect(client.frames.slice(2).filter((f) => decodePacketWrapper(f).packetType !== PacketType.MEDIA)).toEqual([]);
  expect(sessionId).not.toBe(0n);
  client.close();
});

test('activation announces PARTICIPANT_JOINED; stamped frames reach the other client and not the sender', async () => {
  const room = 'flow';
  const a = await join('alice', room);
  const b = await join('bob', room);
  b.client.send(encodeRttProbe('bob', 1)); // bob stays in Testing

  const first = video('alice', [1, 2, 3]);
  a.client.send(first);
  const joined = await eventually(() => fx.observer.onSubject(subjects.system(room)).map((m) => meetingOf(m.data)).find((m) => m?.eventType === MeetingEvent.PARTICIPANT_JOINED), { what: 'PARTICIPANT_JOINED on NATS' });
  expect(joined!.roomId).toBe(room);
  expect(utf8.decode(joined!.targetUserId)).toBe('alice');
  expect(joined!.sessionId).toBe(a.sessionId);
  expect(utf8.decode(joined!.displayName)).toBe('alice');
  expect(joined!.message).not.toBe('');

  // The activating frame is published, stamped with alice's id, on her subject.
  const published = await eventually(() => fx.observer.onSubject(subjects.session(room, a.sessionId))[0], { what: 'alice frame on NATS' });
  const pw = decodePacketWrapper(published.data);
  expect(pw.sessionId).toBe(a.sessionId);
  expect(sameBytes(pw.data, decodePacketWrapper(first).data)).toBe(true);

  // Bob (Testing, but subscribed) receives it stamped, and the join announcement.
  await b.client.waitFor((f) => sameBytes(f, published.data), { what: 'stamped frame at bob' });
  await b.client.waitFor((f) => meetingOf(f)?.eventType === MeetingEvent.PARTICIPANT_JOINED, { what: 'PARTICIPANT_JOINED at bob' });

  // A frame claiming another session id is delivered under alice's own (the existing servers keep it).
  const preset = encodePacketWrapper({ packetType: PacketType.MEDIA, userId: 'alice', data: encodeMediaPacket({ mediaType: MediaType.AUDIO, data: Uint8Array.of(7, 7) }), sessionId: 12345n });
  a.client.send(preset);
  const restamped = await b.client.waitFor((f) => decodePacketWrapper(f).packetType === PacketType.MEDIA && sameBytes(decodePacketWrapper(f).data, decodePacketWrapper(preset).data), { what: 're-stamped frame at bob' });
  expect(decodePacketWrapper(restamped).sessionId).toBe(a.sessionId);
  expect(b.client.frames.some((f) => sameBytes(f, preset))).toBe(false);

  // Alice never gets her own frames back.
  await natsBarrier();
  expect(a.client.frames.some((f) => sameBytes(f, published.data) || sameBytes(f, preset))).toBe(false);
  // Bob, still Testing, published nothing.
  expect(fx.observer.onSubject(subjects.session(room, b.sessionId))).toEqual([]);

  // A late joiner is told about the members this relay knows.
  const c = await join('carol', room);
  const told = await c.client.waitFor((f) => meetingOf(f)?.eventType === MeetingEvent.PARTICIPANT_JOINED, { what: 'roster at carol' });
  expect(utf8.decode(meetingOf(told)!.targetUserId)).toBe('alice');
  for (const x of [a, b, c]) x.client.close();
});

test('PARTICIPANT_LEFT follows the grace period after an active client leaves, and not when it rejoins in time', async () => {
  const room = 'leaving';
  const leftFor = (id: bigint) => fx.observer.onSubject(subjects.system(room)).map((m) => meetingOf(m.data)).filter((m) => m?.eventType === MeetingEvent.PARTICIPANT_LEFT && m.sessionId === id);

  const a = await join('dave', room);
  a.client.send(video('dave', [9]));
  await eventually(() => fx.observer.onSubject(subjects.session(room, a.sessionId)).length > 0, { what: 'activation' });
  const closedAt = Date.now();
  a.client.close();
  const left = await eventually(() => leftFor(a.sessionId)[0], { what: 'PARTICIPANT_LEFT', timeoutMs: LEAVE_GRACE_MS + 5_000 });
  expect(Date.now() - closedAt).toBeGreaterThanOrEqual(LEAVE_GRACE_MS - 200);
  expect(utf8.decode(left!.targetUserId)).toBe('dave');
  expect(left!.roomId).toBe(room);

  // Active, leaves, rejoins within the grace period: no PARTICIPANT_LEFT for the first session.
  const e1 = await join('erin', room);
  e1.client.send(video('erin', [1]));
  await eventually(() => fx.observer.onSubject(subjects.session(room, e1.sessionId)).length > 0, { what: 'activation' });
  e1.client.close();
  await e1.client.closed;
  await sleep(LEAVE_GRACE_MS / 4);
  const e2 = await join('erin', room);
  await sleep(LEAVE_GRACE_MS + 1_000);
  await natsBarrier();
  expect(leftFor(e1.sessionId)).toEqual([]);
  // The rejoined session never became active; when it goes, the user is announced as left after all.
  e2.client.close();
  await eventually(() => leftFor(e1.sessionId)[0], { what: 'PARTICIPANT_LEFT after the rejoined session left', timeoutMs: LEAVE_GRACE_MS + 5_000 });
  // Testing sessions never announce.
  expect(leftFor(e2.sessionId)).toEqual([]);

  // Two sessions of one user at once (a reconnect before the old socket is gone): the old one
  // leaving announces nothing while the new one is active; the new one leaving does.
  const f1 = await join('fay', room);
  f1.client.send(video('fay', [1]));
  const f2 = await join('fay', room);
  f2.client.send(video('fay', [2]));
  await eventually(() => fx.observer.onSubject(subjects.session(room, f2.sessionId)).length > 0, { what: 'second session active' });
  f1.client.close();
  await sleep(LEAVE_GRACE_MS + 1_000);
  await natsBarrier();
  expect(leftFor(f1.sessionId)).toEqual([]);
  f2.client.close();
  await eventually(() => leftFor(f2.sessionId)[0], { what: 'PARTICIPANT_LEFT of the last session', timeoutMs: LEAVE_GRACE_MS + 5_000 });
}, 30_000);
