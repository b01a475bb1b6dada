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
  /** this turn's publishes; each frame is a view of its payload in the wire chunk (or its own buffer) */
  private outbox: Array<{ subject: string; frame: Uint8Array; valid: boolean }> = [];
  /**
   * The turn's PUB commands are written into a chunk that outlives the turn: bytes [wireSent, wireUsed)
   * are queued, what is before them has been handed to the client (which may still hold that view until
   * its socket takes it), and nothing once written is written again. A chunk that fills up is retired
   * to `wireRetired` until the flush and a larger or fresh one takes its place: one allocation per
   * WIRE_CHUNK_BYTES of traffic instead of one per turn and one per stamped frame.
   */
  private wire: Uint8Array = new Uint8Array(0);
  private wireUsed = 0;
  private wireSent = 0;
  private wireRetired: Uint8Array[] = [];

  constructor(
    private readonly options: NatsLinkOptions,
    private readonly log: Logger,
    private readonly metrics: RelayMetrics,
    private readonly clock: () => number = Date.now,
    /** runs the batch at the end of this poll phase (the server shares one setImmediate a turn) */
    private readonly schedule: (run: () => void) => void = setImmediate,
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
   * The queue goes out right after this poll phase (`schedule`), so frames read from many
   * sockets in one loop turn share one write to NATS. `frame` is copied into the turn's PUB batch.
   */
  publish(subject: string, frame: Uint8Array): DropReason | undefined {
    const slot = this.reserve(subject, frame.byteLength);
    if (typeof slot === 'string') return slot;
    slot.set(frame);
    return undefined;
  }

  /**
   * Queues a publish of `length` bytes on `subject` and returns where its payload goes, for the caller
   * to fill before this turn ends (the relay stamps client frames straight into it), or why not. The
   * view stays valid and unchanged for as long as the caller holds it (the local fan-out reads it later
   * in the turn). A subject NATS would refuse (empty, or with a space or control character: nats.js
   * `_check`; a control character would break the command line) gets a buffer of its own, is left out
   * of the batch and counted as failed when the batch goes out, as `nc.publish` would have thrown.
   */
  reserve(subject: string, length: number): Uint8Array | DropReason {
    const refused = this.refusal(length);
    if (refused !== undefined) return refused;
    this.publishedBytes += length;
    if (this.outbox.length === 0) this.schedule(this.flushNow);
    const need = pubLength(subject, length);
    if (this.wire.length - this.wireUsed < need) this.newWireChunk(need);
    const end = writePubHeader(this.wire, this.wireUsed, subject, length);
    if (end < 0) {
      const own = allocBytes(length);
      this.outbox.push({ subject, frame: own, valid: false });
      return own;
    }
    const payload = this.wire.subarray(end, end + length);
    this.wire[end + length] = CR;
    this.wire[end + length + 1] = LF;
    this.wireUsed = end + length + 2;
    this.outbox.push({ subject, frame: payload, valid: true });
    return payload;
  }

  private readonly flushNow = () => {
    this.flush();
  };

  private newWireChunk(need: number): void {
    if (this.wireUsed > this.wireSent) this.wireRetired.push(this.wire.subarray(this.wireSent, this.wireUsed));
    this.wire = allocBytes(Math.max(WIRE_CHUNK_BYTES, need));
    this.wireUsed = 0;
    this.wireSent = 0;
  }

  /**
   * Sends the queued publishes now; returns the frames and bytes sent and the count that failed.
   * The batch goes to the client as PUB commands written by `reserve`, through its own command queue,
   * so it keeps its place among the client's other commands (PING, SUB) and its reconnect buffering;
   * `nc.publish` per frame would validate, format and UTF-8-encode a command string and allocate for
   * each. Closing (drain), or with a client that lacks that queue, each frame goes through `nc.publish`.
   */
  flush(): { frames: number; bytes: number; failed: number } {
    const batch = this.outbox;
    this.outbox = [];
    const pieces = this.wireRetired;
    this.wireRetired = [];
    if (this.wireUsed > this.wireSent) pieces.push(this.wire.subarray(this.wireSent, this.wireUsed));
    this.wireSent = this.wireUsed;
    const sent = { frames: 0, bytes: 0, failed: 0 };
    const nc = this.nc;
    const send = this.closing || nc === undefined ? undefined : commandQueue(nc);
    for (const { subject, frame, valid } of batch) {
      let error: unknown;
      if (send === undefined) {
        try {
          nc!.publish(subject, frame);
        } catch (err) {
          error = err;
        }
      } else if (!valid) {
        error = 'invalid subject';
      }
      if (error === undefined) {
        sent.frames++;
        sent.bytes += frame.byteLength;
      } else {
        sent.failed++;
        this.log.warn('nats publish failed', { subject, error });
      }
    }
    if (send !== undefined) for (const piece of pieces) send(piece);
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

/** Size of the chunks PUB commands are written into; a publish that needs more gets a chunk of its own size. */
export const WIRE_CHUNK_BYTES = 64 * 1024;

/** The most bytes `PUB <subject> <length>\r\n<payload>\r\n` can take (UTF-8 is ≤ 3 bytes per UTF-16 unit). */
export function pubLength(subject: string, length: number): number {
  return 4 + 3 * subject.length + 1 + 10 + 2 + length + 2;
}

/**
 * Writes `PUB <subject> <length>\r\n` at `at`: the NATS client protocol's PUB
 * (docs.nats.io/reference/reference-protocols/nats-protocol#pub), byte for byte what nats-core's
 * ProtocolHandler.publish queues for a publish without reply or headers. Returns where the payload
 * starts, or −1 for a subject nats-core would refuse (empty, or with whitespace: nats.js `_check`;
 * here any control character too, which would break the command line); what it wrote is then scratch.
 */
export function writePubHeader(out: Uint8Array, at: number, subject: string, length: number): number {
  let n = at;
  out[n++] = 0x50; // P
  out[n++] = 0x55; // U
  out[n++] = 0x42; // B
  out[n++] = SPACE;
  if (subject.length === 0) return -1;
  for (let k = 0; k < subject.length; k++) {
    const c = subject.charCodeAt(k);
    if (c <= SPACE || c === 0x7f) return -1;
    if (c < 0x80) {
      out[n++] = c;
      continue;
    }
    // rare: a non-ASCII subject is checked and written whole by the UTF-8 encoder
    if (CONTROL_OR_SPACE.test(subject)) return -1;
    n = at + 4 + textEncoder.encodeInto(subject, out.subarray(at + 4)).written;
    break;
  }
  out[n++] = SPACE;
  n = writeDecimal(out, n, length);
  out[n++] = CR;
  out[n++] = LF;
  return n;
}

function writeDecimal(out: Uint8Array, at: number, value: number): number {
  let digits = 1;
  for (let v = value; v >= 10; v = Math.floor(v / 10)) digits++;
  for (let k = digits - 1, v = value; k >= 0; k--, v = Math.floor(v / 10)) out[at + k] = 0x30 + (v % 10);
  return at + digits;
}
