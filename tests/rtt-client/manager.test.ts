// The ConnectionManager state machine, driven by a manual clock and fake transports.
import { decodeMediaPacket, decodePacketWrapper, encodePacketWrapper, encodeRttProbe, MediaType, PacketType, encodeMediaPacket, readRttProbeTimestamp, utf8 } from '../../protocol';
import { ConnectionManager, type ConnectionManagerOptions, type Diagnostics, type ElectedEvent, type LostEvent, type SwitchedEvent } from '../../rtt-client';
import { cycle, FakeClock, FakeNetwork, sessionAssigned, steady, type Behaviour } from './fakes';

const USER = 'alice';

interface Harness {
  clock: FakeClock;
  net: FakeNetwork;
  manager: ConnectionManager;
  elected: ElectedEvent[];
  switched: SwitchedEvent[];
  lost: LostEvent[];
  messages: Uint8Array[];
  diagnostics: Diagnostics[];
}

const live: ConnectionManager[] = [];
afterEach(() => {
  for (const m of live.splice(0)) m.close();
});

function harness(
  servers: Array<[string, Behaviour] | [string, Behaviour, 'websocket' | 'webtransport']>,
  options: Partial<ConnectionManagerOptions> = {},
  prepare: (net: FakeNetwork) => void = () => undefined,
): Harness {
  const clock = new FakeClock();
  const net = new FakeNetwork(clock);
  for (const [region, behaviour, transport] of servers) net.add(region, behaviour, transport);
  prepare(net);
  const manager = new ConnectionManager({
    servers: net.entries,
    userId: USER,
    clock,
    transportFactory: net.factory,
    random: () => 0.5,
    onlineEvents: null,
    ...options,
  });
  live.push(manager);
  const h: Harness = { clock, net, manager, elected: [], switched: [], lost: [], messages: [], diagnostics: [] };
  manager.on('elected', (e) => h.elected.push(e));
  manager.on('switched', (e) => h.switched.push(e));
  manager.on('lost', (e) => h.lost.push(e));
  manager.on('message', (m) => h.messages.push(m));
  manager.on('diagnostics', (d) => h.diagnostics.push(d));
  return h;
}

// a ws:// connection opens after two round trips (TCP, then the HTTP upgrade): its handshake sample is the RTT
const fast = (rtt: number, extra: Behaviour = {}): Behaviour => ({ connectMs: 2 * rtt, rtt: steady(rtt), ...extra });
const frame = (text: string) => encodePacketWrapper({ packetType: PacketType.MEDIA, userId: USER, data: encodeMediaPacket({ mediaType: MediaType.AUDIO, data: utf8.encode(text) }) });
const textOf = (f: Uint8Array) => utf8.decode(decodeMediaPacket(decodePacketWrapper(f).data).data);

function elect(h: Harness, limitMs = 5000): ElectedEvent {
  h.manager.start();
  h.clock.advanceUntil(() => h.elected.length > 0, limitMs);
  expect(h.elected).toHaveLength(1);
  return h.elected[0];
}

