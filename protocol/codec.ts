// Encoders and decoders of the videocall messages (field numbers: ../shared/PROTOCOL.md).
// Routing reads only packet type, session id and, for MEDIA, the inner media type.
import { MediaType, MeetingEvent, PacketType } from './packets';
import * as protobuf from './protobuf';
import { CodecError, FieldReader, WireType, Writer, expectWireType, fields, fixed64ToDouble, utf8 } from './protobuf';

// The per-frame functions below (readRoutingView, isRttProbe, stampSessionId) use these module
// constants instead of the imports: tsx's CommonJS output, which runs the relay in the tests and
// benchmarks, reads every imported binding through two getters with a megamorphic keyed load on
// each use, which a CPU profile of the relay put at several per cent of its time. (An esbuild
// bundle, as in the image, has no such getters; there this changes nothing.)
const Reader = protobuf.FieldReader;
const expectWire = protobuf.expectWireType;
const allocBytes = protobuf.allocBytes;
const varintHalves = protobuf.varintHalves;
const writeVarintHalves = protobuf.writeVarintHalves;
const CodecErrorClass = protobuf.CodecError;
const VARINT = WireType.VARINT;
const LEN = WireType.LEN;
const MEDIA_PACKET: number = PacketType.MEDIA;
const RTT_MEDIA: number = MediaType.RTT;

/** What the relay needs to route one PacketWrapper, read without copying its payload. */
export interface RoutingView {
  readonly packetType: number;
  /** 0n when the field is absent (proto3 default). */
  readonly sessionId: bigint;
  /** MediaPacket.media_type when packetType is MEDIA and `data` parses as one; otherwise undefined. */
  readonly mediaType?: number;
  /** Byte ranges of every session_id field, so stamping can drop them. */
  readonly sessionIdRanges: ReadonlyArray<readonly [number, number]>;
  /** PacketWrapper.user_id (a view into the frame; the last one wins, as in protobuf); empty when absent. */
  readonly userId: Uint8Array;
  /** MediaPacket.user_id when `mediaType` is set (a view; empty when absent). */
  readonly mediaUserId?: Uint8Array;
}

const EMPTY: Uint8Array = new Uint8Array(0);

const PW = { packetType: 1, userId: 2, data: 3, sessionId: 4 } as const;
const MP = { mediaType: 1, userId: 2, data: 3, frameType: 4, timestamp: 5, duration: 6 } as const;
const MTG = {
  eventType: 1, roomId: 2, startTimeMs: 3, message: 4, creatorId: 5, participantCount: 6,
  targetUserId: 7, roomToken: 8, sessionId: 9, displayName: 10,
} as const;

/** Reads what routing needs; throws CodecError when the frame is not a well-formed PacketWrapper. */
export function readRoutingView(frame: Uint8Array): RoutingView {
  let packetType = 0;
  let sessionId = 0n;
  let data: Uint8Array | undefined;
  const sessionIdRanges: Array<[number, number]> = [];
  let userId: Uint8Array = EMPTY;
  const f = new Reader(frame);
  while (f.next()) {
    switch (f.field) {
      case PW.packetType:
        expectWire(f, VARINT, 'PacketWrapper', 'packet_type');
        packetType = f.int32();
        break;
      case PW.userId:
        expectWire(f, LEN, 'PacketWrapper', 'user_id');
        userId = f.bytes();
        break;
      case PW.data:
        expectWire(f, LEN, 'PacketWrapper', 'data');
        data = f.bytes();
        break;
      case PW.sessionId:
        expectWire(f, VARINT, 'PacketWrapper', 'session_id');
        sessionId = f.int();
        sessionIdRanges.push([f.start, f.end]);
        break;
      default: // unknown fields are kept as they are
    }
  }
  const media = packetType === MEDIA_PACKET && data !== undefined ? peekMedia(data) : undefined;
  return { packetType, sessionId, mediaType: media?.mediaType, sessionIdRanges, userId, mediaUserId: media?.userId };
}

/** media_type and user_id of a MediaPacket, or undefined when `data` is not a parseable MediaPacket. */
function peekMedia(data: Uint8Array): { mediaType: number; userId: Uint8Array } | undefined {
  try {
    let mediaType = 0;
    let userId: Uint8Array = EMPTY;
    const f = new Reader(data);
    while (f.next()) {
      if (f.field === MP.mediaType) {
        if (f.wireType !== VARINT) return undefined;
        mediaType = f.int32();
      } else if (f.field === MP.userId) {
        if (f.wireType !== LEN) return undefined;
        userId = f.bytes();
      }
    }
    return { mediaType, userId };
  } catch (e) {
    if (e instanceof CodecErrorClass) return undefined;
    throw e;
  }
}

export function isRttProbe(view: RoutingView): boolean {
  return view.packetType === MEDIA_PACKET && view.mediaType === RTT_MEDIA;
}

const SESSION_ID_TAG = (PW.sessionId << 3) | WireType.VARINT; // one byte

/**
 * PacketWrapper.session_id = `sessionId` as stamped onto frames: its tag byte and varint. A relay
 * computes it once per session (stampSessionId with a bigint would redo the 64-bit arithmetic on
 * every frame).
 */
