// A Kubernetes Service on loopback: a TCP listener that sends each NEW connection to one of the
// endpoints the Service would list at that moment (kube-proxy picks per connection; connections
// already open stay where they are). The region's gateway NodePort is one of these, and it is
// also where the network between regions is emulated: the inter-region delay and partitions,
// decided by which region the connecting process belongs to.
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import * as net from 'node:net';
import { DelayedPipe } from './delay-proxy';

const LOOPBACK = '127.0.0.1';

/** What the network does to connections from one source: pass with a delay, reset them, or swallow everything. */
export type PathState =
  | { readonly mode: 'open'; readonly rttMs: number }
  | { readonly mode: 'reset' }
  | { readonly mode: 'blackhole' };

export interface ServiceProxyOptions {
  readonly name: string;
  /** Loopback ports of the endpoints the Service lists now (asked at each new connection). */
  readonly endpoints: () => readonly number[];
  /** Who is connecting, e.g. the region of the process owning the client socket. @default undefined */
  readonly identify?: (socket: net.Socket) => string | undefined;
  /** The path from that source. @default open, no delay */
  readonly path?: (source: string | undefined) => PathState;
}

/** One proxied connection; held while its path is a black hole (nothing read, nothing closed). */
class Connection {
  upstream?: net.Socket;
  private pipes: DelayedPipe[] = [];
  private held = false;
  private pendingDrop = false;
  private done = false;

  constructor(readonly client: net.Socket, readonly source: string | undefined, private readonly onDone: (c: Connection) => void) {
    client.on('error', () => this.lost());
    client.on('close', () => this.lost());
  }

  connect(port: number, rttMs: number): void {
    const upstream = net.connect({ host: LOOPBACK, port, allowHalfOpen: true });
    this.upstream = upstream;
    const delay = () => rttMs / 2;
    const toUpstream = new DelayedPipe(upstream, delay);
    const toClient = new DelayedPipe(this.client, delay);
    this.pipes = [toUpstream, toClient];
    this.client.setNoDelay(true);
    upstream.setNoDelay(true);
    this.client.on('data', (chunk) => toUpstream.push(chunk));
    upstream.on('data', (chunk) => toClient.push(chunk));
    this.client.on('end', () => toUpstream.push(null));
    upstream.on('end', () => toClient.push(null));
    upstream.on('error', () => this.lost());
    upstream.on('close', () => this.lost());
    if (this.held) upstream.pause();
    this.client.resume();
  }

  /** A black hole: stop reading both sides, so TCP buffers fill and nobody learns anything. */
  hold(): void {
    this.held = true;
    this.client.pause();
    this.upstream?.pause();
  }

  release(): void {
    this.held = false;
    if (this.pendingDrop) return this.reset();
    if (!this.upstream) return; // routed later: connect() starts reading
    this.client.resume();
    this.upstream?.resume();
  }

  get isHeld(): boolean {
    return this.held;
  }

  /** Both sides see a reset, as when a network path breaks loudly. */
  reset(): void {
    for (const p of this.pipes) p.stop();
    this.client.resetAndDestroy();
    this.upstream?.resetAndDestroy();
    this.finish();
  }

  /** One side closed or failed: the other learns it, unless the path swallows everything just now. */
  private lost(): void {
    if (this.done) return;
    if (this.held) {
      this.pendingDrop = true;
      return;
    }
    const bothEnded = this.client.destroyed && (this.upstream?.destroyed ?? true);
    if (bothEnded) return this.finish();
    // Let a clean end already queued in a pipe arrive; a socket gone before that resets the other.
    if (!this.client.writableEnded || !(this.upstream?.writableEnded ?? true)) this.reset();
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    this.onDone(this);
  }
}

export class ServiceProxy {
  private server?: net.Server;
  private readonly connections = new Set<Connection>();
  private readonly waiting = new Set<Connection>();

  constructor(private readonly options: ServiceProxyOptions) {}

  async start(listenPort = 0): Promise<number> {
    const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (socket) => this.accept(socket));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(listenPort, LOOPBACK, () => resolve());
    });
    return this.port;
  }

  get port(): number {
    const address = this.server?.address();
    if (!address || typeof address === 'string') throw new Error(`${this.options.name} is not listening`);
    return address.port;
  }

  /** Applies the current path of every source to the connections already open (reset, hold, release). */
  reapplyPaths(): void {
    for (const c of [...this.connections]) {
      const path = this.pathOf(c.source);
      if (path.mode === 'reset') c.reset();
      else if (path.mode === 'blackhole') c.hold();
      else if (c.isHeld) {
        c.release();
        if (this.waiting.has(c)) this.route(c, path.rttMs);
      }
    }
  }

  /** Open connections from `source` (e.g. a region's gateway links into this one). */
  connectionsFrom(source: string): number {
    return [...this.connections].filter((c) => c.source === source).length;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const c of [...this.connections]) c.reset();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private pathOf(source: string | undefined): PathState {
    return this.options.path?.(source) ?? { mode: 'open', rttMs: 0 };
  }

  private accept(socket: net.Socket): void {
    let source: string | undefined;
    try {
      source = this.options.identify?.(socket);
    } catch {
      source = undefined;
    }
    const c = new Connection(socket, source, (done) => {
      this.connections.delete(done);
      this.waiting.delete(done);
    });
    this.connections.add(c);
    const path = this.pathOf(source);
    if (path.mode === 'reset') return c.reset();
    if (path.mode === 'blackhole') {
      // The SYN vanished: nothing reaches an endpoint until the path heals.
      c.hold();
      this.waiting.add(c);
      return;
    }
    this.route(c, path.rttMs);
  }

  private route(c: Connection, rttMs: number): void {
    this.waiting.delete(c);
    const endpoints = this.options.endpoints();
    // kube-proxy rejects connections to a Service without endpoints (iptables REJECT): refused.
    if (endpoints.length === 0) return c.reset();
    c.connect(endpoints[Math.floor(Math.random() * endpoints.length)], rttMs);
  }
}

/**
 * The pid, among `candidates`, that owns the loopback socket connected from `localPort` to
 * `remotePort`: how a Service proxy on loopback tells which emulated node a connection comes
 * from (on a real network, the source address says it). Linux only; undefined elsewhere.
 */
export function pidOfLoopbackPeer(localPort: number, remotePort: number, candidates: readonly number[]): number | undefined {
  let table: string;
  try {
    table = readFileSync('/proc/net/tcp', 'utf8');
  } catch {
    return undefined;
  }
  const hex = (port: number) => port.toString(16).toUpperCase().padStart(4, '0');
  const local = `0100007F:${hex(localPort)}`;
  const remote = `0100007F:${hex(remotePort)}`;
  let inode: string | undefined;
  for (const line of table.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f[1] === local && f[2] === remote) {
      inode = f[9];
      break;
    }
  }
  if (inode === undefined || inode === '0') return undefined;
  const link = `socket:[${inode}]`;
  for (const pid of candidates) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        if (readlinkSync(`/proc/${pid}/fd/${fd}`) === link) return pid;
      } catch {
        // closed meanwhile
      }
    }
  }
  return undefined;
}
