// The relay's minimal codec checked against a full protobuf implementation (protobufjs, built from
// the messages of PROTOCOL.md) on many generated messages, with unknown fields and 64-bit ids.
import {
  CodecError, MediaType, PacketType, decodeMediaPacket, decodeMeetingPacket, decodePacketWrapper, encodeMediaPacket,
  encodeMeetingPacket, encodePacketWrapper, encodeRttProbe, isRttProbe, readRoutingView, readRttProbeTimestamp, sessionIdStamp, stampSessionId,
} from '../../protocol';
import { LongCtor, MP, MTG, PW, PWNext, long } from './reference';
import { encodeVarint } from '../../protocol/protobuf';

// Deterministic generator (mulberry32), so a failure is reproducible.
function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const bytes = (max: number) => Uint8Array.from({ length: int(max) }, () => int(256));
  const u64 = (): bigint => {
    switch (int(5)) {
      case 0: return 0n;
      case 1: return BigInt(int(1000));
      case 2: return (1n << 64n) - 1n;
      case 3: return (1n << 63n) | (BigInt(int(2 ** 31)) << 20n) | BigInt(int(2 ** 20)); // session-id shaped
      default: return (BigInt(int(2 ** 32)) << 32n) | BigInt(int(2 ** 32));
    }
  };
  return { next, int, bytes, u64 };
}

const toBig = (v: unknown) => BigInt(String(v ?? 0));

function genMedia(r: ReturnType<typeof rng>): { obj: Record<string, unknown>; mediaType: number } {
  const mediaType = r.int(8); // includes values beyond the enum
  const obj: Record<string, unknown> = { media_type: mediaType };
  if (r.int(2)) obj.user_id = r.bytes(20);
  if (r.int(2)) obj.data = r.bytes(300);
  if (r.int(2)) obj.frame_type = 'key';
  if (r.int(2)) obj.timestamp = r.next() * 1e6;
  if (r.int(3) === 0) obj.video_metadata = { x: r.int(1000), y: 'v' };
  return { obj, mediaType };
}

interface Generated {
  bytes: Uint8Array;
  packetType: number;
  sessionId: bigint;
  mediaType?: number;
  next: boolean;
}

function generate(r: ReturnType<typeof rng>): Generated {
  const packetType = r.int(12); // 10, 11: unknown enum values
  const sessionId = r.u64();
  const obj: Record<string, unknown> = {};
  if (packetType !== 0) obj.packet_type = packetType;
  if (r.int(4) !== 0) obj.user_id = r.bytes(40);
  let mediaType: number | undefined;
  if (packetType === PacketType.MEDIA && r.int(5) !== 0) {
    const m = genMedia(r);
    obj.data = MP.encode(MP.fromObject(m.obj)).finish();
    mediaType = m.mediaType;
  } else if (r.int(2)) {
    obj.data = r.bytes(500);
  }
  if (sessionId !== 0n) obj.session_id = long(sessionId);
  const next = r.int(2) === 1;
  if (next) {
    obj.note = 'from a newer peer';
    obj.f32 = r.int(2 ** 31);
    obj.f64 = long(r.u64());
    obj.big = long(r.u64());
    obj.blob = r.bytes(50);
    obj.signed = LongCtor.fromString('-' + String(r.int(2 ** 31)));
  }
  const type = next ? PWNext : PW;
  const bytes = type.encode(type.fromObject(obj)).finish();
  return { bytes, packetType, sessionId, mediaType: packetType === PacketType.MEDIA ? mediaType : undefined, next };
}

const SAMPLES = 2000;

test('readRoutingView reads packet type, 64-bit session id and media type like protobufjs', () => {
  const r = rng(1);
  for (let i = 0; i < SAMPLES; i++) {
    const g = generate(r);
    const view = readRoutingView(g.bytes);
    const ref = PW.toObject(PW.decode(g.bytes), { longs: String, enums: Number, defaults: true });
    expect(view.packetType).toBe(ref.packet_type);
    expect(view.sessionId).toBe(toBig(ref.session_id));
    expect(view.sessionId).toBe(g.sessionId);
    if (g.packetType === PacketType.MEDIA && g.mediaType !== undefined) expect(view.mediaType).toBe(g.mediaType);
    if (g.packetType !== PacketType.MEDIA) expect(view.mediaType).toBeUndefined();
    const decoded = decodePacketWrapper(g.bytes);
    expect(Buffer.from(decoded.userId)).toEqual(Buffer.from(ref.user_id));
    expect(Buffer.from(decoded.data)).toEqual(Buffer.from(ref.data));
  }
});