describe('election scenarios', () => {
  test.each([
    { name: 'clear winner', servers: { a: fast(20), b: fast(60), c: fast(100) }, winner: 'a', standby: 'b', why: 'clear', within: 1000 },
    { name: 'clear winner last in the list', servers: { a: fast(100), b: fast(60), c: fast(20) }, winner: 'c', standby: 'b', why: 'clear', within: 1000 },
    { name: 'steady paths 1 ms apart: steady samples tell them apart early', servers: { a: fast(31), b: fast(30) }, winner: 'b', standby: 'a', why: 'clear', within: 1000 },
    {
      name: 'a near-tie under jitter is not decided before the 1 s checkpoint; the likelier fastest wins',
      servers: { a: { connectMs: 62, rtt: cycle([35, 26, 38, 29, 32]) }, b: { connectMs: 60, rtt: cycle([28, 34, 31, 25, 37]) } },
      winner: 'b', standby: 'a', why: 'clear', notBefore: 1000, within: 2000,
    },
    { name: 'exact tie: list order', servers: { a: fast(30), b: fast(30) }, winner: 'a', standby: 'b', why: 'timeout', within: 3100 },
    {
      // The election ranks floors: RTT is never below a path's floor, so a's 30 ms replies prove its
      // floor, and its slow replies are read as queueing above it (a known limit, README: the client
      // section).
      name: 'heavy queueing does not hide the lower floor',
      servers: { a: { connectMs: 60, rtt: cycle([30, 120, 115]) }, b: fast(45) },
      winner: 'a', standby: 'b', why: 'clear', within: 2000,
    },
    // a reachable runner-up without a sample is kept open, to be measured as a standby
    { name: 'one candidate silent does not delay a clear decision', servers: { a: fast(20), b: { connectMs: 100 } }, winner: 'a', standby: undefined, seeking: 'b', why: 'clear', within: 1000 },
    { name: 'one candidate never connects', servers: { a: { connectMs: undefined }, b: fast(40) }, winner: 'b', standby: undefined, seeking: 'a', why: 'clear', within: 1000 },
    { name: 'one candidate dies mid-election', servers: { a: fast(10, { closeAfterMs: 15 }), b: fast(50), c: fast(90) }, winner: 'b', standby: 'c', why: 'clear', within: 1000 },
    {
      name: 'flapping: a server whose connections drop at once never wins',
      servers: { a: fast(10, { closeAfterMs: 15 }), b: fast(50) },
      winner: 'b', standby: undefined, why: 'clear', within: 1000,
    },
  ] as Array<{ name: string; servers: Record<string, Behaviour>; winner: string; standby?: string; seeking?: string; why: string; notBefore?: number; within: number }>)('$name', ({ servers, winner, standby, seeking, why, notBefore, within }) => {
    const h = harness(Object.entries(servers));
    const e = elect(h);
    expect(e.server.region).toBe(winner);
    expect(e.standby?.region).toBe(standby);
    expect(e.why).toBe(why);
    expect(e.elapsedMs).toBeLessThanOrEqual(within);
    expect(e.elapsedMs).toBeGreaterThanOrEqual(notBefore ?? 0);
    expect(h.manager.activeServer?.region).toBe(winner);
    // losers are closed; the winner, the standby and a runner-up still to be measured are not
    for (const s of h.net.servers) {
      const keep = s.entry.region === winner || s.entry.region === standby || s.entry.region === seeking;
      expect({ region: s.entry.region, open: s.live !== undefined }).toEqual({ region: s.entry.region, open: keep });
    }
  });

  test('the 1 s checkpoint is a look of its own: a likely leader wins at exactly 1 s, with no sample arriving then', () => {
    // wide jitter, b about 10 % slower: likely, not certain, by 1 s
    const h = harness([['a', { connectMs: 200, rtt: cycle([85, 118, 96, 110]) }], ['b', { connectMs: 220, rtt: cycle([94, 131, 107, 122]) }]]);
    const e = elect(h);
    expect(e).toMatchObject({ server: { region: 'a' }, why: 'clear', provisional: true, elapsedMs: 1000 });
  });

  test('never decides on a single sample: a handshake alone is not enough', () => {
    const h = harness([['a', { connectMs: 10 }], ['b', fast(200)]]);
    h.manager.start();
    h.clock.advance(3000);
    expect(h.elected[0]?.server.region).toBe('b');
  });

  test('a decision within 1 s on healthy links, with at least 3 samples of the winner', () => {
    const h = harness([['a', fast(40)], ['b', fast(120)], ['c', fast(250)]]);
    const e = elect(h);
    expect(e.elapsedMs).toBeLessThan(1000);
    const d = h.manager.diagnostics().candidates.find((c) => c.region === 'a')!;
    expect(d.samples.length).toBeGreaterThanOrEqual(3);
    expect(e.rttMs).toBe(40);
  });

  test('each sample is taken when its reply arrives, not batched', () => {
    const h = harness([['a', fast(30)], ['b', fast(90)]]);
    h.manager.start();
    h.clock.advance(60); // open: the handshake is the first sample
    expect(h.manager.diagnostics().candidates[0].samples).toEqual([30]);
    h.clock.advance(29);
    expect(h.manager.diagnostics().candidates[0].samples).toEqual([30]);
    h.clock.advance(1);
    expect(h.manager.diagnostics().candidates[0].samples).toEqual([30, 30]);
  });

  test('replies that are not to our own probes are ignored', () => {
    const h = harness([['a', { connectMs: 10 }], ['b', fast(80)]]);
    h.manager.start();
    h.clock.advance(10);
    const conn = h.net.servers[0].live!;
    const ours = conn.probes[0];
    const ts = readRttProbeTimestamp(ours)!;
    conn.deliver(encodeRttProbe('mallory', ts)); // our timestamp, someone else's id
    conn.deliver(encodeRttProbe(USER, ts + 12345)); // our id, a timestamp we never sent
    h.clock.advance(5);
    expect(h.manager.diagnostics().candidates[0].samples).toEqual([5]); // the handshake only
    conn.deliver(ours); // the real echo
    expect(h.manager.diagnostics().candidates[0].samples).toEqual([5, 5]);
    conn.deliver(ours); // a duplicate echo is not a second sample
    expect(h.manager.diagnostics().candidates[0].samples).toEqual([5, 5]);
    expect(h.messages).toHaveLength(0); // probe echoes never reach 'message'
  });

  test('transport preference breaks only near-ties', () => {
    const near = harness([['ws', fast(30)], ['wt', fast(36), 'webtransport']], { election: { preferTransport: 'webtransport', preferenceMarginMs: 10 } });
    expect(elect(near).server.region).toBe('wt');
    const far = harness([['ws', fast(20)], ['wt', fast(60), 'webtransport']], { election: { preferTransport: 'webtransport', preferenceMarginMs: 10 } });
    expect(elect(far).server.region).toBe('ws');
  });
});

