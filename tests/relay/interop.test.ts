// Interop on NATS with the existing videocall servers: bytes built by a full protobuf library as
// those servers publish them reach our clients unchanged, and what our relay publishes decodes to
// exactly the fields they expect.
import type { Msg } from '@nats-io/transport-node';
import { MediaType, MeetingEvent, PacketType, SYSTEM_USER_ID, encodeMediaPacket, encodePacketWrapper, newSessionId, subjects } from '../../protocol';
import { NatsServer, startNatsServer } from '../support/nats';
import { eventually } from '../support/processes';
import { RelayProcess, startRelay } from '../support/relay';
import { MP, MTG, PW, long } from '../protocol/reference';
import { NatsObserver, TestClient, closeAllClients, sameBytes, waitForSubscription } from './helpers';

let nats: NatsServer;
let relay: RelayProcess;
let peer: NatsObserver; // plays the existing server: publishes and subscribes raw

beforeAll(async () => {
  nats = await startNatsServer();
  relay = await startRelay({ natsUrl: nats.url });
  peer = await NatsObserver.start(nats.url, 'room.>');
});

afterAll(async () => {
  closeAllClients();
  await peer?.close();
  await relay?.stop();
  await nats?.stop();
});

const decodePW = (b: Uint8Array) => PW.toObject(PW.decode(b), { longs: String, enums: Number, defaults: true }) as { packet_type: number; user_id: Uint8Array; data: Uint8Array; session_id: string };
const decodeMeeting = (b: Uint8Array) => MTG.toObject(MTG.decode(b), { longs: String, defaults: true }) as Record<string, unknown> & { target_user_id: Uint8Array; display_name: Uint8Array; creator_id: Uint8Array };

async function join(user: string, room: string) {
  const client = await TestClient.open(`${relay.url}/lobby/${user}/${room}`);
  const sessionId = BigInt(decodePW(await client.frame(0)).session_id);
  return { client, sessionId };
}

/** A media frame as an existing server publishes it: the sender's session id stamped. */
function existingServerMedia(user: string, sessionId: bigint, payload: number[]): Uint8Array {
  const media = MP.encode(MP.fromObject({ media_type: MediaType.VIDEO, user_id: Buffer.from(user), data: payload, frame_type: 'key', timestamp: 1234.5 })).finish();
  return PW.encode(PW.fromObject({ packet_type: PacketType.MEDIA, user_id: Buffer.from(user), data: media, session_id: long(sessionId) })).finish();
}

test('frames from an existing server on room.R.<id> and room.R.system reach our clients byte-for-byte', async () => {
  const room = 'interop-in';
  const a = await join('ours', room);
  await waitForSubscription(nats.monitorPort, subjects.roomWildcard(room));
  const remote = newSessionId();
  const media = existingServerMedia('theirs', remote, [7, 7, 7]);
  peer.nc.publish(subjects.session(room, remote), media);
  const joined = PW.encode(PW.fromObject({
    packet_type: PacketType.MEETING, user_id: Buffer.from(SYSTEM_USER_ID),
    data: MTG.encode(MTG.fromObject({ event_type: MeetingEvent.PARTICIPANT_JOINED, room_id: room, message: 'theirs joined', target_user_id: Buffer.from('theirs'), session_id: long(remote), display_name: Buffer.from('Theirs') })).finish(),
  })).finish();
  peer.nc.publish(subjects.system(room), joined);
  await a.client.waitFor((f) => sameBytes(f, media), { what: 'media from the existing server' });
  await a.client.waitFor((f) => sameBytes(f, joined), { what: 'system frame from the existing server' });

  // A late joiner on our relay learns of the remote participant from what the system subject said.
  const b = await join('late', room);
  await b.client.waitFor((f) => {
    const pw = decodePW(f);
    if (pw.packet_type !== PacketType.MEETING) return false;
    const m = decodeMeeting(pw.data);
    return m.event_type === MeetingEvent.PARTICIPANT_JOINED && Buffer.from(m.target_user_id).toString() === 'theirs' && m.session_id === remote.toString();
  }, { what: 'roster entry for the remote participant' });
});

