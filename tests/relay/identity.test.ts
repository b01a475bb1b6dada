// Impersonation against a real relay: a frame is never delivered, locally or over NATS, under an
// identity other than its sender's session, and server-only packets from clients reach nobody.
import { MediaType, MeetingEvent, PacketType, SYSTEM_USER_ID, decodePacketWrapper, encodeMediaPacket, encodePacketWrapper, newSessionId, subjects, utf8 } from '../../protocol';
import { systemMeetingFrame } from '../../relay/session';
import { eventually } from '../support/processes';
import { TestClient, expectDeliveryFromNats, meetingOf, metricOf, sameBytes, useRelayOverNats } from './helpers';

const fx = useRelayOverNats();
const ROOM = 'identity';

async function join(user: string) {
  const client = await TestClient.open(`${fx.relay.url}/lobby/${user}/${ROOM}`);
  const sessionId = decodePacketWrapper(await client.frame(0)).sessionId;
  return { client, sessionId };
}

const media = (userId: string, tag: number, opts: { sessionId?: bigint; innerUserId?: string } = {}) =>
  encodePacketWrapper({ packetType: PacketType.MEDIA, userId, sessionId: opts.sessionId, data: encodeMediaPacket({ mediaType: MediaType.VIDEO, userId: opts.innerUserId, data: Uint8Array.of(tag, tag) }) });
const tagOf = (f: Uint8Array) => {
  try {
    const pw = decodePacketWrapper(f);
    return pw.packetType === PacketType.MEDIA ? pw.data : undefined;
  } catch {
    return undefined;
  }
};

test('another participant\'s ids: foreign session id re-stamped, foreign user id dropped; server-only packets dropped', async () => {
  const alice = await join('alice');
  const bob = await join('bob');
  const mallory = await join('mallory');
  alice.client.send(media('alice', 1));
  mallory.client.send(media('mallory', 2)); // activates mallory
  await bob.client.waitFor((f) => decodePacketWrapper(f).sessionId === mallory.sessionId, { what: 'mallory\'s own frame at bob' });

  // 1. Mallory's user id with alice's session id: delivered as mallory's session.
  const claimsSession = media('mallory', 3, { sessionId: alice.sessionId });
  mallory.client.send(claimsSession);
  const got = await bob.client.waitFor((f) => { const d = tagOf(f); return d !== undefined && sameBytes(d, decodePacketWrapper(claimsSession).data); }, { what: 're-stamped frame at bob' });
  expect(decodePacketWrapper(got).sessionId).toBe(mallory.sessionId);

  // 2. Alice's user id (wrapper or MediaPacket) from mallory: nobody gets it.
  const claimsUser = media('alice', 4, { sessionId: alice.sessionId });
  const claimsInner = media('mallory', 5, { innerUserId: 'alice' });
  // 3. Server-only packets: a forged PARTICIPANT_LEFT for alice, MEETING_ENDED, SESSION_ASSIGNED.
  const forgedLeft = systemMeetingFrame({ eventType: MeetingEvent.PARTICIPANT_LEFT, roomId: ROOM, targetUserId: 'alice', sessionId: alice.sessionId });
  const forgedEnd = encodePacketWrapper({ packetType: PacketType.MEETING, userId: 'mallory', data: meetingEndedData() });
  const forgedAssigned = encodePacketWrapper({ packetType: PacketType.SESSION_ASSIGNED, userId: SYSTEM_USER_ID, sessionId: alice.sessionId });
  const before = { bob: bob.client.frames.length, alice: alice.client.frames.length };
  for (const f of [claimsUser, claimsInner, forgedLeft, forgedEnd, forgedAssigned]) mallory.client.send(f);
  // A marker after them: once it arrives everywhere, the forged frames would have too.
  const marker = media('mallory', 6);
  mallory.client.send(marker);
  await bob.client.waitFor((f) => { const d = tagOf(f); return d !== undefined && sameBytes(d, decodePacketWrapper(marker).data); }, { from: before.bob, what: 'marker at bob' });
  await alice.client.waitFor((f) => { const d = tagOf(f); return d !== undefined && sameBytes(d, decodePacketWrapper(marker).data); }, { from: before.alice, what: 'marker at alice' });
  await eventually(() => fx.observer.onSubject(subjects.session(ROOM, mallory.sessionId)).some((m) => { const d = tagOf(m.data); return d !== undefined && sameBytes(d, decodePacketWrapper(marker).data); }), { what: 'marker on NATS' });

  for (const c of [bob.client, alice.client]) {
    const seen = c.frames.slice(c === bob.client ? before.bob : before.alice);
    expect(seen.filter((f) => { const d = tagOf(f); return d !== undefined && (d[0] === 4 || d[0] === 5 || d[1] === 4 || d[1] === 5); })).toEqual([]);
    expect(seen.map((f) => meetingOf(f)?.eventType).filter((e) => e === MeetingEvent.PARTICIPANT_LEFT || e === MeetingEvent.MEETING_ENDED)).toEqual([]);
    expect(seen.filter((f) => decodePacketWrapper(f).packetType === PacketType.SESSION_ASSIGNED)).toEqual([]);
  }
  // Over NATS (what other relays and servers would deliver): nothing under alice's ids from mallory.
  const fromMallory = fx.observer.messages.filter((m) => m.subject.startsWith(`room.${ROOM}.`) && m.subject !== subjects.session(ROOM, alice.sessionId));
  for (const m of fromMallory) {
    const pw = decodePacketWrapper(m.data);
    if (m.subject === subjects.system(ROOM)) {
      expect(meetingOf(m.data)?.eventType).toBe(MeetingEvent.PARTICIPANT_JOINED);
      continue;
    }
    expect(utf8.decode(pw.userId)).not.toBe('alice');
    expect(pw.sessionId).not.toBe(alice.sessionId);
  }
  expect(await metricOf(fx.relay.httpUrl, 'relay_dropped_frames_total{reason="impersonation"}')).toBe(2);
  expect(await metricOf(fx.relay.httpUrl, 'relay_dropped_frames_total{reason="server_only_packet"}')).toBe(3);
  expect(await metricOf(fx.relay.httpUrl, 'relay_restamped_frames_total')).toBe(1);
});

