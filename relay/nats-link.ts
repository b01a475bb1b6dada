// The relay's one NATS connection, and the one place that decides whether NATS can take data.
//
// "Usable" means: connected, the server answered our last heartbeat PING in time, and the bytes we
// handed to the client since the last answered PING stay under the outbound budget. Everything
// the relay publishes goes through `publish`, which drops (and names the reason) when it is not.
//
// Why our own heartbeat: the client's PINGs (pingInterval/maxPingOut, @nats-io/nats-core
// lib/heartbeats.js) only disconnect after maxPingOut unanswered intervals, and while the server
// is hung (SIGSTOP) its socket keeps accepting bytes into kernel buffers and the client's
// unbounded outbound buffer. A PONG answers every byte written before its PING (the server reads
// one stream in order), so "published since the last answered PING" bounds what NATS holds for us.
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import { connect } from '@nats-io/transport-node';
import { allocBytes } from '../protocol';
import type { Logger } from './log';
import type { DropReason, RelayMetrics } from './metrics';

/** How often a heartbeat PING is sent while the previous one has been answered. */
export const NATS_HEARTBEAT_MS = 500;
/** A PING unanswered this long means the server is hung: not usable (within 5 s of the hang). */
export const NATS_STALL_MS = 2_000;
/**
 * The client's own PINGs: it disconnects (and reconnects) after maxPingOut unanswered ones, so a
 * hung server is replaced within pingInterval × (maxPingOut + 1) = 6 s (heartbeats.js above).
 */
const CLIENT_PING_INTERVAL_MS = 2_000;
const CLIENT_MAX_PING_OUT = 2;

export interface NatsLinkOptions {
  servers: string[];
  name: string;
  outboundBudgetBytes: number;
}

export class NatsLink {
  private nc: NatsConnection | undefined;
  private connected = false;
  private closing = false;
  /** Bytes handed to the client since connect, and how many of them an answered PING covers. */
  private publishedBytes = 0;
  private acknowledgedBytes = 0;
  /** When the outstanding heartbeat PING was sent, or undefined when none is outstanding. */
  private pingSentMs: number | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private outbox: Array<{ subject: string; frame: Uint8Array }> = [];

  constructor(
    private readonly options: NatsLinkOptions,
    private readonly log: Logger,
    private readonly metrics: RelayMetrics,
    private readonly clock: () => number = Date.now,
  ) {}

  /** True once the first connection is up: subscriptions can be made from then on. */
  get started(): boolean {
    return this.nc !== undefined;
  }

  /** The server's max_payload (from its INFO), or undefined before the first connection. */
  get maxPayload(): number | undefined {
    return this.nc?.info?.max_payload;
  }

  /** Bytes handed to NATS that the server has not yet confirmed reading. */
  get outboundBytes(): number {
    return this.publishedBytes - this.acknowledgedBytes;
  }

  /** Why NATS cannot take data now, or undefined when it can. The one answer to "is NATS usable". */
  get problem(): DropReason | undefined {
    if (this.nc === undefined || !this.connected) return 'nats_disconnected';
    if (this.pingSentMs !== undefined && this.clock() - this.pingSentMs >= NATS_STALL_MS) return 'nats_stalled';
    if (this.outboundBytes >= this.options.outboundBudgetBytes) return 'nats_outbound_full';
    return undefined;
  }

  get usable(): boolean {
    return this.problem === undefined;
  }

  async start(): Promise<void> {
    try {
      const nc = await connect({
        servers: this.options.servers,
        name: this.options.name,
        // Our own publishes are delivered locally through uWS topics; NATS must not send them back.
        noEcho: true,
        waitOnFirstConnect: true,
        maxReconnectAttempts: -1,
        reconnectTimeWait: 250,
        pingInterval: CLIENT_PING_INTERVAL_MS,
        maxPingOut: CLIENT_MAX_PING_OUT,
      });
      this.nc = nc;
      this.onConnected();
      this.log.info('nats connected', { server: nc.getServer(), maxPayload: this.maxPayload });
      this.heartbeatTimer = setInterval(() => this.heartbeat(), NATS_HEARTBEAT_MS);
      void this.watch(nc);
    } catch (err) {
      if (!this.closing) this.log.error('nats connection failed', { error: err });
    }
  }

  private onConnected(): void {
    this.connected = true;
    this.pingSentMs = undefined;
    this.acknowledgedBytes = this.publishedBytes;
    this.metrics.natsConnected.set(1);
  }

