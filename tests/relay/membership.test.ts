// Departure and presence rules (pure, injected clock): who is told that a user left, and when.
import { LEAVE_GRACE_MS } from '../../protocol';
import { Member, Membership, MembershipAction, PRESENCE_DEAD_AFTER_MS, parsePresence } from '../../relay/membership';
import type { SessionIdentity } from '../../relay/session';

const GRACE = LEAVE_GRACE_MS;
const session = (n: number, userId: string, room = 'r'): SessionIdentity => ({ id: (1n << 63n) + BigInt(n), userId, room, displayName: userId, observer: false });
const remote = (n: number, userId: string, room = 'r'): Member => ({ id: (1n << 62n) + BigInt(n), userId, room, displayName: userId });
const entry = (m: Member): [string, string, string] => [m.id.toString(), m.userId, m.displayName];
const left = (actions: MembershipAction[]) => actions.map((a) => `${a.kind} ${a.member.userId}:${a.member.id}`);

/** Opens and activates a local session (a member from then on). */
function active(m: Membership, s: SessionIdentity): SessionIdentity {
  m.opened(s);
  m.activated(s);
  return s;
}

describe('a local member closes', () => {
  type Case = [name: string, setup: (m: Membership) => void, draining: boolean, atClose: string[], atGrace: string[]];
  const a1 = session(1, 'alice');
  const cases: Case[] = [
    ['alone: PARTICIPANT_LEFT after the grace period', () => undefined, false, [], [`announce-left alice:${a1.id}`]],
    ['while draining: at once', () => undefined, true, [`announce-left alice:${a1.id}`], []],
    ['with an active sibling here: never', (m) => active(m, session(2, 'alice')), false, [], []],
    ['with an active sibling here, draining: never', (m) => active(m, session(2, 'alice')), true, [], []],
    ['with a live session on another relay: never', (m) => m.remoteJoined(remote(1, 'alice')), false, [], []],
    ['with a live session on another relay, draining: never', (m) => m.remoteJoined(remote(1, 'alice')), true, [], []],
    ['with a Testing sibling here: it inherits the departure', (m) => m.opened(session(3, 'alice')), false, [], []],
    ['another user stays: alice is announced', (m) => active(m, session(4, 'bob')), false, [], [`announce-left alice:${a1.id}`]],
  ];
  test.each(cases)('%s', (_name, setup, draining, atClose, atGrace) => {
    const m = new Membership(GRACE, 0);
    active(m, a1);
    setup(m);
    expect(left(m.closed(a1, draining, 1_000))).toEqual(atClose);
    expect(m.tick(1_000 + GRACE - 1, true)).toEqual([]);
    expect(left(m.tick(1_000 + GRACE, true))).toEqual(atGrace);
  });
});

test('a rejoin within the grace period takes the departure over; if it never activates, it is due again when it closes', () => {
  const m = new Membership(GRACE, 0);
  const a1 = active(m, session(1, 'alice'));
  m.closed(a1, false, 0);
  const a2 = session(2, 'alice');
  expect(m.opened(a2)).toEqual({ rejoin: true });
  expect(m.tick(GRACE, true)).toEqual([]);
  expect(m.closed(a2, false, 5_000)).toEqual([]);
  expect(left(m.tick(5_000 + GRACE, true))).toEqual([`announce-left alice:${a1.id}`]);
});

test('a departure is re-checked when due: the user came back through another relay meanwhile', () => {
  const m = new Membership(GRACE, 0);
  const a1 = active(m, session(1, 'alice'));
  m.closed(a1, false, 0);
  // The room has no local session now, but is kept (and subscribed) while the departure is pending.
  expect(m.hasPending('r')).toBe(true);
  m.remoteJoined(remote(7, 'alice'));
  expect(m.tick(GRACE, true)).toEqual([]);
  expect(m.pendingCount).toBe(0);
  expect(m.hasPending('r')).toBe(false);
});

test.each([
  ['no other session: forwarded', [] as Member[], true],
  ['the same user live on another relay: held back', [remote(2, 'alice')], false],
  ['another user only: forwarded', [remote(3, 'bob')], true],
])('PARTICIPANT_LEFT from NATS, %s', (_name, others, forwarded) => {
  const m = new Membership(GRACE, 0);
  active(m, session(9, 'zoe'));
  m.remoteJoined(remote(1, 'alice'));
  for (const o of others) m.remoteJoined(o);
  expect(m.remoteLeft(remote(1, 'alice'))).toBe(forwarded);
  expect(m.members('r').some((x) => x.id === remote(1, 'alice').id)).toBe(false);
});

test('PARTICIPANT_LEFT from NATS is held back while the user has a local active session', () => {
  const m = new Membership(GRACE, 0);
  active(m, session(1, 'alice'));
  m.remoteJoined(remote(1, 'alice'));
  expect(m.remoteLeft(remote(1, 'alice'))).toBe(false);
  expect(m.members('r').map((x) => x.userId)).toEqual(['alice']);
});

