// Timing and rate facts of the videocall protocol (../shared/PROTOCOL.md), stated once.

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
