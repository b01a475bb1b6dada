import { Registry } from '../../relay/metrics';

describe('metrics registry', () => {
  test('a series resolved once with labels() is the one inc() with the same labels bumps', () => {
    const registry = new Registry();
    const frames = registry.counter<'source'>('frames_total', 'Frames.');
    const fromClients = frames.labels({ source: 'client' });
    expect(registry.expose()).toContain('frames_total{source="client"} 0');
    fromClients.inc();
    fromClients.inc(4);
    frames.inc({ source: 'client' });
    frames.inc({ source: 'nats' }, 2);
    expect(frames.get({ source: 'client' })).toBe(6);
    expect(frames.get({ source: 'nats' })).toBe(2);
    expect(registry.expose()).toBe(
      '# HELP frames_total Frames.\n# TYPE frames_total counter\nframes_total{source="client"} 6\nframes_total{source="nats"} 2\n',
    );
  });

  test('label order does not make a second series', () => {
    const registry = new Registry();
    const m = registry.gauge<'a' | 'b'>('g', 'G.');
    m.set(1, { a: 'x', b: 'y' });
    m.labels({ b: 'y', a: 'x' }).inc();
    expect(m.get({ a: 'x', b: 'y' })).toBe(2);
  });

  test('a name registered twice is refused', () => {
    const registry = new Registry();
    registry.counter('c_total', 'C.');
    expect(() => registry.gauge('c_total', 'again')).toThrow('metric c_total registered twice');
  });
});
