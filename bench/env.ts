// Servers shared by the benchmarks of one run: one nats-server, our relay and the ws yardstick on
// it, started on first use so `--only synth` starts nothing.
import { startNats, startRelay, startWsRelay, type NatsServer, type Server } from './procs';

export interface BenchEnv {
  nats: NatsServer;
  relay: Server;
  wsRelay: Server;
}

let shared: Promise<BenchEnv> | undefined;

export function benchEnv(): Promise<BenchEnv> {
  shared ??= (async () => {
    const nats = await startNats();
    const [relay, wsRelay] = await Promise.all([
      startRelay({ natsUrl: nats.url, serverId: 'bench-a' }),
      startWsRelay({ natsUrl: nats.url, serverId: 'bench-ws' }),
    ]);
    return { nats, relay, wsRelay };
  })();
  return shared;
}
