// The faults a user can cause in `npm run local`, typed in its terminal or sent by the page:
//   stop-region R | start-region R            every NATS pod of R deleted (an outage) / recreated
//   partition A B reset|blackhole | heal A B  the network path between two regions
//   pause SERVER | resume SERVER              SIGSTOP / SIGCONT one nats-server
//   kill-relay ID | drain-relay ID | start-relay ID   SIGKILL / SIGTERM / start again
import { LocalDeployment } from './deployment';

export const FAULT_HELP = `faults: stop-region R | start-region R | partition A B reset|blackhole | heal A B |
        pause SERVER | resume SERVER | kill-relay ID | drain-relay ID | start-relay ID | status`;

/** Runs one fault command; resolves with what was done, throws with a message on bad input. */
export async function runFault(deployment: LocalDeployment, words: readonly string[]): Promise<string> {
  const cluster = deployment.superCluster;
  const [verb, a, b, c] = words;
  const relay = (id: string | undefined) => {
    const found = deployment.relays.find((r) => r.id === id);
    if (!found) throw new RangeError(`no relay "${id}" (relays: ${deployment.relays.map((r) => r.id).join(', ')})`);
    return found;
  };
  const need = (value: string | undefined, what: string) => {
    if (!value) throw new RangeError(`${verb} needs ${what}\n${FAULT_HELP}`);
    return value;
  };
  switch (verb) {
    case 'stop-region':
      await cluster.stopRegion(need(a, 'a region'), 'kill');
      return `every NATS pod of ${a} stopped`;
    case 'start-region':
      cluster.startRegion(need(a, 'a region'));
      return `${a}'s StatefulSet recreates its pods`;
    case 'partition':
      if (c !== 'reset' && c !== 'blackhole') throw new RangeError(`partition A B reset|blackhole, got "${c ?? ''}"`);
      cluster.partition(need(a, 'two regions'), need(b, 'two regions'), c);
      return `${a} ↔ ${b} partitioned (${c})`;
    case 'heal':
      cluster.heal(need(a, 'two regions'), need(b, 'two regions'));
      return `${a} ↔ ${b} healed`;
    case 'pause':
      cluster.pause(need(a, 'a server'));
      return `${a} SIGSTOPped`;
    case 'resume':
      cluster.resume(need(a, 'a server'));
      return `${a} SIGCONTed`;
    case 'kill-relay':
      await relay(a).kill();
      return `${a} SIGKILLed`;
    case 'drain-relay':
      await relay(a).stop();
      return `${a} drained (SIGTERM)`;
    case 'start-relay':
      await relay(a).start();
      return `${a} started`;
    case 'status': {
      const pods = cluster.pods().map((p, i) => `${cluster.servers[i].region}/${p.name}:${p.ready ? 'Ready' : 'not-Ready'}${p.paused ? '(paused)' : ''}`);
      const links = (await cluster.gatewayLinks()).map((l) => `${l.from}→${l.to}:${l.up ? 'up' : 'down'}`);
      return `${pods.join(' ')}\n${links.join(' ')}`;
    }
    default:
      throw new RangeError(`unknown fault "${verb ?? ''}"\n${FAULT_HELP}`);
  }
}