test('a frame on a local session\'s own subject skips that session, except CONGESTION addressed to it', async () => {
  const room = 'interop-own';
  const a = await join('a', room);
  const b = await join('b', room);
  await waitForSubscription(nats.monitorPort, subjects.roomWildcard(room));
  const onA = existingServerMedia('x', a.sessionId, [1]);
  peer.nc.publish(subjects.session(room, a.sessionId), onA);
  const congestion = PW.encode(PW.fromObject({ packet_type: PacketType.CONGESTION, user_id: Buffer.from('b'), session_id: long(a.sessionId) })).finish();
  peer.nc.publish(subjects.session(room, a.sessionId), congestion);
  await b.client.waitFor((f) => sameBytes(f, onA), { what: 'frame at b' });
  await a.client.waitFor((f) => sameBytes(f, congestion), { what: 'CONGESTION at a' });
  expect(a.client.frames.some((f) => sameBytes(f, onA))).toBe(false);
});

test('what our relay publishes decodes as the existing servers expect', async () => {
  const room = 'interop-out';
  const a = await join('alice', room);
  const media = encodeMediaPacket({ mediaType: MediaType.AUDIO, userId: 'alice', data: Uint8Array.of(4, 5, 6), timestamp: 10 });
  a.client.send(encodePacketWrapper({ packetType: PacketType.MEDIA, userId: 'alice', data: media }));

  const published = await eventually(() => peer.onSubject(subjects.session(room, a.sessionId))[0], { what: 'frame on NATS' });
  const pw = decodePW(published.data);
  expect(pw.packet_type).toBe(PacketType.MEDIA);
  expect(Buffer.from(pw.user_id).toString()).toBe('alice');
  expect(BigInt(pw.session_id)).toBe(a.sessionId);
  expect(MP.toObject(MP.decode(pw.data), { enums: Number })).toMatchObject({ media_type: MediaType.AUDIO, timestamp: 10 });

  const system = () => peer.onSubject(subjects.system(room)).map((m) => decodePW(m.data));
  const joinedPW = await eventually(() => system().find((p) => decodeMeeting(p.data).event_type === MeetingEvent.PARTICIPANT_JOINED), { what: 'PARTICIPANT_JOINED' });
  expect(joinedPW.packet_type).toBe(PacketType.MEETING);
  expect(Buffer.from(joinedPW.user_id).toString()).toBe(SYSTEM_USER_ID);
  expect(joinedPW.session_id).toBe('0');
  const joined = decodeMeeting(joinedPW.data);
  expect(joined.event_type).toBe(3);
  expect(joined.room_id).toBe(room);
  expect(typeof joined.message === 'string' && joined.message.length > 0).toBe(true);
  expect(Buffer.from(joined.target_user_id).toString()).toBe('alice');
  expect(joined.session_id).toBe(a.sessionId.toString());
  expect(Buffer.from(joined.display_name).toString()).toBe('alice');

  a.client.close();
  const leftPW = await eventually(() => system().find((p) => decodeMeeting(p.data).event_type === MeetingEvent.PARTICIPANT_LEFT), { what: 'PARTICIPANT_LEFT', timeoutMs: 10_000 });
  const left = decodeMeeting(leftPW.data);
  expect(left).toMatchObject({ event_type: 4, room_id: room, session_id: a.sessionId.toString() });
  expect(Buffer.from(left.target_user_id).toString()).toBe('alice');
});

test('core NATS only: no headers, no reply subjects on anything the relay publishes', async () => {
  const raw: Msg[] = [];
  const sub = peer.nc.subscribe('room.interop-core.>', { callback: (_e: Error | null, m: Msg) => { raw.push(m); } });
  await peer.nc.flush();
  const a = await join('core', 'interop-core');
  a.client.send(encodePacketWrapper({ packetType: PacketType.MEDIA, userId: 'core', data: encodeMediaPacket({ mediaType: MediaType.VIDEO }) }));
  await eventually(() => raw.length >= 2, { what: 'two messages' });
  for (const m of raw) {
    expect(m.headers).toBeUndefined();
    expect(m.reply ?? '').toBe('');
  }
  sub.unsubscribe();
});
