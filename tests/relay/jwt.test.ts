// JWT verification of /lobby?token=, with tokens built here by node:crypto.
import crypto from 'node:crypto';
import { TOKEN_EXP_LEEWAY_S, TOKEN_ISSUER } from '../../protocol';
import { verifyLobbyToken } from '../../relay/jwt';
import { b64, makeToken as make } from './helpers';

const SECRET = 'test-secret-of-some-length';
const NOW = 1_800_000_000;

const makeToken = (claims: Record<string, unknown>, opts: { secret?: string; alg?: string; hmac?: string } = {}) => make(claims, { secret: SECRET, ...opts });

const good = { sub: 'alice', room: 'room-1', room_join: true, is_host: false, display_name: 'Alice A.', exp: NOW + 600, iss: TOKEN_ISSUER };

test('a valid token yields its claims', () => {
  expect(verifyLobbyToken(makeToken(good), SECRET, NOW)).toEqual({
    ok: true,
    claims: { userId: 'alice', room: 'room-1', roomJoin: true, isHost: false, displayName: 'Alice A.', observer: false, exp: NOW + 600 },
  });
});

test('no secret configured → 500; missing token → 400', () => {
  expect(verifyLobbyToken(makeToken(good), undefined, NOW)).toMatchObject({ ok: false, status: 500 });
  expect(verifyLobbyToken(undefined, SECRET, NOW)).toMatchObject({ ok: false, status: 400 });
  expect(verifyLobbyToken('', SECRET, NOW)).toMatchObject({ ok: false, status: 400 });
});

test('expired beyond the leeway → 401; within the leeway accepted', () => {
  expect(verifyLobbyToken(makeToken({ ...good, exp: NOW - TOKEN_EXP_LEEWAY_S - 1 }), SECRET, NOW)).toMatchObject({ ok: false, status: 401 });
  expect(verifyLobbyToken(makeToken({ ...good, exp: NOW - TOKEN_EXP_LEEWAY_S + 1 }), SECRET, NOW)).toMatchObject({ ok: true });
});

test.each([
  ['unsigned (alg none)', makeToken(good, { alg: 'none' })],
  ['alg none with a valid HS256 signature', makeToken(good, { alg: 'none', hmac: 'sha256' }).replace(/\.$/, '.' + crypto.createHmac('sha256', SECRET).update(makeToken(good, { alg: 'none' }).slice(0, -1)).digest('base64url'))],
  ['signed with another secret', makeToken(good, { secret: 'another-secret' })],
  ['another algorithm (HS512)', makeToken(good, { alg: 'HS512', hmac: 'sha512' })],
  ['HS512 signature under an HS256 header', makeToken(good, { hmac: 'sha512' })],
  ['wrong issuer', makeToken({ ...good, iss: 'someone-else' })],
  ['no issuer', makeToken({ ...good, iss: undefined })],
  ['payload altered after signing', (() => { const [h, , s] = makeToken(good).split('.'); return `${h}.${b64({ ...good, room: 'other' })}.${s}`; })()],
  ['not three parts', 'abc.def'],
  ['garbage', '!!!.@@@.###'],
  ['join not allowed', makeToken({ ...good, room_join: false })],
  ['missing sub', makeToken({ ...good, sub: undefined })],
  ['missing room', makeToken({ ...good, room: undefined })],
  ['missing display_name', makeToken({ ...good, display_name: undefined })],
  ['missing is_host', makeToken({ ...good, is_host: undefined })],
  ['missing exp', makeToken({ ...good, exp: undefined })],
  ['mistyped room_join', makeToken({ ...good, room_join: 'true' })],
  ['mistyped observer', makeToken({ ...good, observer: 'yes' })],
])('%s → 403', (_name, token) => {
  expect(verifyLobbyToken(token, SECRET, NOW)).toMatchObject({ ok: false, status: 403 });
});

test('an observer token is accepted without room_join', () => {
  const r = verifyLobbyToken(makeToken({ ...good, room_join: false, observer: true }), SECRET, NOW);
  expect(r).toMatchObject({ ok: true, claims: { observer: true } });
});

test('a room outside the pattern → 400', () => {
  expect(verifyLobbyToken(makeToken({ ...good, room: 'a.b' }), SECRET, NOW)).toMatchObject({ ok: false, status: 400 });
});

test('no failure reason contains the token or the secret', () => {
  const tokens = [makeToken(good, { secret: 'x' }), makeToken({ ...good, exp: 1 }), makeToken(good, { alg: 'none' })];
  for (const t of tokens) {
    const r = verifyLobbyToken(t, SECRET, NOW);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.reason).not.toContain(t.split('.')[1]);
      expect(r.reason).not.toContain(SECRET);
    }
  }
});