describe('all unreachable', () => {
  test('emits lost, retries with growing jittered backoff, forever, and elects once a server is back', () => {
    const h = harness([['a', { connectMs: undefined }], ['b', { connectMs: 5 }]]);
    h.manager.start();
    h.clock.advance(2000); // the election timeout
    expect(h.lost).toEqual([{ attempt: 1, retryInMs: 375 }]); // base 500 × (0.5 + 0.5 × 0.5)
    expect(h.manager.currentState).toBe('lost');
    for (const s of h.net.servers) expect(s.live).toBeUndefined(); // nothing left open while waiting
    h.clock.advanceUntil(() => h.lost.length >= 4, 60000);
    expect(h.lost.map((l) => l.retryInMs)).toEqual([375, 750, 1500, 3000]);
    h.clock.advanceUntil(() => h.lost.length >= 10, 600000);
    expect(h.lost[9].retryInMs).toBe(22500); // capped at 30 s, then jittered
    expect(h.net.servers[0].connections.length).toBeGreaterThanOrEqual(10);
    h.net.servers[1].behaviour = fast(25);
    h.clock.advanceUntil(() => h.elected.length > 0, 60000);
    expect(h.elected[0].server.region).toBe('b');
  });

  test('everyone dying mid-election ends the election at once', () => {
    // each dies before its first probe is answered: no candidate can ever win
    const h = harness([['a', fast(10, { closeAfterMs: 5 })], ['b', fast(20, { closeAfterMs: 5 })]]);
    h.manager.start();
    h.clock.advance(100);
    expect(h.lost).toHaveLength(1);
  });

  test('the browser coming back online retries at once', () => {
    let online: (() => void) | undefined;
    const source = { addEventListener: (_: 'online', fn: () => void) => { online = fn; }, removeEventListener: () => { online = undefined; } };
    const h = harness([['a', { connectMs: undefined }]], { onlineEvents: source, reconnectBaseMs: 60000, reconnectMaxMs: 60000 });
    h.manager.start();
    h.clock.advance(3000);
    expect(h.lost).toHaveLength(1);
    h.net.servers[0].behaviour = fast(20);
    online!();
    h.clock.advance(1000);
    expect(h.elected).toHaveLength(1);
    h.manager.close();
    expect(online).toBeUndefined();
  });
});

