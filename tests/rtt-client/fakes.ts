// Test doubles for the election core: a manual clock and an in-memory network of fake servers
// that echo RTT probes after a scripted delay, driven by that clock.
import { encodePacketWrapper, PacketType, SYSTEM_USER_ID } from '../../protocol';
import type { Clock } from '../../rtt-client/clock';
import type { ServerEntry, Transport, TransportFactory, TransportHandlers } from '../../rtt-client/transport';

interface Timer {
  id: number;
  at: number;
  fn: () => void;
}

export class FakeClock implements Clock {
  private t = 1000;
  private seq = 0;
  private timers: Timer[] = [];

  now(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): number {
    const timer = { id: ++this.seq, at: this.t + Math.max(0, ms), fn };
    this.timers.push(timer);
    return timer.id;
  }

  clearTimeout(handle: unknown): void {
    this.timers = this.timers.filter((x) => x.id !== handle);
  }

  /** Runs every timer due within `ms`, in time order (ties in scheduling order), moving the clock along. */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      const next = this.timers.filter((x) => x.at <= end).sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (next === undefined) break;
      this.timers = this.timers.filter((x) => x !== next);
      this.t = next.at;
      next.fn();
    }
    this.t = end;
  }

  /** Advances in small steps until `done()` or `limitMs` passed; returns the time it took. */
  advanceUntil(done: () => boolean, limitMs: number, stepMs = 1): number {
    const start = this.t;
    while (!done() && this.t - start < limitMs) this.advance(stepMs);
    return this.t - start;
  }

  get pending(): number {
    return this.timers.length;
  }
}

export interface Behaviour {
  /** ms until the connection opens; undefined: it never opens */
  connectMs?: number;
  /** the RTT of the next probe (called per probe); undefined: probes are not answered */
  rtt?: () => number | undefined;
  /** frames the server sends right after the connection opens (SESSION_ASSIGNED etc.) */
  greeting?: Uint8Array[];
  /** the connection closes (code 1006) this long after it opened */
  closeAfterMs?: number;
}

export class FakeConnection implements Transport {
  readonly sent: Uint8Array[] = [];
  readonly probes: Uint8Array[] = [];
  open = false;
  closedByClient?: { code?: number; reason?: string };
  closedByServer = false;

  constructor(readonly server: FakeServer, readonly url: string, private readonly handlers: TransportHandlers) {}

  get closed(): boolean {
    return this.closedByClient !== undefined || this.closedByServer;
  }

  send(frame: Uint8Array): void {
    if (this.open && !this.closed) this.sent.push(frame);
  }

  sendProbe(frame: Uint8Array): void {
    if (!this.open || this.closed) return;
    this.probes.push(frame);
    const rtt = this.server.behaviour.rtt?.();
    if (rtt === undefined) return;
    this.server.clock.setTimeout(() => this.deliver(frame), rtt);
  }

  close(code?: number, reason?: string): void {
    if (!this.closed) this.closedByClient = { code, reason };
  }

  /** A frame from the server (also how tests inject stray or foreign frames). */
  deliver(frame: Uint8Array): void {
    if (this.open && !this.closed) this.handlers.onMessage(frame);
  }

  serverClose(code = 1006, reason = '', error?: string): void {
    if (this.closed) return;
    this.closedByServer = true;
    this.handlers.onClose({ code, reason, ...(error !== undefined ? { error } : {}) });
  }

  /** Called by the network when the connect delay elapsed. */
  opened(): void {
    if (this.closed) return;
    this.open = true;
    this.handlers.onOpen();
    for (const g of this.server.behaviour.greeting ?? []) this.deliver(g);
    const after = this.server.behaviour.closeAfterMs;
    if (after !== undefined) this.server.clock.setTimeout(() => this.serverClose(), after);
  }
}

export class FakeServer {
  readonly connections: FakeConnection[] = [];

  constructor(readonly entry: ServerEntry, public behaviour: Behaviour, readonly clock: FakeClock) {}

  /** The connection the manager is using now (the latest one not closed). */
  get live(): FakeConnection | undefined {
    return [...this.connections].reverse().find((c) => !c.closed);
  }

  /** Probes and frames the latest connection has been sent. */
  get latest(): FakeConnection | undefined {
    return this.connections[this.connections.length - 1];
  }
}

export class FakeNetwork {
  readonly servers: FakeServer[] = [];

  constructor(readonly clock: FakeClock) {}

  add(region: string, behaviour: Behaviour, transport: ServerEntry['transport'] = 'websocket'): FakeServer {
    const scheme = transport === 'webtransport' ? 'https' : 'ws';
    const server = new FakeServer({ url: `${scheme}://${region}.relay.test`, region, transport }, behaviour, this.clock);
    this.servers.push(server);
    return server;
  }

  get entries(): ServerEntry[] {
    return this.servers.map((s) => s.entry);
  }

  readonly factory: TransportFactory = (entry, url, handlers) => {
    const server = this.servers.find((s) => s.entry.url === entry.url);
    if (server === undefined) throw new Error(`no fake server at ${entry.url}`);
    const conn = new FakeConnection(server, url, handlers);
    server.connections.push(conn);
    const connectMs = server.behaviour.connectMs;
    if (connectMs !== undefined) this.clock.setTimeout(() => conn.opened(), connectMs);
    return conn;
  };
}

/** RTT that is always `ms`. */
export const steady = (ms: number) => () => ms;
/** RTTs that cycle through `values`. */
export const cycle = (values: number[]) => {
  let i = 0;
  return () => values[i++ % values.length];
};

/** What a relay sends a new session first (PROTOCOL.md, steps 1-2), reduced to what the tests check. */
export function sessionAssigned(sessionId: bigint): Uint8Array {
  return encodePacketWrapper({ packetType: PacketType.SESSION_ASSIGNED, userId: SYSTEM_USER_ID, sessionId });
}
