// Connection admission, pure: whether an upgrade becomes a session, and with which identity, or
// which HTTP status refuses it. The server reads the request and the relay's state and asks here.
import { newSessionId, nameProblem } from '../protocol';
import { verifyLobbyToken } from './jwt';
import type { SessionIdentity } from './session';

export type Admission =
  | { ok: true; identity: SessionIdentity }
  | { ok: false; status: 400 | 401 | 403 | 410 | 500 | 503; reason: string };

export const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 410: 'Gone',
  500: 'Internal Server Error', 503: 'Service Unavailable',
};

/** What of the relay's state decides admission, whatever the endpoint. */
export interface RelayState {
  draining: boolean;
  /** False until the first NATS connection: no room can be subscribed before it. */
  natsStarted: boolean;
  openSessions: number;
  maxSessions: number;
}

/** The relay-wide refusals, checked before the endpoint's own (503 for all). */
export function admitRelayState(s: RelayState): Admission | undefined {
  if (s.draining) return { ok: false, status: 503, reason: 'relay is draining' };
  if (!s.natsStarted) return { ok: false, status: 503, reason: 'relay is not connected to NATS yet' };
  if (s.openSessions >= s.maxSessions) return { ok: false, status: 503, reason: 'relay is full' };
  return undefined;
}

/** `/lobby?token=JWT`: `token` as read from the query string ('' or undefined when absent). */
export function admitToken(token: string | undefined, jwtSecret: string | undefined, nowSeconds: number, newId = newSessionId): Admission {
  const result = verifyLobbyToken(token === '' ? undefined : token, jwtSecret, nowSeconds);
  if (!result.ok) return result;
  const c = result.claims;
  return { ok: true, identity: { id: newId(), userId: c.userId, room: c.room, displayName: c.displayName, observer: c.observer } };
}

/**
 * `/lobby/{user_id}/{room}` with both parts as they appear in the path (percent-encoded): 410 when
 * switched off, 400 for bad encoding or a name outside the pattern or over MAX_NAME_LENGTH. Spaces
 * become '_' (PROTOCOL.md), which is the lobby's normalisation of a user id.
 */
export function admitPath(rawUser: string, rawRoom: string, allowPathLobby: boolean, newId = newSessionId): Admission {
  if (!allowPathLobby) return { ok: false, status: 410, reason: '/lobby/{user_id}/{room} is switched off on this relay' };
  let user: string;
  let room: string;
  try {
    user = normaliseUserId(decodeURIComponent(rawUser));
    room = decodeURIComponent(rawRoom).replace(/ /g, '_');
  } catch {
    return { ok: false, status: 400, reason: 'path is not valid percent-encoding' };
  }
  const bad = nameProblem('user id', user) ?? nameProblem('room', room);
  if (bad !== undefined) return { ok: false, status: 400, reason: bad };
  return { ok: true, identity: { id: newId(), userId: user, room, displayName: user, observer: false } };
}

/** The path lobby's normalisation of a user id; frames' user ids are compared after the same one. */
export function normaliseUserId(userId: string): string {
  return userId.replace(/ /g, '_');
}