describe('after the election', () => {
  test('the winner\'s buffered session frames are replayed; media received before activation is not', () => {
    const greeting = [sessionAssigned(0x8000_0000_0000_0001n), frame('stale media')];
    const h = harness([['a', fast(20, { greeting })], ['b', fast(60, { greeting })]]);
    elect(h);
    expect(h.messages.map((m) => decodePacketWrapper(m).packetType)).toEqual([PacketType.SESSION_ASSIGNED]);
    h.net.servers[0].live!.deliver(frame('live'));
    h.net.servers[1].live!.deliver(frame('from the standby'));
    expect(h.messages.slice(1).map(textOf)).toEqual(['live']);
  });

  test('sends before the election wait and go to the winner; sends after go straight to it', () => {
    const h = harness([['a', fast(20)], ['b', fast(60)]]);
    h.manager.start();
    h.manager.send(frame('early'));
    h.clock.advanceUntil(() => h.elected.length > 0, 3000);
    h.manager.send(frame('later'));
    expect(h.net.servers[0].live!.sent.map(textOf)).toEqual(['early', 'later']);
    expect(h.net.servers[1].live!.sent).toEqual([]); // the standby stays in Testing
  });

  test('the active connection is probed at 1 Hz, the standby slowly', () => {
    const h = harness([['a', fast(20)], ['b', fast(60)]]);
    elect(h);
    h.clock.advanceUntil(() => h.manager.standbyServer !== undefined, 5000);
    const a = h.net.servers[0].live!.probes.length;
    const b = h.net.servers[1].live!.probes.length;
    h.clock.advance(10000);
    expect(h.net.servers[0].live!.probes.length - a).toBe(10);
    expect(h.net.servers[1].live!.probes.length - b).toBe(5);
  });

  test('diagnostics at 1 Hz with every candidate, and no token or query string', () => {
    const h = harness([['a', fast(20)], ['b', fast(60)], ['c', { connectMs: undefined }]], { path: '/lobby?token=SECRET.JWT.VALUE' }, (net) => {
      net.servers[0].entry.url += '/?region=x&token=ALSO-SECRET';
    });
    elect(h);
    h.clock.advance(3000);
    expect(h.diagnostics.length).toBeGreaterThanOrEqual(3);
    const d = h.diagnostics[h.diagnostics.length - 1];
    expect(d.state).toBe('active');
    expect(d.candidates.map((c) => [c.region, c.role, c.state])).toEqual([['a', 'active', 'open'], ['b', 'standby', 'open'], ['c', 'candidate', 'closed']]);
    expect(d.candidates[0].medianMs).toBe(20);
    expect(d.candidates[0].p90Ms).toBe(20);
    expect(d.candidates[0].loss).toBe(0);
    const text = JSON.stringify(h.diagnostics);
    expect(text).not.toMatch(/SECRET|token|\?/);
    // the connection itself did get the path
    expect(h.net.servers[1].live!.url).toBe('ws://b.relay.test/lobby?token=SECRET.JWT.VALUE');
  });

  test('rejects bad options with a clear error', () => {
    expect(() => new ConnectionManager({ servers: [], userId: USER })).toThrow(/non-empty array/);
    expect(() => new ConnectionManager({ servers: [{ url: 'http://x', region: 'r', transport: 'websocket' }], userId: USER })).toThrow(/ws: or wss:/);
    expect(() => new ConnectionManager({ servers: [{ url: 'ws://x', region: 'r', transport: 'carrier-pigeon' as 'websocket' }], userId: USER })).toThrow(/transport must be one of/);
    expect(() => new ConnectionManager({ servers: [{ url: 'ws://x', region: 'r', transport: 'websocket' }], userId: '' })).toThrow(/userId/);
    expect(() => new ConnectionManager({ servers: [{ url: 'ws://x', region: 'r', transport: 'websocket' }], userId: USER, probeIntervalMs: 0 })).toThrow(/probeIntervalMs must be a positive number/);
  });
});