  private async watch(nc: NatsConnection): Promise<void> {
    for await (const s of nc.status()) {
      switch (s.type) {
        case 'disconnect':
          this.connected = false;
          this.metrics.natsConnected.set(0);
          this.log.warn('nats disconnected', { server: s.server });
          break;
        case 'reconnect':
          // The client re-sends every subscription on reconnect, so each room is subscribed again.
          this.onConnected();
          this.metrics.natsReconnects.inc();
          this.log.info('nats reconnected', { server: s.server, maxPayload: this.maxPayload });
          break;
        case 'error':
          this.log.warn('nats error', { error: s.error });
          break;
        default:
      }
    }
    if (!this.closing) {
      this.connected = false;
      this.metrics.natsConnected.set(0);
      this.log.error('nats connection closed');
    }
  }

  private heartbeat(): void {
    const nc = this.nc;
    if (nc === undefined || !this.connected || this.pingSentMs !== undefined) return;
    const covers = this.publishedBytes;
    this.pingSentMs = this.clock();
    nc.flush().then(
      () => {
        this.pingSentMs = undefined;
        this.acknowledgedBytes = Math.max(this.acknowledgedBytes, covers);
      },
      // Rejected on disconnect; the reconnect resets the accounting.
      () => { this.pingSentMs = undefined; },
    );
  }

  /** Only after `started`. */
  subscribe(subject: string, onMessage: (err: Error | null, msg: Msg) => void): Subscription {
    return this.nc!.subscribe(subject, { callback: onMessage });
  }

  /** Why a publish of `bytes` would be refused now, or undefined when it would be queued. */
  refusal(bytes: number): DropReason | undefined {
    const problem = this.problem;
    if (problem !== undefined) return problem;
    const max = this.maxPayload;
    return max !== undefined && bytes > max ? 'over_nats_max_payload' : undefined;
  }

  /**
   * Queues a publish, or returns why not (nothing is queued then; the caller counts the drop).
   * The queue goes out in setImmediate, right after this poll phase, so frames read from many
   * sockets in one loop turn share one write to NATS. `frame` must be owned by the caller (not
   * borrowed from uWS): it is sent after the caller returns.
   */
  publish(subject: string, frame: Uint8Array): DropReason | undefined {
    const refused = this.refusal(frame.byteLength);
    if (refused !== undefined) return refused;
    this.publishedBytes += frame.byteLength;
    this.outbox.push({ subject, frame });
    if (this.outbox.length === 1) setImmediate(() => this.flush());
    return undefined;
  }

  /**
   * Sends the queued publishes now; returns the frames and bytes sent and the count that failed.
   * The batch goes to the client as one buffer of PUB commands (encodePublishes), through its own
   * command queue, so it keeps its place among the client's other commands (PING, SUB) and its
   * reconnect buffering; `nc.publish` per frame would validate, format and UTF-8-encode a command
   * string and allocate for each. Closing (drain), or with a client that lacks that queue, each
   * frame goes through `nc.publish`.
   */
  flush(): { frames: number; bytes: number; failed: number } {
    const batch = this.outbox;
    this.outbox = [];
    const sent = { frames: 0, bytes: 0, failed: 0 };
    const nc = this.nc;
    const send = this.closing || nc === undefined ? undefined : commandQueue(nc);
    if (send !== undefined && batch.length > 0) {
      const wire = encodePublishes(batch, this.maxPayload);
      for (const i of wire.refused) {
        sent.failed++;
        this.log.warn('nats publish failed', { subject: batch[i].subject, error: 'invalid subject or over max_payload' });
      }
      if (wire.frames > 0) send(wire.bytes);
      sent.frames = wire.frames;
      sent.bytes = wire.payloadBytes;
    } else {
      for (const { subject, frame } of batch) {
        try {
          nc!.publish(subject, frame);
          sent.frames++;
          sent.bytes += frame.byteLength;
        } catch (err) {
          sent.failed++;
          this.log.warn('nats publish failed', { subject, error: err });
        }
      }
    }
    this.onFlushed?.(sent);
    return sent;
  }

  /** Told about every batch sent (metrics live in the server). */
  onFlushed: ((sent: { frames: number; bytes: number; failed: number }) => void) | undefined;

