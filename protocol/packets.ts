// Facts of the videocall wire protocol (../shared/PROTOCOL.md), stated once for the relay,
// the election client, the synthesized NATS config and the tests.

/** The server's own user id in PacketWrapper.user_id and MeetingPacket fields. */
export const SYSTEM_USER_ID = 'system-&^%$#@!';

/** Largest binary frame a session may send; NATS `max_payload` is derived from it too. */
export const MAX_FRAME_BYTES = 4_000_000;

export enum PacketType {
  UNKNOWN = 0,
  RSA_PUB_KEY = 1,
  AES_KEY = 2,
  MEDIA = 3,
  CONNECTION = 4,
  DIAGNOSTICS = 5,
  HEALTH = 6,
  MEETING = 7,
  SESSION_ASSIGNED = 8,
  CONGESTION = 9,
}

export enum MediaType {
  UNKNOWN = 0,
  VIDEO = 1,
  AUDIO = 2,
  SCREEN = 3,
  HEARTBEAT = 4,
  RTT = 5,
  KEYFRAME_REQUEST = 6,
}

export enum MeetingEvent {
  MEETING_STARTED = 1,
  MEETING_ENDED = 2,
  PARTICIPANT_JOINED = 3,
  PARTICIPANT_LEFT = 4,
  MEETING_ACTIVATED = 5,
  PARTICIPANT_ADMITTED = 6,
  PARTICIPANT_REJECTED = 7,
  WAITING_ROOM_UPDATED = 8,
}

/** Room names and user ids on the wire and in NATS subjects. */
export const ROOM_OR_USER_PATTERN = /^[a-zA-Z0-9_-]+$/;

/** NATS subjects of a room; session ids are written in decimal. */
export const subjects = {
  roomWildcard: (room: string) => `room.${room}.*`,
  session: (room: string, sessionId: bigint) => `room.${room}.${sessionId.toString(10)}`,
  system: (room: string) => `room.${room}.system`,
  healthDiagnostics: (region: string, serverId: string) => `health.diagnostics.${region}.websocket.${serverId}`,
} as const;

const SESSION_ID_TAG = 1n << 63n; // top two bits `10`
const SESSION_ID_LOW_MASK = (1n << 62n) - 1n;

/**
 * A new random session id: 64 bits, top two bits `10`, so never 0 and always above 2^53
 * (which is why it is a BigInt everywhere).
 */
export function newSessionId(randomBytes: (n: number) => Uint8Array = defaultRandomBytes): bigint {
  const bytes = randomBytes(8);
  let value = 0n;
  for (const b of bytes) value = (value << 8n) | BigInt(b);
  return SESSION_ID_TAG | (value & SESSION_ID_LOW_MASK);
}

function defaultRandomBytes(n: number): Uint8Array {
  return globalThis.crypto.getRandomValues(new Uint8Array(n));
}