test('stampSessionId changes only session_id: protobufjs sees every other field, known or not, unchanged', () => {
  const r = rng(2);
  for (let i = 0; i < SAMPLES; i++) {
    const g = generate(r);
    const id = r.u64() | (1n << 63n);
    const stamped = stampSessionId(g.bytes, readRoutingView(g.bytes), id);
    const type = g.next ? PWNext : PW;
    const opts = { longs: String, enums: Number, defaults: true, bytes: Array };
    const before = type.toObject(type.decode(g.bytes), opts);
    const after = type.toObject(type.decode(stamped), opts);
    expect(toBig(after.session_id)).toBe(id);
    expect({ ...after, session_id: undefined }).toEqual({ ...before, session_id: undefined });
    expect(readRoutingView(stamped).sessionId).toBe(id);
    // the relay's form: the stamp computed once per session gives the same bytes
    expect(Buffer.from(stampSessionId(g.bytes, readRoutingView(g.bytes), sessionIdStamp(id)))).toEqual(Buffer.from(stamped));
  }
});

test('a precomputed session id stamp is the tag and varint protobufjs writes, for every varint length', () => {
  for (const id of [1n, 127n, 128n, 300n, 1n << 31n, 1n << 53n, (1n << 63n) + 12345n, (1n << 64n) - 1n]) {
    const stamp = sessionIdStamp(id);
    expect(Buffer.from(stamp)).toEqual(Buffer.from(PW.encode({ session_id: long(id) }).finish()));
    const frame = PW.encode({ packet_type: 3, session_id: long(5n) }).finish();
    const stamped = stampSessionId(frame, readRoutingView(frame), stamp);
    expect(toBig(PW.toObject(PW.decode(stamped), { longs: String }).session_id)).toBe(id);
    expect(stamped.length).toBe(frame.length - 2 + stamp.length);
  }
});

test('a frame with session_id written twice (last wins in protobuf) is stamped to one value', () => {
  const twice = Buffer.concat([PW.encode({ packet_type: 3, session_id: long(5n) }).finish(), PW.encode({ session_id: long(7n) }).finish()]);
  expect(readRoutingView(twice).sessionId).toBe(toBig(PW.toObject(PW.decode(twice), { longs: String }).session_id));
  const stamped = stampSessionId(twice, readRoutingView(twice), 9n);
  expect(toBig(PW.toObject(PW.decode(stamped), { longs: String }).session_id)).toBe(9n);
});

test('fields in any order are read the same', () => {
  const parts = [
    PW.encode({ session_id: long((1n << 63n) + 3n) }).finish(),
    PW.encode({ data: MP.encode({ media_type: MediaType.RTT, timestamp: 12.5 }).finish() }).finish(),
    PW.encode({ user_id: Buffer.from('u') }).finish(),
    PW.encode({ packet_type: PacketType.MEDIA }).finish(),
  ];
  const view = readRoutingView(Buffer.concat(parts));
  expect(view).toMatchObject({ packetType: PacketType.MEDIA, sessionId: (1n << 63n) + 3n, mediaType: MediaType.RTT });
  expect(isRttProbe(view)).toBe(true);
});

test('our encoders produce exactly protobufjs\'s bytes', () => {
  const r = rng(3);
  for (let i = 0; i < 300; i++) {
    const sessionId = r.u64();
    const userId = r.bytes(10);
    const data = r.bytes(100);
    const ref: Record<string, unknown> = { packet_type: 1 + r.int(9), user_id: userId, data };
    if (sessionId !== 0n) ref.session_id = long(sessionId);
    const pw = { packetType: ref.packet_type as number, userId, data, sessionId };
    if (userId.length === 0) delete ref.user_id;
    if (data.length === 0) delete ref.data;
    expect(Buffer.from(encodePacketWrapper(pw))).toEqual(Buffer.from(PW.encode(PW.fromObject(ref)).finish()));

    const ts = r.next() * 1e5 + 1;
    expect(Buffer.from(encodeMediaPacket({ mediaType: MediaType.VIDEO, userId: 'u', data: Uint8Array.of(1), frameType: 'delta', timestamp: ts, duration: 2.5 })))
      .toEqual(Buffer.from(MP.encode(MP.fromObject({ media_type: 1, user_id: Buffer.from('u'), data: [1], frame_type: 'delta', timestamp: ts, duration: 2.5 })).finish()));

    const start = r.u64() || 1n;
    const meeting = { eventType: 3, roomId: 'room_1', startTimeMs: start, message: 'hi', creatorId: 'c', participantCount: 4n, targetUserId: 'bob', roomToken: 't', sessionId: sessionId || 1n, displayName: 'Bob' };
    const refMeeting = MTG.fromObject({ event_type: 3, room_id: 'room_1', start_time_ms: long(start), message: 'hi', creator_id: Buffer.from('c'), participant_count: 4, target_user_id: Buffer.from('bob'), room_token: 't', session_id: long(sessionId || 1n), display_name: Buffer.from('Bob') });
    const ours = encodeMeetingPacket(meeting);
    expect(Buffer.from(ours)).toEqual(Buffer.from(MTG.encode(refMeeting).finish()));
    expect(decodeMeetingPacket(ours)).toMatchObject({ eventType: 3, roomId: 'room_1', startTimeMs: start, sessionId: sessionId || 1n, participantCount: 4n });
  }
});