  /** Drains the connection, or closes it after `timeoutMs`. */
  async close(timeoutMs: number): Promise<'drained' | 'timeout' | 'failed' | 'none'> {
    this.closing = true;
    if (this.heartbeatTimer !== undefined) clearInterval(this.heartbeatTimer);
    this.flush();
    const nc = this.nc;
    if (nc === undefined || nc.isClosed()) return 'none';
    const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), timeoutMs).unref());
    const result = await Promise.race([nc.drain().then(() => 'drained' as const), timeout]).catch((err: unknown) => {
      this.log.warn('nats drain failed', { error: err });
      return 'failed' as const;
    });
    if (result !== 'drained') await nc.close().catch(() => undefined);
    return result;
  }
}

/**
 * The client's own outbound command queue: nats-core's ProtocolHandler.sendCommand, declared public
 * in its typings (lib/protocol.d.ts; NatsConnectionImpl.protocol in lib/nats.d.ts). It queues bytes
 * behind whatever the client has queued and writes them with the rest in one socket write
 * (flushPending), or holds them while reconnecting, as `publish` does with the command it formats.
 */
export function commandQueue(nc: NatsConnection): ((bytes: Uint8Array) => void) | undefined {
  const protocol = (nc as { protocol?: { sendCommand?: (cmd: Uint8Array) => void } }).protocol;
  if (protocol === undefined || typeof protocol.sendCommand !== 'function') return undefined;
  return (bytes) => protocol.sendCommand!(bytes);
}

const textEncoder = new TextEncoder();
const CONTROL_OR_SPACE = /[\u0000-\u0020\u007f]/;
const CR = 0x0d;
const LF = 0x0a;
const SPACE = 0x20;

/**
 * `PUB <subject> <#bytes>\r\n<payload>\r\n` for each publish, back to back: the NATS client protocol's
 * PUB (docs.nats.io/reference/reference-protocols/nats-protocol#pub), byte for byte what nats-core's
 * ProtocolHandler.publish queues for a publish without reply or headers. A subject nats-core would
 * refuse (empty, or with whitespace: nats.js `_check`; here any control character too, which would
 * break the command line) and a payload over `maxPayload` (ProtocolHandler.publish throws) are left
 * out and listed in `refused`.
 */
export function encodePublishes(
  batch: ReadonlyArray<{ subject: string; frame: Uint8Array }>,
  maxPayload: number | undefined,
): { bytes: Uint8Array; frames: number; payloadBytes: number; refused: number[] } {
  let size = 0;
  for (const { subject, frame } of batch) size += 4 + 3 * subject.length + 1 + 10 + 2 + frame.byteLength + 2; // UTF-8 is ≤ 3 bytes per UTF-16 unit
  const out = allocBytes(size);
  let n = 0;
  let frames = 0;
  let payloadBytes = 0;
  const refused: number[] = [];
  for (let i = 0; i < batch.length; i++) {
    const { subject, frame } = batch[i];
    const start = n;
    out[n++] = 0x50; // P
    out[n++] = 0x55; // U
    out[n++] = 0x42; // B
    out[n++] = SPACE;
    let ok = subject.length > 0 && (maxPayload === undefined || frame.byteLength <= maxPayload);
    for (let k = 0; ok && k < subject.length; k++) {
      const c = subject.charCodeAt(k);
      if (c <= SPACE || c === 0x7f) ok = false;
      else if (c < 0x80) out[n++] = c;
      else {
        // rare: a non-ASCII subject is checked and written whole by the UTF-8 encoder
        ok = !CONTROL_OR_SPACE.test(subject);
        if (ok) n = start + 4 + textEncoder.encodeInto(subject, out.subarray(start + 4)).written;
        break;
      }
    }
    if (!ok) {
      n = start;
      refused.push(i);
      continue;
    }
    out[n++] = SPACE;
    n = writeDecimal(out, n, frame.byteLength);
    out[n++] = CR;
    out[n++] = LF;
    out.set(frame, n);
    n += frame.byteLength;
    out[n++] = CR;
    out[n++] = LF;
    frames++;
    payloadBytes += frame.byteLength;
  }
  return { bytes: out.subarray(0, n), frames, payloadBytes, refused };
}

function writeDecimal(out: Uint8Array, at: number, value: number): number {
  let digits = 1;
  for (let v = value; v >= 10; v = Math.floor(v / 10)) digits++;
  for (let k = digits - 1, v = value; k >= 0; k--, v = Math.floor(v / 10)) out[at + k] = 0x30 + (v % 10);
  return at + digits;
}
