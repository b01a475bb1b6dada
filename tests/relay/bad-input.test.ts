// Bad input against a real relay: each gets the protocol's status or close code, the relay stays
// up, and other sessions go on undisturbed.
import { MAX_FRAME_BYTES, MediaType, PacketType, TOKEN_EXP_LEEWAY_S, TOKEN_ISSUER, decodePacketWrapper, encodeMediaPacket, encodePacketWrapper, encodeRttProbe } from '../../protocol';
import { CloseCode } from '../../relay/session';
import { NatsServer, startNatsServer } from '../support/nats';
import { httpGet } from '../support/processes';
import { RelayProcess, startRelay } from '../support/relay';
import { TestClient, UpgradeRefused, closeAllClients, makeToken, sameBytes } from './helpers';

const SECRET = 'relay-test-secret';
let nats: NatsServer;
let relay: RelayProcess;
let bystander: TestClient;
let listener: TestClient;

const frame = (payload: number[]) =>
  encodePacketWrapper({ packetType: PacketType.MEDIA, userId: 'bystander', data: encodeMediaPacket({ mediaType: MediaType.AUDIO, data: Uint8Array.from(payload) }) });

beforeAll(async () => {
  nats = await startNatsServer();
  // With a secret the path lobby is off unless switched on; these tests use both endpoints.
  relay = await startRelay({ natsUrl: nats.url, env: { JWT_SECRET: SECRET, ALLOW_PATH_LOBBY: 'true' } });
  bystander = await TestClient.open(`${relay.url}/lobby/bystander/shared`);
  listener = await TestClient.open(`${relay.url}/lobby/listener/shared`);
});

afterAll(async () => {
  closeAllClients();
  await relay?.stop();
  await nats?.stop();
});

/** The bystander's frames still reach the listener: the relay and other sessions are unaffected. */
async function othersUnaffected(): Promise<void> {
  const f = frame([Math.floor(Math.random() * 256), Date.now() % 256]);
  const from = listener.frames.length;
  bystander.send(f);
  await listener.waitFor((x) => decodePacketWrapper(x).packetType === PacketType.MEDIA && sameBytes(decodePacketWrapper(x).data, decodePacketWrapper(f).data), { from, what: 'bystander frame' });
  expect((await httpGet(`${relay.httpUrl}/healthz`)).status).toBe(200);
}

async function openInRoom(user: string) {
  const c = await TestClient.open(`${relay.url}/lobby/${user}/shared`);
  await c.frame(1);
  return c;
}

test.each([
  ['malformed protobuf', Uint8Array.of(0x0a, 0x10, 0x01, 0x02)],
  ['a truncated frame', frame([1, 2, 3, 4, 5, 6]).subarray(0, 7)],
  ['an invalid wire type', Uint8Array.of(0x0f, 0x00)],
])('%s closes only that socket with 1007', async (_name, bad) => {
  const c = await openInRoom('sender');
  c.send(bad);
  const closed = await c.closed;
  expect(closed.code).toBe(CloseCode.INVALID_PAYLOAD);
  expect(closed.reason).toMatch(/malformed/);
  await othersUnaffected();
});

test('text frames are ignored: the session stays open and keeps working', async () => {
  const c = await openInRoom('texter');
  c.ws.send('hello', { binary: false });
  const probe = encodeRttProbe('texter', 5);
  c.send(probe);
  await c.waitFor((f) => sameBytes(f, probe), { what: 'echo after a text frame' });
  expect(c.isClosed).toBeUndefined();
  c.close();
});

test('a frame over MAX_FRAME_BYTES ends that session', async () => {
  const c = await openInRoom('big');
  c.send(new Uint8Array(MAX_FRAME_BYTES + 1));
  const closed = await c.closed;
  // uWebSockets.js refuses the frame from its header and drops the connection without reading
  // it (no close frame, so the client reports 1006).
  expect(closed.code).toBe(1006);
  await othersUnaffected();
});

test('a frame of exactly MAX_FRAME_BYTES is accepted', async () => {
  const c = await openInRoom('edge');
  const payload = new Uint8Array(MAX_FRAME_BYTES - 20);
  const big = encodePacketWrapper({ packetType: PacketType.MEDIA, data: payload });
  const padded = new Uint8Array(MAX_FRAME_BYTES);
  padded.set(big);
  // Pad with an unknown length-delimited field so the frame is exactly the limit and well-formed.
  const rest = MAX_FRAME_BYTES - big.length;
  const tagAndLen = [0xfa, 0x01, ...varint(rest - 2 - varint(rest).length)];
  padded.set(tagAndLen, big.length);
  const from = listener.frames.length;
  c.send(padded);
  await listener.waitFor((f) => f.length >= MAX_FRAME_BYTES, { from, what: 'the large frame', timeoutMs: 10_000 });
  expect(c.isClosed).toBeUndefined();
  c.close();
});

function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return out;
}

test.each([
  ['/lobby/onlyuser', 400],
  ['/lobby/a/b/c', 400],
  ['/lobby/bad.user/room', 400],
  ['/lobby/user/bad.room', 400],
  ['/lobby/user/bad%2Froom', 400],
  ['/lobby/user/%E0%A4%A', 400],
  ['/elsewhere', 404],
])('upgrade on %s answers %i', async (path, status) => {
  await expect(TestClient.open(`${relay.url}${path}`)).rejects.toEqual(new UpgradeRefused(status));
});

test('spaces in the path become underscores', async () => {
  const c = await TestClient.open(`${relay.url}/lobby/my%20user/my%20room`);
  const started = await c.frame(1);
  expect(Buffer.from(started).includes(Buffer.from('my_room'))).toBe(true);
  expect(Buffer.from(started).includes(Buffer.from('my_user'))).toBe(true);
  c.close();
});