describe('failover', () => {
  test.each([
    { name: 'close 1001 from a draining relay', fail: (h: Harness) => h.net.servers[0].live!.serverClose(1001, 'draining'), reason: 'closed', code: 1001 },
    { name: 'a dropped connection', fail: (h: Harness) => h.net.servers[0].live!.serverClose(1006), reason: 'closed', code: 1006 },
    { name: 'a socket error', fail: (h: Harness) => h.net.servers[0].live!.serverClose(1006, '', 'ECONNRESET'), reason: 'error', code: 1006 },
  ])('$name: the standby takes over at once and send never stops', ({ fail, reason, code }) => {
    const h = harness([['a', fast(20)], ['b', fast(50, { greeting: [sessionAssigned(0x8000_0000_0000_0002n)] })], ['c', fast(90)]]);
    elect(h);
    const first = h.net.servers[0].live!;
    h.manager.send(frame('one'));
    h.net.servers[0].behaviour = { connectMs: undefined }; // gone for good
    fail(h);
    expect(h.switched).toEqual([{ from: h.net.servers[0].entry, to: h.net.servers[1].entry, reason, rttMs: 50, code }]);
    // the new session's frames reach the application, starting with its SESSION_ASSIGNED
    expect(decodePacketWrapper(h.messages[h.messages.length - 1]).packetType).toBe(PacketType.SESSION_ASSIGNED);
    h.manager.send(frame('two'));
    expect(first.sent.map(textOf)).toEqual(['one']);
    expect(h.net.servers[1].live!.sent.map(textOf)).toEqual(['two']);
    // a new standby is elected in the background
    h.clock.advance(3000);
    expect(h.manager.standbyServer?.region).toBe('c');
    expect(h.manager.activeServer?.region).toBe('b');
  });

  test('probe replies that stop make it fail over after the silence timeout', () => {
    const h = harness([['a', fast(20)], ['b', fast(50)]], { silenceTimeoutMs: 2500 });
    elect(h);
    const first = h.net.servers[0].live!;
    h.net.servers[0].behaviour.rtt = () => undefined;
    const took = h.clock.advanceUntil(() => h.switched.length > 0, 10000);
    expect(h.switched[0]).toMatchObject({ reason: 'silent', to: { region: 'b' } });
    expect(took).toBeLessThanOrEqual(2500 + 20); // a reply already in flight (20 ms) restarts the timer
    expect(first.closedByClient).toEqual({ code: 1000, reason: 'silent' });
  });

  test('no standby: a new election, with sends queued meanwhile', () => {
    const h = harness([['a', fast(20)], ['b', { connectMs: undefined }]]);
    elect(h);
    h.net.servers[1].behaviour = fast(40);
    h.net.servers[0].live!.serverClose(1001, 'draining');
    h.net.servers[0].behaviour = { connectMs: undefined };
    expect(h.manager.currentState).toBe('electing');
    h.manager.send(frame('queued'));
    h.clock.advanceUntil(() => h.elected.length > 1, 5000);
    expect(h.elected[1].server.region).toBe('b');
    expect(h.net.servers[1].live!.sent.map(textOf)).toEqual(['queued']);
  });

  test('flapping active: every drop moves the call, and the call keeps a connection', () => {
    const h = harness([['a', fast(20)], ['b', fast(40)], ['c', fast(60)]]);
    elect(h);
    // decided before the runner-up's second sample: the standby follows from a background election
    h.clock.advanceUntil(() => h.manager.standbyServer !== undefined, 4000);
    for (let i = 0; i < 6; i++) {
      const region = h.manager.activeServer!.region;
      h.net.servers.find((s) => s.entry.region === region)!.live!.serverClose(1006);
      expect(h.manager.activeServer).toBeDefined();
      h.clock.advance(4000); // the background election finds a new standby
      expect(h.manager.standbyServer).toBeDefined();
    }
    // every drop moves the call to the standby; the reconnected faster server then proves itself and takes it back
    expect(h.switched.filter((s) => s.reason === 'closed')).toHaveLength(6);
    expect(h.switched.filter((s) => s.reason === 'better').length).toBeGreaterThan(0);
    h.manager.send(frame('still here'));
    const active = h.net.servers.find((s) => s.entry.region === h.manager.activeServer!.region)!;
    expect(active.live!.sent.map(textOf)).toContain('still here');
  });

  test('degradation with a failed re-election keeps the working call', () => {
    const h = harness([['a', fast(20)], ['b', fast(50)], ['c', { connectMs: undefined }]]);
    elect(h);
    // the active gets slow, and so does the standby: nobody is better
    h.net.servers[0].behaviour.rtt = steady(200);
    h.net.servers[1].behaviour.rtt = steady(400);
    h.clock.advance(12000);
    expect(h.switched).toEqual([]);
    expect(h.manager.activeServer?.region).toBe('a');
    expect(h.net.servers[0].live).toBeDefined();
    h.manager.send(frame('still via a'));
    expect(h.net.servers[0].live!.sent.map(textOf)).toEqual(['still via a']);
    // the re-election happened: c was tried again
    expect(h.net.servers[2].connections.length).toBeGreaterThan(1);
  });

  test('degradation with a better server proven switches, and only then', () => {
    const h = harness([['a', fast(20)], ['b', fast(50)], ['c', fast(70)]]);
    elect(h);
    h.net.servers[0].behaviour.rtt = steady(300);
    h.manager.send(frame('before'));
    h.clock.advanceUntil(() => h.switched.length > 0, 15000);
    expect(h.switched[0]).toMatchObject({ reason: 'degraded', from: { region: 'a' }, to: { region: 'b' } });
    expect(h.net.servers[0].latest!.sent.map(textOf)).toEqual(['before']);
    expect(h.net.servers[0].latest!.closedByClient).toEqual({ code: 1000, reason: 'degraded' });
    h.manager.send(frame('after'));
    expect(h.net.servers[1].live!.sent.map(textOf)).toEqual(['after']);
  });

  test('close() closes every connection and stops every timer', () => {
    const h = harness([['a', fast(20)], ['b', fast(50)]]);
    elect(h);
    h.manager.close();
    for (const s of h.net.servers) expect(s.live).toBeUndefined();
    h.clock.advance(1000); // echoes in flight land on closed connections; nothing reschedules
    expect(h.clock.pending).toBe(0);
    expect(() => h.manager.send(frame('x'))).toThrow(/closed/);
  });
});