export function sessionIdStamp(sessionId: bigint): Uint8Array {
  const id = varintHalves(sessionId);
  const out = new Uint8Array(1 + id.length);
  out[0] = SESSION_ID_TAG;
  writeVarintHalves(out, 1, id.lo, id.hi);
  return out;
}

/**
 * The frame with `sessionId` (or its precomputed `sessionIdStamp`) written into
 * PacketWrapper.session_id: every existing session_id field is dropped and one is appended,
 * everything else is kept byte-for-byte.
 */
export function stampSessionId(frame: Uint8Array, view: RoutingView, sessionId: bigint | Uint8Array): Uint8Array {
  const stamp = typeof sessionId === 'bigint' ? sessionIdStamp(sessionId) : sessionId;
  const out = allocBytes(stampedLength(frame, view, stamp));
  stampInto(out, frame, view, stamp);
  return out;
}

/** Bytes of `frame` once stamped with `stamp` (a sessionIdStamp). */
export function stampedLength(frame: Uint8Array, view: RoutingView, stamp: Uint8Array): number {
  let dropped = 0;
  const ranges = view.sessionIdRanges;
  for (let i = 0; i < ranges.length; i++) dropped += ranges[i][1] - ranges[i][0];
  return frame.length - dropped + stamp.length;
}

/**
 * Writes the stamped frame into `out` (exactly stampedLength bytes): the relay stamps client frames
 * straight into the NATS batch, with no copy of its own (written in place: encoding the id into its
 * own array cost two allocations per relayed frame).
 */
export function stampInto(out: Uint8Array, frame: Uint8Array, view: RoutingView, stamp: Uint8Array): void {
  const ranges = view.sessionIdRanges;
  let to = 0;
  if (ranges.length === 0) {
    out.set(frame);
    to = frame.length;
  } else {
    let from = 0;
    for (const [start, end] of ranges) {
      out.set(frame.subarray(from, start), to);
      to += start - from;
      from = end;
    }
    out.set(frame.subarray(from), to);
    to += frame.length - from;
  }
  out.set(stamp, to);
}

export interface PacketWrapper {
  packetType: PacketType | number;
  userId?: Uint8Array | string;
  data?: Uint8Array;
  sessionId?: bigint;
}

export function encodePacketWrapper(p: PacketWrapper): Uint8Array {
  return new Writer()
    .varint(PW.packetType, p.packetType)
    .bytes(PW.userId, p.userId)
    .bytes(PW.data, p.data)
    .varint(PW.sessionId, p.sessionId ?? 0n)
    .finish();
}

export interface DecodedPacketWrapper {
  packetType: number;
  userId: Uint8Array;
  data: Uint8Array;
  sessionId: bigint;
}

export function decodePacketWrapper(frame: Uint8Array): DecodedPacketWrapper {
  const out: DecodedPacketWrapper = { packetType: 0, userId: new Uint8Array(), data: new Uint8Array(), sessionId: 0n };
  for (const f of fields(frame)) {
    if (f.field === PW.packetType) {
      expectWireType(f, WireType.VARINT, 'PacketWrapper', 'packet_type');
      out.packetType = Number(BigInt.asIntN(32, f.int!));
    } else if (f.field === PW.userId) {
      expectWireType(f, WireType.LEN, 'PacketWrapper', 'user_id');
      out.userId = frame.subarray(f.valueStart!, f.end);
    } else if (f.field === PW.data) {
      expectWireType(f, WireType.LEN, 'PacketWrapper', 'data');
      out.data = frame.subarray(f.valueStart!, f.end);
    } else if (f.field === PW.sessionId) {
      expectWireType(f, WireType.VARINT, 'PacketWrapper', 'session_id');
      out.sessionId = f.int!;
    }
  }
  return out;
}

export interface MediaPacket {
  mediaType: MediaType | number;
  userId?: Uint8Array | string;
  data?: Uint8Array;
  frameType?: string;
  /** milliseconds; RTT probes carry `performance.now()` */
  timestamp?: number;
  duration?: number;
}

export function encodeMediaPacket(m: MediaPacket): Uint8Array {
  return new Writer()
    .varint(MP.mediaType, m.mediaType)
    .bytes(MP.userId, m.userId)
    .bytes(MP.data, m.data)
    .bytes(MP.frameType, m.frameType)
    .double(MP.timestamp, m.timestamp)
    .double(MP.duration, m.duration)
    .finish();
}

