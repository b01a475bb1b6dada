// Room bookkeeping (pure): the subscription refcount, and members learned from the system subject.
import { MeetingEvent, subjects } from '../../protocol';
import { Room, Rooms } from '../../relay/rooms';
import { Registry } from '../../relay/metrics';
import { participantFrame, systemMeetingFrame } from '../../relay/session';

test('the first session of a room subscribes room.{room}.*, the last one out unsubscribes', () => {
  const log: string[] = [];
  const rooms = new Rooms<string>((subject) => {
    log.push(`sub ${subject}`);
    return { unsubscribe: () => log.push(`unsub ${subject}`) };
  });
  rooms.join('r1', '1', 'a');
  rooms.join('r1', '2', 'b');
  rooms.join('r2', '3', 'c');
  expect(log).toEqual([`sub ${subjects.roomWildcard('r1')}`, `sub ${subjects.roomWildcard('r2')}`]);
  rooms.leave('r1', '1');
  expect(rooms.get('r1')?.sessions.size).toBe(1);
  rooms.leave('r1', '2');
  rooms.leave('r1', '2'); // twice is harmless
  expect(log).toEqual([`sub ${subjects.roomWildcard('r1')}`, `sub ${subjects.roomWildcard('r2')}`, `unsub ${subjects.roomWildcard('r1')}`]);
  expect(rooms.get('r1')).toBeUndefined();
  expect(rooms.size).toBe(1);
});

test('members follow PARTICIPANT_JOINED / PARTICIPANT_LEFT on the system subject', () => {
  const room = new Room<string>('r', { unsubscribe: () => undefined });
  const bob = { id: (1n << 63n) + 1n, userId: 'bob', room: 'r', displayName: 'Bob' };
  const eve = { id: (1n << 63n) + 2n, userId: 'eve', room: 'r', displayName: 'Eve' };
  room.noteSystemFrame(participantFrame(MeetingEvent.PARTICIPANT_JOINED, bob));
  room.noteSystemFrame(participantFrame(MeetingEvent.PARTICIPANT_JOINED, eve));
  expect([...room.members.values()].map((m) => m.userId).sort()).toEqual(['bob', 'eve']);
  expect(room.members.get(bob.id.toString())).toEqual(bob);
  room.noteSystemFrame(participantFrame(MeetingEvent.PARTICIPANT_LEFT, bob));
  expect([...room.members.values()].map((m) => m.userId)).toEqual(['eve']);
  // A LEFT without a session id removes the user's entries.
  room.noteSystemFrame(systemMeetingFrame({ eventType: MeetingEvent.PARTICIPANT_LEFT, roomId: 'r', targetUserId: 'eve' }));
  expect(room.members.size).toBe(0);
  // Other events and unreadable frames change nothing.
  room.noteSystemFrame(systemMeetingFrame({ eventType: MeetingEvent.MEETING_STARTED, roomId: 'r', creatorId: 'x' }));
  room.noteSystemFrame(Uint8Array.of(0xff, 0xff));
  expect(room.members.size).toBe(0);
});

test('Prometheus exposition: HELP, TYPE, labelled samples, zero for untouched counters', () => {
  const r = new Registry();
  const c = r.counter<'reason'>('x_total', 'Things.');
  const g = r.gauge('y', 'Level.');
  r.counter('z_total', 'Never touched.');
  c.inc({ reason: 'a' });
  c.inc({ reason: 'a' }, 2);
  c.inc({ reason: 'b "q"' });
  g.set(7);
  expect(r.expose()).toBe([
    '# HELP x_total Things.', '# TYPE x_total counter', 'x_total{reason="a"} 3', 'x_total{reason="b \\"q\\""} 1',
    '# HELP y Level.', '# TYPE y gauge', 'y 7',
    '# HELP z_total Never touched.', '# TYPE z_total counter', 'z_total 0', '',
  ].join('\n'));
  expect(() => r.gauge('y', 'again')).toThrow(/twice/);
});