describe('presence: members of a relay whose heartbeat stops', () => {
  const setup = () => {
    const m = new Membership(GRACE, 0);
    active(m, session(9, 'zoe'));
    const bob = remote(1, 'bob');
    m.remoteJoined(bob);
    expect(m.presence({ server: 'relay-b', rooms: { r: [entry(bob)] } }, 0)).toEqual([]);
    return { m, bob };
  };

  test('are told left locally once, after PRESENCE_DEAD_AFTER_MS, and forgotten', () => {
    const { m, bob } = setup();
    expect(m.tick(PRESENCE_DEAD_AFTER_MS - 1, true)).toEqual([]);
    expect(left(m.tick(PRESENCE_DEAD_AFTER_MS, true))).toEqual([`tell-local-left bob:${bob.id}`]);
    expect(m.tick(PRESENCE_DEAD_AFTER_MS * 3, true)).toEqual([]);
    expect(m.members('r').map((x) => x.userId)).toEqual(['zoe']);
  });

  test('are kept while the heartbeat goes on', () => {
    const { m, bob } = setup();
    expect(m.presence({ server: 'relay-b', rooms: { r: [entry(bob)] } }, PRESENCE_DEAD_AFTER_MS - 10)).toEqual([]);
    expect(m.tick(PRESENCE_DEAD_AFTER_MS + 10, true)).toEqual([]);
  });

  test('are not judged while our own NATS link is down, nor until it has been back a full window', () => {
    const { m } = setup();
    expect(m.tick(PRESENCE_DEAD_AFTER_MS * 2, false)).toEqual([]);
    expect(m.tick(PRESENCE_DEAD_AFTER_MS * 3 - 1, true)).toEqual([]);
    expect(m.tick(PRESENCE_DEAD_AFTER_MS * 3, true)).toHaveLength(1);
  });

  test('are not announced when the same user is live elsewhere', () => {
    const { m } = setup();
    m.remoteJoined(remote(2, 'bob')); // no presence for it: another server's session
    expect(m.tick(PRESENCE_DEAD_AFTER_MS, true)).toEqual([]);
  });

  test('members learned without presence (the existing servers) never expire', () => {
    const m = new Membership(GRACE, 0);
    active(m, session(9, 'zoe'));
    m.remoteJoined(remote(5, 'carol'));
    expect(m.tick(PRESENCE_DEAD_AFTER_MS * 10, true)).toEqual([]);
  });
});

test('own presence lists local members and pending departures, not Testing sessions', () => {
  const m = new Membership(GRACE, 0);
  const a1 = active(m, session(1, 'alice'));
  const b1 = active(m, session(2, 'bob', 'other'));
  m.opened(session(3, 'carol'));
  m.closed(b1, false, 0);
  expect(m.ownPresence('me')).toEqual({ server: 'me', rooms: { r: [entry(a1)], other: [entry(b1)] } });
});

test('own presence keeps listing a departure a Testing session took over, until that session activates', () => {
  const m = new Membership(GRACE, 0);
  const a1 = active(m, session(1, 'alice'));
  m.closed(a1, false, 0);
  const a2 = session(2, 'alice');
  m.opened(a2);
  expect(m.ownPresence('me').rooms).toEqual({ r: [entry(a1)] });
  m.activated(a2);
  expect(m.ownPresence('me').rooms).toEqual({ r: [entry(a2)] });
});

describe('presence heals what the system subject missed', () => {
  const setup = () => {
    const m = new Membership(GRACE, 0);
    active(m, session(9, 'zoe'));
    return m;
  };

  test('a listed member we never heard join is told joined locally, once', () => {
    const m = setup();
    const carol = remote(3, 'carol');
    expect(left(m.presence({ server: 'relay-c', rooms: { r: [entry(carol)], elsewhere: [entry(remote(4, 'x', 'elsewhere'))] } }, 0))).toEqual([`tell-local-joined carol:${carol.id}`]);
    expect(m.presence({ server: 'relay-c', rooms: { r: [entry(carol)] } }, 100)).toEqual([]);
    expect(m.members('r').map((x) => x.userId).sort()).toEqual(['carol', 'zoe']);
  });

  test('a member its relay stops listing without a LEFT is told left, unless the user is live', () => {
    const m = setup();
    const carol = remote(3, 'carol');
    const dan1 = remote(4, 'dan');
    m.remoteJoined(carol);
    m.remoteJoined(dan1);
    m.presence({ server: 'relay-c', rooms: { r: [entry(carol), entry(dan1)] } }, 0);
    const dan2 = remote(5, 'dan');
    m.remoteJoined(dan2); // dan came back (through relay-c or any other)
    expect(left(m.presence({ server: 'relay-c', rooms: { r: [entry(dan2)] } }, 100))).toEqual([`tell-local-left carol:${carol.id}`]);
    expect(m.members('r').map((x) => x.userId).sort()).toEqual(['dan', 'zoe']);
  });

  test('a relay judged dead and heard again brings its members back', () => {
    const m = setup();
    const carol = remote(3, 'carol');
    m.remoteJoined(carol);
    m.presence({ server: 'relay-c', rooms: { r: [entry(carol)] } }, 0);
    expect(m.tick(PRESENCE_DEAD_AFTER_MS, true)).toHaveLength(1);
    expect(left(m.presence({ server: 'relay-c', rooms: { r: [entry(carol)] } }, PRESENCE_DEAD_AFTER_MS + 100))).toEqual([`tell-local-joined carol:${carol.id}`]);
  });

  test.each([
    ['not an object', 'x'],
    ['no server', { rooms: {} }],
    ['rooms not an object', { server: 's', rooms: 3 }],
    ['an entry of the wrong shape', { server: 's', rooms: { r: [['1', 'u']] } }],
    ['a session id that is not decimal', { server: 's', rooms: { r: [['1e3', 'u', 'U']] } }],
  ])('a malformed presence body (%s) is ignored', (_name, body) => {
    expect(parsePresence(body)).toBeUndefined();
  });
});

test('drain announces every pending departure whose user is not live elsewhere', () => {
  const m = new Membership(GRACE, 0);
  active(m, session(9, 'zoe'));
  const a1 = active(m, session(1, 'alice'));
  const b1 = active(m, session(2, 'bob'));
  m.closed(a1, false, 0);
  m.closed(b1, false, 0);
  m.remoteJoined(remote(3, 'bob'));
  expect(left(m.drainPending())).toEqual([`announce-left alice:${a1.id}`]);
  expect(m.pendingCount).toBe(0);
});