describe('tokens', () => {
  const now = () => Math.floor(Date.now() / 1000);
  const claims = () => ({ sub: 'tok', room: 'shared', room_join: true, is_host: false, display_name: 'Tok', exp: now() + 600, iss: TOKEN_ISSUER });
  const open = (token?: string) => TestClient.open(`${relay.url}/lobby${token === undefined ? '' : `?token=${encodeURIComponent(token)}`}`);

  test('a valid token opens a session; an observer token too', async () => {
    const c = await open(makeToken(claims(), { secret: SECRET }));
    expect(decodePacketWrapper(await c.frame(0)).packetType).toBe(PacketType.SESSION_ASSIGNED);
    const o = await open(makeToken({ ...claims(), room_join: false, observer: true }, { secret: SECRET }));
    expect(decodePacketWrapper(await o.frame(0)).packetType).toBe(PacketType.SESSION_ASSIGNED);
    c.close();
    o.close();
  });

  test('an observer\'s media is dropped: it reaches nobody', async () => {
    const o = await open(makeToken({ ...claims(), sub: 'watcher', room_join: false, observer: true }, { secret: SECRET }));
    await o.frame(1);
    const secretMedia = encodePacketWrapper({ packetType: PacketType.MEDIA, userId: 'watcher', data: encodeMediaPacket({ mediaType: MediaType.VIDEO, data: Uint8Array.of(0xee, 0xee) }) });
    const from = listener.frames.length;
    o.send(secretMedia);
    await othersUnaffected(); // the bystander's frame, sent after, has arrived
    expect(listener.frames.slice(from).some((f) => Buffer.from(f).includes(Buffer.from([0xee, 0xee])))).toBe(false);
    const metrics = await httpGet(`${relay.httpUrl}/metrics`);
    expect(metrics.body).toMatch(/^relay_dropped_frames_total\{reason="observer_media"\} [1-9]/m);
    o.close();
  });

  test.each([
    ['missing', undefined, 400],
    ['expired', () => makeToken({ ...claims(), exp: now() - TOKEN_EXP_LEEWAY_S - 60 }, { secret: SECRET }), 401],
    ['unsigned (alg none)', () => makeToken(claims(), { secret: SECRET, alg: 'none' }), 403],
    ['signed with another secret', () => makeToken(claims(), { secret: 'other' }), 403],
    ['signed with another algorithm', () => makeToken(claims(), { secret: SECRET, alg: 'HS512', hmac: 'sha512' }), 403],
    ['wrong issuer', () => makeToken({ ...claims(), iss: 'nope' }, { secret: SECRET }), 403],
    ['not allowed to join', () => makeToken({ ...claims(), room_join: false }, { secret: SECRET }), 403],
    ['bad room', () => makeToken({ ...claims(), room: 'a b' }, { secret: SECRET }), 400],
    ['not valid yet (nbf)', () => makeToken({ ...claims(), nbf: now() + 3_600 }, { secret: SECRET }), 401],
  ])('%s → %i', async (_name, token, status) => {
    await expect(open(typeof token === 'function' ? token() : token)).rejects.toEqual(new UpgradeRefused(status));
  });

  test('tokens never appear in the relay log or metrics', async () => {
    const token = makeToken({ ...claims(), iss: 'nope' }, { secret: SECRET });
    await expect(open(token)).rejects.toBeInstanceOf(UpgradeRefused);
    const signature = token.split('.')[2];
    const metrics = await httpGet(`${relay.httpUrl}/metrics`);
    expect(metrics.body).not.toContain(signature);
    expect(relay.output()).not.toContain(signature);
    expect(relay.output()).not.toContain(token.split('.')[1]);
    await othersUnaffected();
  });
});

describe('switched off', () => {
  let plain: RelayProcess;
  beforeAll(async () => {
    plain = await startRelay({ natsUrl: nats.url, env: { ALLOW_PATH_LOBBY: 'false', JWT_SECRET: '' } });
  });
  afterAll(async () => {
    await plain?.stop();
  });

  test('without JWT_SECRET /lobby?token= answers 500; ALLOW_PATH_LOBBY=false answers 410', async () => {
    await expect(TestClient.open(`${plain.url}/lobby?token=x.y.z`)).rejects.toEqual(new UpgradeRefused(500));
    await expect(TestClient.open(`${plain.url}/lobby/u/r`)).rejects.toEqual(new UpgradeRefused(410));
  });

  test('with JWT_SECRET set and ALLOW_PATH_LOBBY unset, /lobby/{user}/{room} answers 410', async () => {
    const secured = await startRelay({ natsUrl: nats.url, env: { JWT_SECRET: SECRET } });
    try {
      await expect(TestClient.open(`${secured.url}/lobby/anyone/anyroom`)).rejects.toEqual(new UpgradeRefused(410));
    } finally {
      await secured.stop();
    }
  });

  test('beyond MAX_SESSIONS upgrades answer 503', async () => {
    const small = await startRelay({ natsUrl: nats.url, env: { MAX_SESSIONS: '1' } });
    try {
      const first = await TestClient.open(`${small.url}/lobby/one/full`);
      await expect(TestClient.open(`${small.url}/lobby/two/full`)).rejects.toEqual(new UpgradeRefused(503));
      first.close();
      await first.closed;
      const again = await TestClient.open(`${small.url}/lobby/two/full`);
      again.close();
    } finally {
      await small.stop();
    }
  });
});
