// A model of the videocall client's server election (security-union/videocall-rs at commit
// 33b44e02fb0e, videocall-client/src/connection/), for the election benchmark. It replays one trial's
// RTT streams and handshake times through their rules; nothing of their code is copied. Each rule
// cites where it lives:
// - connection_manager.rs `start_election` / `create_all_connections`: every server is opened at once.
// - connection_controller.rs `start_timers`: three free-running intervals started with the manager,
//   in this order: 1000 ms (`trigger_diagnostics_report`, which folds queued replies), 200 ms
//   (`send_rtt_probes`, only while the state is Testing), 100 ms (`check_and_complete_election`).
//   Intervals due at the same instant run in creation order, so at t = 2000 the fold runs before the
//   check.
// - connection_manager.rs `send_rtt_probes` / `send_rtt_probe`: probes go only to connected servers.
// - `create_inbound_media_callback`: a reply is queued with its reception time; `trigger_diagnostics_report`
//   → `process_queued_rtt_responses` → `handle_rtt_response` folds the queue once a second: RTTs outside
//   0–RTT_SANITY_MAX_MS (10,000 ms) are dropped, the last 10 kept, `average_rtt` is their plain mean.
// - `check_and_complete_election`: at elapsed ≥ duration_ms (the `election_period_ms` option; the UI's
//   default `server_election_period_ms().unwrap_or(2000)` in dioxus-ui/src/components/attendants.rs), it
//   completes if any server has ELECTION_MIN_RTT_SAMPLES (2, adaptive_quality_constants.rs) folded samples
//   or ELECTION_MAX_EXTENSIONS (2) extensions were used; otherwise it extends the deadline by 1000 ms.
// - `find_best_connection`: skips servers not connected; a WebTransport server with ≥ 2 samples beats
//   every WebSocket one; then the lowest mean among WebSocket servers with ≥ 2; then fallbacks with 1
//   sample (WebTransport first). Strict `<` over a HashMap: exact ties go to iteration order, modelled
//   as a random order per trial.
// - `close_unused_connections`: every loser is closed, so there is no standby.
// - `check_rtt_degradation` (called by the 1 Hz timer once connected): five consecutive checks of the
//   running mean above max(3 × baseline, 50 ms) start `start_reelection`, which keeps the old connection
//   carrying media. Not modelled: no benchmark here degrades a path.
// - `create_connection_lost_callback` / `run_reconnection_loop`: on the active connection's loss it
//   sleeps RECONNECT_INITIAL_DELAY_MS (500 ms), then `reset_and_start_election` (measurements cleared,
//   all servers reopened); later attempts back off (`next_backoff_delay`). No silence timeout exists.
import type { TransportKind } from '../rtt-client';

/** adaptive_quality_constants.rs and connection_manager.rs */
export const VIDEOCALL = {
  electionPeriodMs: 2000,
  probeIntervalMs: 200,
  foldIntervalMs: 1000,
  checkIntervalMs: 100,
  minSamples: 2,
  maxExtensions: 2,
  extensionMs: 1000,
  window: 10,
  rttSanityMaxMs: 10_000,
  reconnectInitialDelayMs: 500,
} as const;

/** One server as a trial sees it: when its connection opens, and the RTT of its k-th probe. */
export interface ModelServer {
  transport: TransportKind;
  /** ms after the election starts; undefined: never opens */
  openAt: number | undefined;
  /** RTT of the k-th probe sent to it (k from 0), or null when that probe is lost */
  probeRtt(k: number): number | null;
}

export interface ModelOutcome {
  /** index of the elected server, or -1 when none */
  winner: number;
  /** ms from the start of the election */
  decisionMs: number;
}

/**
 * Runs one videocall election over `servers`. Times are on the client's clock, where its intervals
 * started at 0; the election starts at `startAt` (a reconnection's election starts between ticks, and
 * the intervals keep their phase: `reset_and_start_election` does not restart them). `openAt` is
 * relative to `startAt`; the decision time returned too. `tieOrder` is the HashMap iteration order.
 */
export function videocallElection(servers: readonly ModelServer[], tieOrder: readonly number[], startAt = 0): ModelOutcome {
  // replies in arrival order: [arrival time, server, rtt]
  const replies: Array<[number, number, number]> = [];
  const sent = servers.map(() => 0);
  const probeUntil = startAt + VIDEOCALL.electionPeriodMs + VIDEOCALL.maxExtensions * VIDEOCALL.extensionMs;
  const firstTick = (interval: number) => (Math.floor(startAt / interval) + 1) * interval;
  for (let t = firstTick(VIDEOCALL.probeIntervalMs); t <= probeUntil; t += VIDEOCALL.probeIntervalMs) {
    servers.forEach((s, i) => {
      if (s.openAt === undefined || startAt + s.openAt > t) return;
      const rtt = s.probeRtt(sent[i]++);
      if (rtt !== null) replies.push([t + rtt, i, rtt]);
    });
  }
  replies.sort((a, b) => a[0] - b[0]);
  let duration: number = VIDEOCALL.electionPeriodMs;
  let extensions = 0;
  for (let t = firstTick(VIDEOCALL.checkIntervalMs); ; t += VIDEOCALL.checkIntervalMs) {
    if (t - startAt < duration) continue;
    // what the last fold (at or before t) had taken in
    const foldedBy = Math.floor(t / VIDEOCALL.foldIntervalMs) * VIDEOCALL.foldIntervalMs;
    const samples = servers.map(() => [] as number[]);
    for (const [at, i, rtt] of replies) {
      if (at > foldedBy) break;
      if (rtt < 0 || rtt > VIDEOCALL.rttSanityMaxMs) continue;
      samples[i].push(rtt);
      if (samples[i].length > VIDEOCALL.window) samples[i].shift();
    }
    const enough = samples.some((s) => s.length >= VIDEOCALL.minSamples);
    if (!enough && extensions < VIDEOCALL.maxExtensions) {
      duration += VIDEOCALL.extensionMs;
      extensions++;
      continue;
    }
    return { winner: findBest(servers, samples, t - startAt, tieOrder), decisionMs: t - startAt };
  }
}

function findBest(servers: readonly ModelServer[], samples: number[][], now: number, tieOrder: readonly number[]): number {
  const best = { wt: -1, ws: -1, fbWt: -1, fbWs: -1 };
  const rtt = { wt: Infinity, ws: Infinity, fbWt: Infinity, fbWs: Infinity };
  for (const i of tieOrder) {
    const s = servers[i];
    if (s.openAt === undefined || s.openAt > now || samples[i].length === 0) continue;
    const mean = samples[i].reduce((a, b) => a + b, 0) / samples[i].length;
    const tier = (samples[i].length >= VIDEOCALL.minSamples ? '' : 'fb') + (s.transport === 'webtransport' ? 'Wt' : 'Ws');
    const key = (tier === 'Wt' ? 'wt' : tier === 'Ws' ? 'ws' : tier) as keyof typeof best;
    if (mean < rtt[key]) {
      rtt[key] = mean;
      best[key] = i;
    }
  }
  for (const key of ['wt', 'ws', 'fbWt', 'fbWs'] as const) if (best[key] >= 0) return best[key];
  return -1;
}
