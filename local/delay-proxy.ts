// A userspace TCP proxy on 127.0.0.1 that adds latency: each direction is delayed by half the
// configured RTT (plus optional jitter), byte order preserved. Stands in for netem, which this
// kernel lacks: it puts relays "far away" for the election tests and fronts NATS gateway links.
import * as net from 'node:net';

export interface DelaySettings {
  /** added round-trip time in ms: each direction is delayed by half of it */
  rttMs: number;
  /** extra random one-way delay in [0, jitterMs) per chunk; order is still preserved */
  jitterMs?: number;
}

export interface DelayProxyOptions extends DelaySettings {
  /** where connections are forwarded to (loopback only) */
  targetPort: number;
  targetHost?: '127.0.0.1';
  /** port to listen on (default 0: any free port) */
  listenPort?: number;
  /** in [0, 1), for the jitter (default Math.random) */
  random?: () => number;
}

const LOOPBACK = '127.0.0.1';

/** One direction of one connection: chunks leave in arrival order, each no earlier than its due time (also used by the Service proxies). */
export class DelayedPipe {
  private readonly queue: Array<{ at: number; chunk: Buffer | null }> = [];
  private timer?: NodeJS.Timeout;
  private lastAt = 0;

  constructor(private readonly to: net.Socket, private readonly delay: () => number) {}

  /** `null` is the end of the stream, delivered after everything before it. */
  push(chunk: Buffer | null): void {
    const at = Math.max(performance.now() + this.delay(), this.lastAt);
    this.lastAt = at;
    this.queue.push({ at, chunk });
    if (this.queue.length === 1) this.arm();
  }

  stop(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.queue.length = 0;
  }

  private arm(): void {
    const head = this.queue[0];
    if (head === undefined) return;
    this.timer = setTimeout(() => this.flush(), Math.max(0, head.at - performance.now()));
  }

  private flush(): void {
    this.timer = undefined;
    const now = performance.now();
    while (this.queue.length > 0 && this.queue[0].at <= now + 0.5) {
      const { chunk } = this.queue.shift()!;
      if (this.to.destroyed) {
        this.queue.length = 0;
        return;
      }
      if (chunk === null) this.to.end();
      else this.to.write(chunk);
    }
    this.arm();
  }
}

export class DelayProxy {
  private server?: net.Server;
  private readonly links = new Set<Link>();
  private settings: Required<DelaySettings>;
  private accepted = 0;

  constructor(private readonly options: DelayProxyOptions) {
    this.settings = checkSettings(options);
    if (!Number.isInteger(options.targetPort) || options.targetPort <= 0 || options.targetPort > 65535) {
      throw new RangeError(`targetPort must be a TCP port, got ${options.targetPort}`);
    }
    if (options.targetHost !== undefined && options.targetHost !== LOOPBACK) throw new RangeError('the delay proxy only forwards to 127.0.0.1');
  }

  async start(): Promise<{ port: number }> {
    if (this.server !== undefined) throw new Error('delay proxy already started');
    const server = net.createServer({ allowHalfOpen: true }, (client) => this.accept(client));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.listenPort ?? 0, LOOPBACK, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return { port: this.port };
  }

  get port(): number {
    const address = this.server?.address();
    if (address === null || address === undefined || typeof address === 'string') throw new Error('delay proxy is not listening');
    return address.port;
  }

  /** Applies to every chunk from now on, on open connections too. */
  setDelay(settings: DelaySettings): void {
    this.settings = checkSettings(settings);
  }

  get delay(): Required<DelaySettings> {
    return { ...this.settings };
  }

  /** connections accepted since start */
  get connectionCount(): number {
    return this.accepted;
  }

  /** connections open now (client side) */
  get openConnections(): number {
    return this.links.size;
  }

  /** Drops every open connection at once (both sides reset), as a network failure would; keeps listening. */
  dropConnections(): void {
    for (const link of this.links) link.drop();
  }

  /** Stops listening and destroys every socket. */
  async close(): Promise<void> {
    const server = this.server;
    this.dropConnections();
    if (server === undefined) return;
    this.server = undefined;
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private oneWay(): number {
    const { rttMs, jitterMs } = this.settings;
    return rttMs / 2 + (jitterMs > 0 ? jitterMs * (this.options.random ?? Math.random)() : 0);
  }

  private accept(client: net.Socket): void {
    this.accepted++;
    const link = new Link(client, this.options.targetPort, () => this.oneWay(), () => this.links.delete(link));
    this.links.add(link);
  }
}

/** One proxied connection: the client's socket, ours to the target, and a delayed pipe each way. */
class Link {
  private readonly upstream: net.Socket;
  private readonly pipes: DelayedPipe[];
  private closedSockets = 0;
  private finished = false;

  constructor(private readonly client: net.Socket, targetPort: number, delay: () => number, private readonly onClosed: () => void) {
    // half-open both ways, so an end is forwarded only after the data queued before it
    this.upstream = net.connect({ host: LOOPBACK, port: targetPort, allowHalfOpen: true });
    client.setNoDelay(true);
    this.upstream.setNoDelay(true);
    const toUpstream = new DelayedPipe(this.upstream, delay);
    const toClient = new DelayedPipe(client, delay);
    this.pipes = [toUpstream, toClient];
    client.on('data', (chunk) => toUpstream.push(chunk));
    this.upstream.on('data', (chunk) => toClient.push(chunk));
    client.on('end', () => toUpstream.push(null));
    this.upstream.on('end', () => toClient.push(null));
    for (const s of [client, this.upstream]) {
      // a reset is not delayed: it is what the far side sees when the link breaks
      s.on('error', () => this.drop());
      s.on('close', () => {
        if (++this.closedSockets === 2) this.finish();
        // one side gone before we forwarded an end to the other: nothing more can flow, reset it
        else if (!(s === client ? this.upstream : client).writableEnded) this.drop();
      });
    }
  }

  drop(): void {
    for (const p of this.pipes) p.stop();
    this.client.destroy();
    this.upstream.destroy();
    this.finish();
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.onClosed();
  }
}

function checkSettings(s: DelaySettings): Required<DelaySettings> {
  const jitterMs = s.jitterMs ?? 0;
  if (!Number.isFinite(s.rttMs) || s.rttMs < 0) throw new RangeError(`rttMs must be a finite number >= 0, got ${s.rttMs}`);
  if (!Number.isFinite(jitterMs) || jitterMs < 0) throw new RangeError(`jitterMs must be a finite number >= 0, got ${jitterMs}`);
  return { rttMs: s.rttMs, jitterMs };
}