test('negative participant_count and unknown MeetingPacket fields round-trip through protobufjs', () => {
  const bytes = MTG.encode(MTG.fromObject({ event_type: 4, participant_count: -2, session_id: long((1n << 64n) - 1n) })).finish();
  expect(decodeMeetingPacket(bytes)).toMatchObject({ eventType: 4, participantCount: -2n, sessionId: (1n << 64n) - 1n });
});

test('RTT probes: protobufjs reads what encodeRttProbe writes, and readRttProbeTimestamp reads protobufjs probes', () => {
  const ours = encodeRttProbe('alice', 123.456);
  const pw = PW.decode(ours) as unknown as { packet_type: number; data: Uint8Array };
  expect(pw.packet_type).toBe(PacketType.MEDIA);
  expect(MP.toObject(MP.decode(pw.data), { enums: Number })).toMatchObject({ media_type: MediaType.RTT, timestamp: 123.456 });
  const theirs = PW.encode({ packet_type: 3, data: MP.encode({ media_type: 5, timestamp: 98.75, user_id: Buffer.from('x') }).finish() }).finish();
  expect(readRttProbeTimestamp(theirs)).toBe(98.75);
  expect(decodeMediaPacket(decodePacketWrapper(theirs).data)).toMatchObject({ mediaType: 5, timestamp: 98.75 });
});

test('malformed input: CodecError or a consistent view, never another exception', () => {
  const r = rng(4);
  let errors = 0;
  for (let i = 0; i < SAMPLES; i++) {
    const g = generate(r);
    const variants = [g.bytes.subarray(0, r.int(g.bytes.length + 1)), r.bytes(64)];
    const flipped = Uint8Array.from(g.bytes);
    if (flipped.length > 0) flipped[r.int(flipped.length)] ^= 1 << r.int(8);
    variants.push(flipped);
    for (const v of variants) {
      let view;
      try {
        view = readRoutingView(v);
      } catch (err) {
        expect(err).toBeInstanceOf(CodecError);
        errors++;
        continue;
      }
      // When we accept it, protobufjs must read the same routing fields (if it can read it at all).
      let ref;
      try {
        ref = PW.toObject(PW.decode(v), { longs: String, enums: Number, defaults: true });
      } catch {
        continue;
      }
      expect(view.packetType).toBe(ref.packet_type);
      expect(view.sessionId).toBe(toBig(ref.session_id));
    }
  }
  expect(errors).toBeGreaterThan(0);
});

test.each([
  ['truncated varint', [0x08]],
  ['length beyond the end', [0x1a, 0x05, 0x01]],
  ['wire type 3 (groups)', [0x0b]],
  ['field number 0', [0x00, 0x01]],
  ['packet_type as bytes', [0x0a, 0x01, 0x00]],
  ['session_id as fixed64', [0x21, 1, 2, 3, 4, 5, 6, 7, 8]],
  ['11-byte varint', [0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]],
])('%s is a CodecError', (_name, bytes) => {
  expect(() => readRoutingView(Uint8Array.from(bytes))).toThrow(CodecError);
});

test('encodeVarint writes the same bytes as the plain BigInt algorithm at every width', () => {
  const reference = (value: bigint) => {
    const out: number[] = [];
    let v = BigInt.asUintN(64, value);
    while (v > 0x7fn) {
      out.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    out.push(Number(v));
    return out;
  };
  const r = rng(9);
  const values = [0n, 1n, 127n, 128n, 16383n, 16384n, (1n << 28n) - 1n, 1n << 28n, (1n << 32n) - 1n, 1n << 32n, (1n << 35n) + 5n, 1n << 63n, (1n << 64n) - 1n, -1n];
  for (let i = 0; i < 500; i++) values.push(r.u64() >> BigInt(r.int(64)));
  for (const v of values) expect([...encodeVarint(v)]).toEqual(reference(v));
});