test('a listener that closes the manager mid-failover leaves nothing open', () => {
  const h = harness([['a', fast(20)], ['b', fast(50)], ['c', fast(90)]]);
  elect(h);
  h.manager.on('switched', () => h.manager.close());
  h.net.servers[0].live!.serverClose(1001, 'draining');
  h.clock.advance(5000);
  for (const s of h.net.servers) expect(s.live).toBeUndefined();
  expect(h.net.servers[2].connections).toHaveLength(1); // no background election after close
});

describe('honest standby', () => {
  test.each([
    {
      name: 'a runner-up with no sample at an early decision is kept and becomes the standby once it answers',
      servers: { a: fast(20), b: { connectMs: 120 } } as Record<string, Behaviour>,
      then: (h: Harness) => { h.net.servers[1].behaviour.rtt = steady(60); },
      standby: 'b',
    },
    {
      name: 'a runner-up still connecting at an early decision becomes the standby once it opens',
      servers: { a: fast(20), b: { connectMs: 1500, rtt: steady(60) } } as Record<string, Behaviour>,
      then: () => undefined,
      standby: 'b',
    },
  ])('$name', ({ servers, then, standby }) => {
    const h = harness(Object.entries(servers));
    elect(h);
    expect(h.manager.standbyServer).toBeUndefined();
    then(h);
    h.clock.advanceUntil(() => h.manager.standbyServer !== undefined, 10000);
    expect(h.manager.standbyServer?.region).toBe(standby);
    expect(h.manager.activeServer?.region).toBe('a');
  });

  test.each([
    { name: 'the standby was the wrong runner-up: the call moves to the proven-faster survivor', standbyRtt: 80, survivorRtt: 40, finalActive: 'c', moved: true },
    { name: 'the standby is the best survivor: the call stays there', standbyRtt: 40, survivorRtt: 80, finalActive: 'b', moved: false },
    // 4 ms apart is within the clear margin: the recheck decides at its timeout, by the ranking any election uses
    { name: 'a survivor better by less than the clear margin: the call moves at the recheck\'s timeout', standbyRtt: 44, survivorRtt: 40, finalActive: 'c', moved: true },
  ])('$name', ({ standbyRtt, survivorRtt, finalActive, moved }) => {
    // c answers only after b became the standby, so b is the standby whatever its RTT
    const h = harness([['a', fast(20)], ['b', fast(standbyRtt)], ['c', { connectMs: 2 * survivorRtt }]]);
    elect(h);
    h.clock.advanceUntil(() => h.manager.standbyServer?.region === 'b', 10000);
    expect(h.manager.standbyServer?.region).toBe('b');
    h.net.servers[2].behaviour.rtt = steady(survivorRtt);
    h.net.servers[0].behaviour = { connectMs: undefined };
    h.net.servers[0].live!.serverClose(1006);
    expect(h.manager.activeServer?.region).toBe('b');
    h.clock.advance(5000);
    expect(h.manager.activeServer?.region).toBe(finalActive);
    expect(h.switched.some((s) => s.reason === 'better')).toBe(moved);
    expect(h.manager.standbyServer).toBeDefined();
  });
});