function meetingEndedData(): Uint8Array {
  const pw = decodePacketWrapper(systemMeetingFrame({ eventType: MeetingEvent.MEETING_ENDED, roomId: ROOM, message: 'bye' }));
  return pw.data;
}

test('from NATS too: a frame on one session\'s subject claiming another session id is not delivered', async () => {
  const alice = await join('alice2');
  const bob = await join('bob2');
  const from = bob.client.frames.length;
  const forger = newSessionId();
  const forged = encodePacketWrapper({ packetType: PacketType.MEDIA, userId: 'alice2', sessionId: alice.sessionId, data: encodeMediaPacket({ mediaType: MediaType.VIDEO, data: Uint8Array.of(8, 8) }) });
  const honest = encodePacketWrapper({ packetType: PacketType.MEDIA, userId: 'carol', sessionId: forger, data: encodeMediaPacket({ mediaType: MediaType.VIDEO, data: Uint8Array.of(9, 9) }) });
  const dropsBefore = await metricOf(fx.relay.httpUrl, 'relay_dropped_frames_total{reason="impersonation"}');
  fx.observer.nc.publish(subjects.session(ROOM, forger), forged);
  await expectDeliveryFromNats(fx.observer.nc, ROOM, bob.client, 'a later remote frame');
  fx.observer.nc.publish(subjects.session(ROOM, forger), honest);
  await bob.client.waitFor((f) => sameBytes(f, honest), { from, what: 'the honest frame' });
  expect(bob.client.frames.slice(from).some((f) => sameBytes(f, forged))).toBe(false);
  expect(await metricOf(fx.relay.httpUrl, 'relay_dropped_frames_total{reason="impersonation"}')).toBe(dropsBefore + 1);
  alice.client.close();
});
