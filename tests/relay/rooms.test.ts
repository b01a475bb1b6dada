// Room bookkeeping (pure): the subscription refcount; the metrics registry.
import { subjects } from '../../protocol';
import { Rooms } from '../../relay/rooms';
import { Registry } from '../../relay/metrics';

test('the first session of a room subscribes room.{room}.*; the room is unsubscribed when closed empty', () => {
  const log: string[] = [];
  const rooms = new Rooms<string>((subject) => {
    log.push(`sub ${subject}`);
    return { unsubscribe: () => log.push(`unsub ${subject}`) };
  });
  rooms.join('r1', '1', 'a');
  rooms.join('r1', '2', 'b');
  rooms.join('r2', '3', 'c');
  expect(log).toEqual([`sub ${subjects.roomWildcard('r1')}`, `sub ${subjects.roomWildcard('r2')}`]);
  expect(rooms.leave('r1', '1')).toBe(false);
  expect(rooms.close('r1')).toBe(false); // a session is still there
  expect(rooms.leave('r1', '2')).toBe(true);
  // Empty but still subscribed until the server closes it (it may wait for a pending departure).
  expect(log).toHaveLength(2);
  expect(rooms.close('r1')).toBe(true);
  expect(rooms.close('r1')).toBe(false); // twice is harmless
  expect(log).toEqual([`sub ${subjects.roomWildcard('r1')}`, `sub ${subjects.roomWildcard('r2')}`, `unsub ${subjects.roomWildcard('r1')}`]);
  expect(rooms.get('r1')).toBeUndefined();
  expect(rooms.size).toBe(1);
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