describe('a provisional election is confirmed by its timeout', () => {
  // Wide symmetric jitter: at the 1 s look a leads, likely but not certain (a provisional decision).
  const leadsAt1s = { connectMs: 200, rtt: cycle([85, 118, 96, 110]) };
  const closeBehind = { connectMs: 220, rtt: cycle([94, 131, 107, 122]) };
  // a's first replies were lucky: from its fifth sample on it is ~20 ms slower than b
  const luckyStart = { connectMs: 200, rtt: cycle([92, 108, 98, 130, 128, 132, 127, 129, 131, 126]) };
  const steadyB = { connectMs: 214, rtt: cycle([110, 100, 115, 103, 108, 112, 105, 109]) };
  const third = { connectMs: 300, rtt: cycle([150, 160, 155]) };

  test.each([
    {
      name: 'the leader stays when the confirmation bears it out, and ends the confirmation as soon as it is certain',
      servers: { a: leadsAt1s, b: closeBehind, c: third },
      // settled before the 2 s timeout: the active became certain on its own
      active: 'a', standby: 'b', switched: [] as string[], settledBefore: 1999,
    },
    {
      name: 'a wrong start moves to the server that ranks first at the timeout (switched, reason better)',
      servers: { a: luckyStart, b: steadyB },
      active: 'b', standby: 'a', switched: ['a→b better'], settledBefore: 2001,
    },
  ] as Array<{ name: string; servers: Record<string, Behaviour>; active: string; standby: string; switched: string[]; settledBefore: number }>)('$name', ({ servers, active, standby, switched, settledBefore }) => {
    const h = harness(Object.entries(servers));
    const e = elect(h);
    expect(e).toMatchObject({ server: { region: 'a' }, why: 'clear', provisional: true, elapsedMs: 1000 });
    // every candidate stays open and is measured at the election rate while confirming
    expect(h.manager.diagnostics().election).toMatchObject({ background: true, reason: 'confirm' });
    for (const s of h.net.servers) expect({ region: s.entry.region, open: s.live !== undefined }).toEqual({ region: s.entry.region, open: true });
    const probesBefore = h.net.servers.map((s) => s.live!.probes.length);
    h.clock.advanceUntil(() => h.manager.diagnostics().election === null, settledBefore - 1000);
    expect(h.manager.diagnostics().election).toBeNull();
    for (const [i, s] of h.net.servers.entries()) if (s.live !== undefined) expect(s.live.probes.length - probesBefore[i]).toBeGreaterThanOrEqual(2);
    expect(h.switched.map((s) => `${s.from.region}→${s.to.region} ${s.reason}`)).toEqual(switched);
    expect(h.manager.activeServer?.region).toBe(active);
    expect(h.manager.standbyServer?.region).toBe(standby);
    // after it, only the active and the standby are left open
    for (const s of h.net.servers) {
      const keep = s.entry.region === active || s.entry.region === standby;
      expect({ region: s.entry.region, open: s.live !== undefined }).toEqual({ region: s.entry.region, open: keep });
    }
    h.clock.advance(5000);
    expect(h.switched).toHaveLength(switched.length);
    expect(h.elected).toHaveLength(1);
  });

  test('the confirmation keeps every candidate\'s 200 ms probe cadence: never a probe sooner than that', () => {
    const h = harness([['a', leadsAt1s], ['b', closeBehind], ['c', third]]);
    expect(elect(h).provisional).toBe(true);
    h.clock.advanceUntil(() => h.manager.diagnostics().election === null, 1000);
    for (const s of h.net.servers) {
      const sentAt = s.latest!.probes.map((p) => readRttProbeTimestamp(p)!);
      expect(sentAt.length).toBeGreaterThanOrEqual(6);
      // until the confirmation ends (then the active slows to 1 Hz, the standby to one every 2 s)
      const gaps = sentAt.slice(1).map((t, i) => t - sentAt[i]);
      expect({ server: s.entry.region, shortest: Math.min(...gaps) }).toEqual({ server: s.entry.region, shortest: 200 });
    }
  });

  test('a decision certain when made is not provisional: no confirmation, the losers close at once', () => {
    const h = harness([['a', fast(20)], ['b', fast(60)], ['c', fast(100)]]);
    const e = elect(h);
    expect(e.provisional).toBe(false);
    expect(h.manager.diagnostics().election).toBeNull();
    expect(h.net.servers[2].live).toBeUndefined();
  });

  test('a candidate that failed during the election is not reopened to confirm it', () => {
    const h = harness([['a', leadsAt1s], ['b', closeBehind], ['c', { connectMs: 40, closeAfterMs: 10 }]]);
    const e = elect(h);
    expect(e.provisional).toBe(true);
    h.clock.advance(1500);
    expect(h.net.servers[2].connections).toHaveLength(1);
  });

  test('the active failing while confirming: the standby takes over and the survivors are measured against it', () => {
    const h = harness([['a', leadsAt1s], ['b', closeBehind], ['c', third]]);
    elect(h);
    h.clock.advance(100);
    h.net.servers[0].behaviour = { connectMs: undefined };
    h.net.servers[0].live!.serverClose(1006);
    expect(h.switched).toMatchObject([{ from: { region: 'a' }, to: { region: 'b' }, reason: 'closed' }]);
    expect(h.manager.diagnostics().election).toMatchObject({ background: true, reason: 'recheck' });
    h.clock.advance(5000);
    expect(h.manager.activeServer?.region).toBe('b');
    expect(h.manager.standbyServer?.region).toBe('c');
  });
});
