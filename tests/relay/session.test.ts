// The pure session state machine, with an injected clock.
import {
  CONGESTION_DROPS_PER_SECOND, IDLE_TIMEOUT_MS, KEYFRAME_REQUESTS_PER_SECOND, MediaType, MeetingEvent,
  PING_INTERVAL_MS, PacketType, SYSTEM_USER_ID, decodeMeetingPacket, decodePacketWrapper, encodeMediaPacket,
  encodePacketWrapper, encodeRttProbe, subjects, utf8,
} from '../../protocol';
import { CloseCode, Session, SessionAction, SessionIdentity, publishedLength, writePublished } from '../../relay/session';

/** What a publish action puts on NATS, as the server writes it into its batch. */
const publishedFrame = (a: Extract<SessionAction, { kind: 'publish' }>) => writePublished(new Uint8Array(publishedLength(a)), a);

const ID = (1n << 63n) | 123456789012345678n;
const limits = { idleTimeoutMs: IDLE_TIMEOUT_MS, pingIntervalMs: PING_INTERVAL_MS, keyframeRequestsPerSecond: KEYFRAME_REQUESTS_PER_SECOND, slowSocketCloseMs: 10_000 };
const identity = (over: Partial<SessionIdentity> = {}): SessionIdentity => ({ id: ID, userId: 'alice', room: 'r1', displayName: 'Alice', observer: false, ...over });
const media = (mediaType: MediaType, sessionId?: bigint) =>
  encodePacketWrapper({ packetType: PacketType.MEDIA, userId: 'alice', data: encodeMediaPacket({ mediaType, data: Uint8Array.of(1, 2) }), sessionId });
const kinds = (actions: SessionAction[]) => actions.map((a) => a.kind);

test('welcome frames: SESSION_ASSIGNED with the id, then MEETING_STARTED', () => {
  const s = new Session(identity(), limits, 1000);
  const [assigned, started] = s.welcomeFrames(5000);
  expect(decodePacketWrapper(assigned)).toMatchObject({ packetType: PacketType.SESSION_ASSIGNED, sessionId: ID });
  expect(utf8.decode(decodePacketWrapper(assigned).userId)).toBe(SYSTEM_USER_ID);
  const m = decodeMeetingPacket(decodePacketWrapper(started).data);
  expect(m).toMatchObject({ eventType: MeetingEvent.MEETING_STARTED, roomId: 'r1', startTimeMs: 5000n });
  expect(utf8.decode(m.creatorId)).toBe('alice');
});

test('an RTT probe is echoed as the same bytes and neither activates nor publishes', () => {
  const s = new Session(identity(), limits, 0);
  const probe = encodeRttProbe('alice', 42.5);
  const actions = s.onBinary(probe, 1);
  expect(actions).toEqual([{ kind: 'echo', frame: probe }]);
  expect(s.state).toBe('testing');
});

test('the first non-RTT frame activates: PARTICIPANT_JOINED, then the frame stamped on the own subject', () => {
  const s = new Session(identity(), limits, 0);
  const actions = s.onBinary(media(MediaType.VIDEO), 1);
  expect(s.state).toBe('active');
  expect(kinds(actions)).toEqual(['announce', 'publish']);
  const announce = actions[0] as Extract<SessionAction, { kind: 'announce' }>;
  expect(announce.subject).toBe(subjects.system('r1'));
  const m = decodeMeetingPacket(decodePacketWrapper(announce.frame).data);
  expect(m).toMatchObject({ eventType: MeetingEvent.PARTICIPANT_JOINED, roomId: 'r1', sessionId: ID });
  expect(utf8.decode(m.targetUserId)).toBe('alice');
  expect(utf8.decode(m.displayName)).toBe('Alice');
  const pub = actions[1] as Extract<SessionAction, { kind: 'publish' }>;
  expect(pub.subject).toBe(subjects.session('r1', ID));
  expect(pub.media).toBe(true);
  expect(decodePacketWrapper(publishedFrame(pub)).sessionId).toBe(ID);
  expect(pub.restamped).toBe(false);
  // Second frame, already carrying the own ids: no second announcement, published as it is.
  const keep = media(MediaType.AUDIO, ID);
  const second = s.onBinary(keep, 2);
  expect(second).toEqual([{ kind: 'publish', subject: subjects.session('r1', ID), frame: keep, media: true, restamped: false }]);
  expect(publishedFrame(second[0] as Extract<SessionAction, { kind: 'publish' }>)).toEqual(keep);
});