export function decodeMediaPacket(buf: Uint8Array): Required<Omit<MediaPacket, 'userId' | 'data'>> & { userId: Uint8Array; data: Uint8Array } {
  const out: { mediaType: number; userId: Uint8Array; data: Uint8Array; frameType: string; timestamp: number; duration: number } = {
    mediaType: 0, userId: new Uint8Array(), data: new Uint8Array(), frameType: '', timestamp: 0, duration: 0,
  };
  for (const f of fields(buf)) {
    switch (f.field) {
      case MP.mediaType:
        expectWireType(f, WireType.VARINT, 'MediaPacket', 'media_type');
        out.mediaType = Number(BigInt.asIntN(32, f.int!));
        break;
      case MP.userId:
        expectWireType(f, WireType.LEN, 'MediaPacket', 'user_id');
        out.userId = buf.subarray(f.valueStart!, f.end);
        break;
      case MP.data:
        expectWireType(f, WireType.LEN, 'MediaPacket', 'data');
        out.data = buf.subarray(f.valueStart!, f.end);
        break;
      case MP.frameType:
        expectWireType(f, WireType.LEN, 'MediaPacket', 'frame_type');
        out.frameType = utf8.decode(buf.subarray(f.valueStart!, f.end));
        break;
      case MP.timestamp:
        expectWireType(f, WireType.FIXED64, 'MediaPacket', 'timestamp');
        out.timestamp = fixed64ToDouble(f.int!);
        break;
      case MP.duration:
        expectWireType(f, WireType.FIXED64, 'MediaPacket', 'duration');
        out.duration = fixed64ToDouble(f.int!);
        break;
      default:
    }
  }
  return out;
}

export interface MeetingPacket {
  eventType: MeetingEvent | number;
  roomId?: string;
  startTimeMs?: bigint;
  message?: string;
  creatorId?: Uint8Array | string;
  participantCount?: bigint;
  targetUserId?: Uint8Array | string;
  roomToken?: string;
  sessionId?: bigint;
  displayName?: Uint8Array | string;
}

export function encodeMeetingPacket(m: MeetingPacket): Uint8Array {
  return new Writer()
    .varint(MTG.eventType, m.eventType)
    .bytes(MTG.roomId, m.roomId)
    .varint(MTG.startTimeMs, m.startTimeMs ?? 0n)
    .bytes(MTG.message, m.message)
    .bytes(MTG.creatorId, m.creatorId)
    .varint(MTG.participantCount, m.participantCount ?? 0n)
    .bytes(MTG.targetUserId, m.targetUserId)
    .bytes(MTG.roomToken, m.roomToken)
    .varint(MTG.sessionId, m.sessionId ?? 0n)
    .bytes(MTG.displayName, m.displayName)
    .finish();
}

export interface DecodedMeetingPacket {
  eventType: number;
  roomId: string;
  startTimeMs: bigint;
  message: string;
  creatorId: Uint8Array;
  participantCount: bigint;
  targetUserId: Uint8Array;
  roomToken: string;
  sessionId: bigint;
  displayName: Uint8Array;
}

export function decodeMeetingPacket(buf: Uint8Array): DecodedMeetingPacket {
  const out: DecodedMeetingPacket = {
    eventType: 0, roomId: '', startTimeMs: 0n, message: '', creatorId: new Uint8Array(), participantCount: 0n,
    targetUserId: new Uint8Array(), roomToken: '', sessionId: 0n, displayName: new Uint8Array(),
  };
  const str = (f: { valueStart?: number; end: number }) => utf8.decode(buf.subarray(f.valueStart!, f.end));
  const bytes = (f: { valueStart?: number; end: number }) => buf.subarray(f.valueStart!, f.end);
  for (const f of fields(buf)) {
    const name = Object.entries(MTG).find(([, n]) => n === f.field)?.[0];
    if (name === undefined) continue;
    const isVarint = ['eventType', 'startTimeMs', 'participantCount', 'sessionId'].includes(name);
    expectWireType(f, isVarint ? WireType.VARINT : WireType.LEN, 'MeetingPacket', name);
    switch (name) {
      case 'eventType': out.eventType = Number(BigInt.asIntN(32, f.int!)); break;
      case 'startTimeMs': out.startTimeMs = f.int!; break;
      case 'participantCount': out.participantCount = BigInt.asIntN(64, f.int!); break;
      case 'sessionId': out.sessionId = f.int!; break;
      case 'roomId': out.roomId = str(f); break;
      case 'message': out.message = str(f); break;
      case 'roomToken': out.roomToken = str(f); break;
      case 'creatorId': out.creatorId = bytes(f); break;
      case 'targetUserId': out.targetUserId = bytes(f); break;
      case 'displayName': out.displayName = bytes(f); break;
    }
  }
  return out;
}

/** The videocall RTT probe: MEDIA wrapping a MediaPacket of type RTT stamped with `timestampMs`. */
export function encodeRttProbe(userId: Uint8Array | string, timestampMs: number): Uint8Array {
  return encodePacketWrapper({
    packetType: PacketType.MEDIA,
    userId,
    data: encodeMediaPacket({ mediaType: MediaType.RTT, userId, timestamp: timestampMs }),
  });
}

/** The timestamp of an RTT probe (or its echo), or undefined when the frame is not one. */
export function readRttProbeTimestamp(frame: Uint8Array): number | undefined {
  try {
    const pw = decodePacketWrapper(frame);
    if (pw.packetType !== PacketType.MEDIA) return undefined;
    const media = decodeMediaPacket(pw.data);
    return media.mediaType === MediaType.RTT ? media.timestamp : undefined;
  } catch (e) {
    if (e instanceof CodecError) return undefined;
    throw e;
  }
}

export { CodecError } from './protobuf';
