// The queue that holds client frames from their read to the end of the poll phase (relay/fanout-queue.ts):
// order kept, nothing lost, one scheduled fan-out per batch, the bound enforced.
import { FANOUT_QUEUE_MAX_BYTES, FanOutQueue, turnEndScheduler } from '../../relay/fanout-queue';

/** A scheduler the test runs by hand: what the relay's setImmediate would run at the end of the poll phase. */
function manualScheduler() {
  const runs: Array<() => void> = [];
  return {
    schedule: (run: () => void) => runs.push(run),
    get scheduled() {
      return runs.length;
    },
    runAll() {
      for (const run of runs.splice(0)) run();
    },
  };
}

test('frames wait for the scheduled run and then go out in the order they were queued', () => {
  const s = manualScheduler();
  const out: string[] = [];
  const q = new FanOutQueue<string>((f) => out.push(f), s.schedule);
  for (const f of ['a1', 'b1', 'a2', 'a3', 'b2']) q.push(f, 100);
  expect(out).toEqual([]); // held while the read is being handled
  expect(q.pendingItems).toBe(5);
  expect(q.pendingBytes).toBe(500);
  expect(s.scheduled).toBe(1); // one run per batch, not one per frame
  s.runAll();
  expect(out).toEqual(['a1', 'b1', 'a2', 'a3', 'b2']);
  expect(q.pendingItems).toBe(0);
  expect(q.pendingBytes).toBe(0);
});

test('every batch schedules its own run, so no frame waits for a later one', () => {
  const s = manualScheduler();
  const out: number[] = [];
  const q = new FanOutQueue<number>((f) => out.push(f), s.schedule);
  q.push(1, 10);
  s.runAll();
  q.push(2, 10);
  q.push(3, 10);
  expect(s.scheduled).toBe(1);
  s.runAll();
  expect(out).toEqual([1, 2, 3]);
  s.runAll();
  expect(out).toEqual([1, 2, 3]);
});

test('over the bound, everything queued goes out at once, in order, and the bytes held stay bounded', () => {
  const s = manualScheduler();
  const out: number[] = [];
  const q = new FanOutQueue<number>((f) => out.push(f), s.schedule, 1000);
  let maxHeld = 0;
  for (let i = 0; i < 25; i++) {
    q.push(i, 300);
    maxHeld = Math.max(maxHeld, q.pendingBytes);
  }
  expect(maxHeld).toBeLessThanOrEqual(1000);
  // pushes 0–3 (1200 bytes) went out together, then 4–7, …: the rest waits for the run
  expect(out).toEqual(Array.from({ length: 24 }, (_, i) => i));
  s.runAll();
  expect(out).toEqual(Array.from({ length: 25 }, (_, i) => i));
});

test('a flush (the relay draining) sends what is queued, and the run scheduled before finds nothing left', () => {
  const s = manualScheduler();
  const out: string[] = [];
  const q = new FanOutQueue<string>((f) => out.push(f), s.schedule);
  q.push('x', 1);
  q.push('y', 1);
  q.flush();
  expect(out).toEqual(['x', 'y']);
  s.runAll();
  expect(out).toEqual(['x', 'y']);
});

test('frames queued while a batch is going out go out in the same run, after it', () => {
  const s = manualScheduler();
  const out: string[] = [];
  const q: FanOutQueue<string> = new FanOutQueue<string>((f) => {
    out.push(f);
    if (f === 'first') q.push('queued-by-first', 1);
  }, s.schedule);
  q.push('first', 1);
  q.push('second', 1);
  s.runAll();
  expect(out).toEqual(['first', 'second', 'queued-by-first']);
  expect(q.pendingItems).toBe(0);
});

test('the default bound is a few reads, far below the relay\'s buffering budget', () => {
  // uSockets reads at most 512 KiB per socket per poll (LIBUS_RECV_BUFFER_LENGTH).
  expect(FANOUT_QUEUE_MAX_BYTES).toBeGreaterThanOrEqual(512 * 1024);
  expect(FANOUT_QUEUE_MAX_BYTES).toBeLessThanOrEqual(4 * 1024 * 1024);
});

describe('turnEndScheduler: one hop a turn for everything waiting for the end of the poll phase', () => {
  test('runs scheduled in one turn share one immediate and run in the order scheduled', () => {
    const immediates: Array<() => void> = [];
    const schedule = turnEndScheduler((run) => immediates.push(run));
    const order: string[] = [];
    schedule(() => order.push('nats batch'));
    schedule(() => order.push('fan-out'));
    expect(immediates).toHaveLength(1);
    expect(order).toEqual([]);
    immediates[0]();
    expect(order).toEqual(['nats batch', 'fan-out']);
  });

  test('a run scheduled while the batch runs goes to the next immediate, not this one', () => {
    const immediates: Array<() => void> = [];
    const schedule = turnEndScheduler((run) => immediates.push(run));
    const order: string[] = [];
    schedule(() => {
      order.push('first');
      schedule(() => order.push('later'));
    });
    immediates[0]();
    expect(order).toEqual(['first']);
    expect(immediates).toHaveLength(2);
    immediates[1]();
    expect(order).toEqual(['first', 'later']);
  });
});