describe('identity: a frame is only ever published under its sender\'s own ids', () => {
  const active = () => {
    const s = new Session(identity({ userId: 'alice_b' }), limits, 0);
    s.onBinary(encodePacketWrapper({ packetType: PacketType.AES_KEY, userId: 'alice_b' }), 0);
    return s;
  };
  const wrapper = (userId: string, sessionId: bigint, inner?: string) =>
    encodePacketWrapper({ packetType: PacketType.MEDIA, userId, data: encodeMediaPacket({ mediaType: MediaType.VIDEO, userId: inner, data: Uint8Array.of(9) }), sessionId });

  test.each([
    ['another session id', wrapper('alice_b', 77n), true],
    ['no session id', wrapper('alice_b', 0n), false],
    ['no user id at all', wrapper('', 0n), false],
    ['the own user id before the lobby\'s normalisation', wrapper('alice b', 0n), false],
  ])('%s: published under the own session id', (_name, frame, restamped) => {
    const [pub] = active().onBinary(frame, 1) as Array<Extract<SessionAction, { kind: 'publish' }>>;
    expect(pub.kind).toBe('publish');
    expect(pub.restamped).toBe(restamped);
    const out = decodePacketWrapper(publishedFrame(pub));
    expect(out.userId).toEqual(decodePacketWrapper(frame).userId);
    expect(out.sessionId).toBe(ID);
    expect(out.data).toEqual(decodePacketWrapper(frame).data);
  });

  test.each([
    ['MEDIA whose MediaPacket.user_id is another user', wrapper('alice_b', ID, 'mallory'), 'impersonation'],
    ['a frame under another user id', wrapper('mallory', ID), 'impersonation'],
    ['a non-media frame under another user id', encodePacketWrapper({ packetType: PacketType.AES_KEY, userId: 'mallory' }), 'impersonation'],
    ['SESSION_ASSIGNED', encodePacketWrapper({ packetType: PacketType.SESSION_ASSIGNED, userId: 'alice_b', sessionId: ID }), 'server_only_packet'],
    ['MEETING (a forged PARTICIPANT_LEFT)', encodePacketWrapper({ packetType: PacketType.MEETING, userId: 'alice_b', data: Uint8Array.of(8, 4) }), 'server_only_packet'],
    ['anything under the SYSTEM user id', encodePacketWrapper({ packetType: PacketType.AES_KEY, userId: SYSTEM_USER_ID }), 'server_only_packet'],
  ])('%s is dropped and counted', (_name, frame, reason) => {
    expect(active().onBinary(frame, 1)).toEqual([{ kind: 'drop', reason }]);
  });

  test('the inner user id may be absent or the own one (normalised)', () => {
    expect(kinds(active().onBinary(wrapper('alice_b', ID, 'alice b'), 1))).toEqual(['publish']);
    expect(kinds(active().onBinary(wrapper('alice_b', ID, ''), 1))).toEqual(['publish']);
  });
});

test('observers activate silently and their media is dropped', () => {
  const s = new Session(identity({ observer: true }), limits, 0);
  expect(s.onBinary(media(MediaType.VIDEO), 1)).toEqual([{ kind: 'drop', reason: 'observer_media' }]);
  expect(s.state).toBe('active');
  expect(s.close()).toBeUndefined();
});

test('CONGESTION from a client is dropped, HEALTH goes to diagnostics only, other packets are published as control', () => {
  const s = new Session(identity(), limits, 0);
  s.onBinary(media(MediaType.VIDEO), 0);
  expect(s.onBinary(encodePacketWrapper({ packetType: PacketType.CONGESTION, userId: 'x' }), 1)).toEqual([{ kind: 'drop', reason: 'congestion_from_client' }]);
  const health = encodePacketWrapper({ packetType: PacketType.HEALTH, userId: 'alice', data: Uint8Array.of(1) });
  expect(kinds(s.onBinary(health, 2))).toEqual(['health']);
  const key = encodePacketWrapper({ packetType: PacketType.AES_KEY, userId: 'alice', data: Uint8Array.of(5) });
  const [pub] = s.onBinary(key, 3) as Array<Extract<SessionAction, { kind: 'publish' }>>;
  expect(pub.media).toBe(false);
});

