// The videocall model of the election benchmark, rule by rule (each rule is cited in bench/videocall-model.ts).
import { VIDEOCALL, videocallElection, type ModelServer } from '../../bench/videocall-model';

/** a server that opens at `openAt` and answers every probe in `rtt` ms (null: never) */
const server = (openAt: number | undefined, rtt: number | null | ((k: number) => number | null), transport: 'websocket' | 'webtransport' = 'websocket'): ModelServer => ({
  transport,
  openAt,
  probeRtt: typeof rtt === 'function' ? rtt : () => rtt,
});

describe('videocall election model', () => {
  test.each([
    { name: 'the lowest mean wins, decided at the 2 s election period', servers: [server(50, 40), server(50, 30)], winner: 1, decisionMs: 2000 },
    { name: 'a WebTransport server with 2 samples beats any WebSocket one', servers: [server(50, 10), server(50, 90, 'webtransport')], winner: 1, decisionMs: 2000 },
    // probes at 200, 400, …: a reply after 1900 ms to the probe at 200 ms is folded only at 3000 → one 1 s extension
    { name: 'no server with 2 folded samples by 2 s: extended by 1 s', servers: [server(0, 1750)], winner: 0, decisionMs: 3000 },
    { name: 'at most two extensions, then the best with 1 sample', servers: [server(0, 3700)], winner: 0, decisionMs: 4000 },
    { name: 'nothing answers: no winner after two extensions', servers: [server(0, null), server(undefined, 10)], winner: -1, decisionMs: 4000 },
    { name: 'RTTs above 10 s are dropped', servers: [server(0, 10_001)], winner: -1, decisionMs: 4000 },
    { name: 'a server that never opens is never probed nor elected', servers: [server(undefined, 1), server(100, 50)], winner: 1, decisionMs: 2000 },
  ])('$name', ({ servers, winner, decisionMs }) => {
    expect(videocallElection(servers, servers.map((_, i) => i))).toEqual({ winner, decisionMs });
  });

  test('the mean is over the last 10 folded samples', () => {
    // 10 slow samples then fast ones: with a window of 10 the early slow ones fall out
    const a = server(0, (k) => (k < 2 ? 1000 : 20));
    const b = server(0, 25);
    expect(videocallElection([a, b], [0, 1]).winner).toBe(1); // by 2 s: a's window still holds a 1000 ms sample
    expect(VIDEOCALL.window).toBe(10);
  });

  test('exact ties go to the iteration order', () => {
    const servers = [server(0, 30), server(0, 30)];
    expect(videocallElection(servers, [0, 1]).winner).toBe(0);
    expect(videocallElection(servers, [1, 0]).winner).toBe(1);
  });

  test('only replies folded by the 1 Hz timer count', () => {
    // a reconnection election from 5500 decides at 7500 with what the 7000 fold took in: probes from 5600 every
    // 200 ms; a's replies to the probes of 7000 ms and later (1 ms) arrive after that fold and are not counted
    const a = server(0, (k) => (k < 7 ? 60 : 1));
    const b = server(0, 50);
    expect(videocallElection([a, b], [0, 1], 5500)).toEqual({ winner: 1, decisionMs: 2000 });
    // an election started on a whole second decides right after a fold: the fast replies count and a wins
    expect(videocallElection([a, b], [0, 1], 5000)).toEqual({ winner: 0, decisionMs: 2000 });
  });

  test('a reconnection election keeps the intervals\' phase: folds at whole seconds of the client clock', () => {
    // starts at 5500: checks from 5600, decides at 7500 with what the 7000 fold had; probes from 5600
    const s = server(0, (k) => (k < 3 ? 100 : 5));
    expect(videocallElection([s], [0], 5500)).toEqual({ winner: 0, decisionMs: 2000 });
  });
});
