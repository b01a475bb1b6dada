// Connection admission (pure): which status refuses an upgrade, and the identity of an admitted one.
import { MAX_NAME_LENGTH, TOKEN_ISSUER, TOKEN_NBF_LEEWAY_S } from '../../protocol';
import { admitPath, admitRelayState, admitToken } from '../../relay/admission';
import { parseConfig } from '../../relay/config';
import { makeToken } from './helpers';

const SECRET = 'admission-secret';
const NOW = 1_800_000_000;
const ID = () => 42n;
const claims = { sub: 'alice', room: 'room-1', room_join: true, is_host: false, display_name: 'Alice', exp: NOW + 600, iss: TOKEN_ISSUER };
const token = (over: Record<string, unknown> = {}) => makeToken({ ...claims, ...over }, { secret: SECRET });
const long = 'x'.repeat(MAX_NAME_LENGTH + 1);
const longest = 'x'.repeat(MAX_NAME_LENGTH);

test.each([
  ['a good path', 'bob', 'room', true, { ok: true, identity: { id: 42n, userId: 'bob', room: 'room', displayName: 'bob', observer: false } }],
  ['spaces become _', 'bob%20b', 'my%20room', true, { ok: true, identity: { userId: 'bob_b', room: 'my_room' } }],
  ['names of exactly the bound', longest, longest, true, { ok: true }],
  ['a room over the bound', 'bob', long, true, { ok: false, status: 400, reason: `room is longer than ${MAX_NAME_LENGTH} characters` }],
  ['a user id over the bound', long, 'room', true, { ok: false, status: 400, reason: `user id is longer than ${MAX_NAME_LENGTH} characters` }],
  ['a room outside the pattern', 'bob', 'a.b', true, { ok: false, status: 400 }],
  ['bad percent-encoding', 'bob', '%zz', true, { ok: false, status: 400 }],
  ['the path lobby switched off', 'bob', 'room', false, { ok: false, status: 410 }],
])('path lobby: %s', (_name, user, room, allowed, expected) => {
  expect(admitPath(user, room, allowed, ID)).toMatchObject(expected);
});

test.each([
  ['a good token', token(), { ok: true, identity: { id: 42n, userId: 'alice', room: 'room-1', displayName: 'Alice', observer: false } }],
  ['no token', '', { ok: false, status: 400 }],
  ['a room claim over the bound', token({ room: long }), { ok: false, status: 400, reason: `token claim room is longer than ${MAX_NAME_LENGTH} characters` }],
  ['a sub claim over the bound', token({ sub: long }), { ok: false, status: 400 }],
  ['a sub that is no subject token (an e-mail) is fine', token({ sub: 'alice@example.com' }), { ok: true }],
  ['nbf in the future beyond the leeway', token({ nbf: NOW + TOKEN_NBF_LEEWAY_S + 1 }), { ok: false, status: 401, reason: 'token not valid yet (nbf)' }],
  ['nbf within the leeway', token({ nbf: NOW + TOKEN_NBF_LEEWAY_S - 1 }), { ok: true }],
  ['nbf in the past', token({ nbf: NOW - 10 }), { ok: true }],
  ['nbf not a number', token({ nbf: 'soon' }), { ok: false, status: 403 }],
])('token lobby: %s', (_name, t, expected) => {
  expect(admitToken(t, SECRET, NOW, ID)).toMatchObject(expected);
});

test.each([
  ['draining', { draining: true, natsStarted: true, openSessions: 0, maxSessions: 1 }, 'relay is draining'],
  ['before the first NATS connection', { draining: false, natsStarted: false, openSessions: 0, maxSessions: 1 }, 'relay is not connected to NATS yet'],
  ['full', { draining: false, natsStarted: true, openSessions: 1, maxSessions: 1 }, 'relay is full'],
])('relay state refuses with 503 when %s', (_name, state, reason) => {
  expect(admitRelayState(state)).toEqual({ ok: false, status: 503, reason });
});

test('relay state admits otherwise', () => {
  expect(admitRelayState({ draining: false, natsStarted: true, openSessions: 0, maxSessions: 1 })).toBeUndefined();
});

test.each([
  [{}, true],
  [{ JWT_SECRET: 's' }, false],
  [{ JWT_SECRET: 's', ALLOW_PATH_LOBBY: 'true' }, true],
  [{ ALLOW_PATH_LOBBY: 'false' }, false],
])('ALLOW_PATH_LOBBY rule: %j → %s', (env, allowed) => {
  expect(parseConfig(env).allowPathLobby).toBe(allowed);
});