test('KEYFRAME_REQUEST is limited per second', () => {
  const s = new Session(identity(), limits, 0);
  s.onBinary(media(MediaType.VIDEO), 0);
  const results = [0, 100, 200, 300].map((t) => kinds(s.onBinary(media(MediaType.KEYFRAME_REQUEST), t)));
  expect(results.filter((k) => k[0] === 'publish')).toHaveLength(KEYFRAME_REQUESTS_PER_SECOND);
  expect(results.slice(KEYFRAME_REQUESTS_PER_SECOND).every((k) => k[0] === 'drop')).toBe(true);
  expect(kinds(s.onBinary(media(MediaType.KEYFRAME_REQUEST), 1_100))).toEqual(['publish']);
});

test('a malformed frame closes with 1007 and a short reason; later frames are ignored after close', () => {
  const s = new Session(identity(), limits, 0);
  const [action] = s.onBinary(Uint8Array.of(0x0a, 0x05, 0x01), 1);
  expect(action).toMatchObject({ kind: 'close', code: CloseCode.INVALID_PAYLOAD });
  expect((action as { reason: string }).reason.length).toBeLessThanOrEqual(123);
  s.close();
  expect(s.onBinary(media(MediaType.VIDEO), 2)).toEqual([]);
});

test('tick: pings on the interval, closes after the idle timeout unless something arrived', () => {
  const s = new Session(identity(), limits, 0);
  expect(s.tick(PING_INTERVAL_MS - 1)).toEqual([]);
  expect(s.tick(PING_INTERVAL_MS)).toEqual([{ kind: 'ping' }]);
  s.touch(IDLE_TIMEOUT_MS - 1);
  expect(s.tick(IDLE_TIMEOUT_MS)).not.toContainEqual(expect.objectContaining({ kind: 'close' }));
  expect(s.tick(2 * IDLE_TIMEOUT_MS - 1)).toEqual([{ kind: 'close', code: CloseCode.NORMAL, reason: 'idle timeout' }]);
});

test('a socket over the buffer bound too long is closed; recovering resets the clock', () => {
  const s = new Session(identity(), limits, 0);
  expect(s.setOverBound(true, 1_000)).toBe('congested');
  expect(s.setOverBound(true, 2_000)).toBeUndefined();
  s.touch(10_000);
  expect(s.tick(10_999)).not.toContainEqual(expect.objectContaining({ kind: 'close' }));
  expect(s.setOverBound(false, 10_999)).toBe('recovered');
  expect(s.setOverBound(true, 11_000)).toBe('congested');
  s.touch(20_000);
  expect(s.tick(21_000)).toEqual([{ kind: 'close', code: CloseCode.POLICY, reason: 'receiver too slow' }]);
});

test('CONGESTION notice after enough drops within a second, at most one per interval', () => {
  const s = new Session(identity(), limits, 0);
  const notices = [];
  for (let t = 0; t < 2_000; t += 50) notices.push(s.noteDropFrom('42', t));
  const at = notices.flatMap((n, i) => (n ? [i * 50] : []));
  expect(at[0]).toBe((CONGESTION_DROPS_PER_SECOND - 1) * 50);
  for (let i = 1; i < at.length; i++) expect(at[i] - at[i - 1]).toBeGreaterThanOrEqual(1_000);
  const frame = decodePacketWrapper(s.congestionFrame(42n));
  expect(frame.packetType).toBe(PacketType.CONGESTION);
  expect(utf8.decode(frame.userId)).toBe('alice');
  expect(frame.sessionId).toBe(42n);
  // Drops spread thinner than the threshold never notify.
  const calm = new Session(identity(), limits, 0);
  expect([0, 300, 600, 900, 1_200, 1_500].map((t) => calm.noteDropFrom('7', t))).not.toContain(true);
});

test('only an active non-observer session leaves a member to announce', () => {
  const testing = new Session(identity(), limits, 0);
  expect(testing.close()).toBeUndefined();
  const active = new Session(identity(), limits, 0);
  active.onBinary(media(MediaType.VIDEO), 0);
  expect(active.close()).toMatchObject({ id: ID, userId: 'alice', room: 'r1' });
});
