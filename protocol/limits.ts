// Timing and rate facts of the videocall protocol (../shared/PROTOCOL.md), stated once.
import { ROOM_OR_USER_PATTERN } from './packets';

/** A session that leaves is announced PARTICIPANT_LEFT this long after, unless its user rejoined. */
export const LEAVE_GRACE_MS = 2_000;
/** The server pings every session this often. */
export const PING_INTERVAL_MS = 5_000;
/** A session without any inbound frame for this long is ended. */
export const IDLE_TIMEOUT_MS = 30_000;
/** KEYFRAME_REQUEST frames a session may publish per second; more are dropped. */
export const KEYFRAME_REQUESTS_PER_SECOND = 2;
/** Drops towards one receiver within one second that trigger a CONGESTION notice to the sender. */
export const CONGESTION_DROPS_PER_SECOND = 5;
/** At most one CONGESTION notice per (sender, receiver) within this interval. */
export const CONGESTION_NOTICE_INTERVAL_MS = 1_000;

/** JWT claims of `/lobby?token=`. */
export const TOKEN_ISSUER = 'videocall-meeting-backend';
export const TOKEN_ALGORITHM = 'HS256';
/** Leeway on `exp`, seconds. */
export const TOKEN_EXP_LEEWAY_S = 60;

/**
 * Longest room name and user id, in characters (both match ROOM_OR_USER_PATTERN, so characters are
 * bytes), on both lobby endpoints and in the JWT `room` and `sub` claims. A room is a token of every
 * SUB/PUB control line the relay sends (`SUB room.{room}.* sid`); nats-server closes a connection
 * whose control line exceeds MAX_CONTROL_LINE_SIZE = 4096 bytes (nats-server server/const.go), which
 * would take the relay's one NATS link down for every room. 128 leaves that line far under the limit
 * and is more than any room or user id the meeting backend issues.
 */
export const MAX_NAME_LENGTH = 128;

/** `nbf` gets the same leeway as `exp`, seconds (clock skew between the backend and the relay). */
export const TOKEN_NBF_LEEWAY_S = TOKEN_EXP_LEEWAY_S;

/**
 * Why `value` cannot be a room name or user id (`what` names it in the message), or undefined when
 * it can: MAX_NAME_LENGTH always, ROOM_OR_USER_PATTERN unless `pattern` is false (a JWT `sub` is
 * signed by the backend and never a subject token, so only its length is ours to bound).
 */
export function nameProblem(what: 'room' | 'user id', value: string, pattern = true): string | undefined {
  if (value.length > MAX_NAME_LENGTH) return `${what} is longer than ${MAX_NAME_LENGTH} characters`;
  if (pattern && !ROOM_OR_USER_PATTERN.test(value)) return `${what} must match ${ROOM_OR_USER_PATTERN}`;
  return undefined;
}

/**
 * Stamping a session id onto a frame appends one tag byte and a varint of at most 10 bytes, so the
 * largest thing the relay publishes is this much bigger than the largest frame it accepts.
 */
export const SESSION_ID_STAMP_BYTES = 11;
