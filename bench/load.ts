// The load generator shared by the fan-out and latency benchmarks: participants of one room on our
// relay, on the ws yardstick or straight on NATS, sending timestamped MEDIA frames at a fixed rate
// or as fast as the system delivers them, and receivers measuring delivery latency on the same clock.
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/transport-node';
import WebSocket from 'ws';
import {
  MediaType, PacketType, decodeMediaPacket, decodePacketWrapper, encodeMediaPacket, encodePacketWrapper, subjects, utf8,
} from '../protocol';
import { CpuMeter } from './procs';
import { Samples, type Distribution } from './stats';

/** One member of the benchmark room, whatever carries it. */
export interface Participant {
  readonly index: number;
  /** which server it is connected to (the latency benchmark splits a room over two relays) */
  readonly group: number;
  send(frame: Uint8Array): void;
  /** bytes queued locally and not yet written to the socket */
  buffered(): number;
  onFrame: (frame: Uint8Array) => void;
  close(): Promise<void>;
}

const MAGIC = 0x56434742; // "VCGB"
const TIMESTAMP_SENTINEL = Math.PI * 1e100;

/** Fixed-width user ids keep every sender's frame layout identical. */
export const userIdOf = (index: number) => `u${String(index).padStart(4, '0')}`;

/**
 * A MEDIA PacketWrapper of exactly `size` bytes from sender `index`, built with protocol/'s
 * encoders; its payload carries a magic, the run id and the sender, and MediaPacket.timestamp
 * is overwritten with the send time for every frame sent.
 */
export class FrameTemplate {
  readonly bytes: Uint8Array;
  readonly timestampOffset: number;
  readonly payloadOffset: number;

  constructor(readonly size: number, readonly runId: number, readonly sender: number) {
    const build = (payloadLength: number) => {
      const payload = new Uint8Array(payloadLength);
      const dv = new DataView(payload.buffer);
      dv.setUint32(0, MAGIC);
      dv.setUint32(4, runId);
      dv.setUint16(8, sender);
      for (let i = 10; i < payloadLength; i++) payload[i] = (i * 31 + sender) & 0xff; // not all zeros
      return encodePacketWrapper({
        packetType: PacketType.MEDIA,
        userId: userIdOf(sender),
        data: encodeMediaPacket({ mediaType: MediaType.VIDEO, userId: userIdOf(sender), data: payload, frameType: 'delta', timestamp: TIMESTAMP_SENTINEL }),
      });
    };
    let payloadLength = size - 64;
    let bytes = build(payloadLength);
    for (let i = 0; i < 4 && bytes.length !== size; i++) bytes = build((payloadLength += size - bytes.length));
    if (bytes.length !== size) throw new Error(`cannot build a ${size}-byte frame`);
    this.bytes = bytes;
    this.payloadOffset = indexOf(bytes, magicBytes());
    const sentinel = new Uint8Array(8);
    new DataView(sentinel.buffer).setFloat64(0, TIMESTAMP_SENTINEL, true);
    this.timestampOffset = indexOf(bytes, sentinel);
    // proves the offsets are where protocol/'s decoder finds the fields
    const media = decodeMediaPacket(decodePacketWrapper(bytes).data);
    if (media.timestamp !== TIMESTAMP_SENTINEL || utf8.decode(media.userId) !== userIdOf(sender)) throw new Error('frame template does not decode');
  }

  /** A fresh copy stamped with `timestampMs` (buffers handed to a socket are never reused). */
  stamp(timestampMs: number): Buffer {
    const out = Buffer.allocUnsafe(this.bytes.length);
    out.set(this.bytes);
    out.writeDoubleLE(timestampMs, this.timestampOffset);
    return out;
  }
}

/** Sender index and send time of a benchmark frame laid out like `t` (any run id), or undefined. */
export function readBenchFrame(frame: Uint8Array, t: FrameTemplate): { sender: number; sentAt: number } | undefined {
  if (frame.length < t.size || frame[0] !== 0x08 || frame[1] !== PacketType.MEDIA) return undefined;
  const dv = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  if (dv.getUint32(t.payloadOffset) !== MAGIC || dv.getUint32(t.payloadOffset + 4) !== t.runId) return undefined;
  return { sender: dv.getUint16(t.payloadOffset + 8), sentAt: dv.getFloat64(t.timestampOffset, true) };
}

function magicBytes(): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, MAGIC);
  return b;
}

function indexOf(hay: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  throw new Error('marker not found in frame template');
}

/** A frame that activates a session (the first non-probe frame) and that receivers ignore. */
function activationFrame(index: number): Uint8Array {
  return encodePacketWrapper({
    packetType: PacketType.MEDIA,
    userId: userIdOf(index),
    data: encodeMediaPacket({ mediaType: MediaType.HEARTBEAT, userId: userIdOf(index) }),
  });
}

/**
 * A WebSocket participant of `/lobby/{user}/{room}` on our relay or the yardstick: resolves once
 * SESSION_ASSIGNED arrived and the session has been activated.
 */
export async function wsParticipant(baseUrl: string, room: string, index: number, group = 0): Promise<Participant> {
  const ws = new WebSocket(`${baseUrl}/lobby/${userIdOf(index)}/${room}`, { perMessageDeflate: false });
  const p: Participant = {
    index,
    group,
    send: (frame) => ws.send(frame),
    buffered: () => ws.bufferedAmount,
    onFrame: () => undefined,
    close: () => closeWs(ws),
  };
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${baseUrl}: no SESSION_ASSIGNED within 15 s`)), 15_000);
    ws.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (!isBinary) return;
      if (data[0] === 0x08 && data[1] === PacketType.SESSION_ASSIGNED) {
        clearTimeout(timer);
        resolve();
      }
      p.onFrame(data);
    });
  });
  ws.on('error', () => undefined); // a relay killed on purpose must not crash the generator
  ws.send(activationFrame(index));
  return p;
}

function closeWs(ws: WebSocket): Promise<void> {
  if (ws.readyState === WebSocket.CLOSED) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      ws.terminate();
      resolve();
    }, 2_000);
    ws.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    ws.close(1000, 'benchmark done');
  });
}

/** A participant straight on NATS: its own connection (echo off), `room.{room}.*`, its own subject. */
export async function natsParticipant(natsUrl: string, room: string, index: number): Promise<Participant> {
  const nc: NatsConnection = await connect({ servers: natsUrl, noEcho: true, name: `bench-${userIdOf(index)}` });
  const subject = subjects.session(room, BigInt(index + 1));
  const p: Participant = {
    index,
    group: 0,
    send: (frame) => nc.publish(subject, frame),
    buffered: () => 0,
    onFrame: () => undefined,
    close: () => nc.close(),
  };
  nc.subscribe(subjects.roomWildcard(room), { callback: (err, msg) => { if (err === null) p.onFrame(msg.data); } });
  await nc.flush();
  return p;
}

export type SendMode =
  /** every participant sends `fps` frames a second */
  | { kind: 'rate'; fps: number }
  /** as fast as the system delivers: each sender keeps at most `window` frames undelivered (per receiver) */
  | { kind: 'saturate'; window: number };

export interface RunOptions {
  participants: readonly Participant[];
  frameBytes: number;
  mode: SendMode;
  warmupMs: number;
  durationMs: number;
  /** pids whose CPU use is reported (name → pid) */
  cpuPids?: Record<string, number>;
}

export interface RunResult {
  /** frames received by all receivers per second, in the measured window */
  deliveredPerSec: number;
  /** frames sent by all senders per second, in the measured window */
  sentPerSec: number;
  /** delivery latency of frames received in the window, ms */
  latencyMs: Distribution;
  /** only deliveries between participants on different servers (group) */
  crossLatencyMs?: Distribution;
  /** only deliveries between participants on the same server */
  sameLatencyMs?: Distribution;
  /** deliveries given up on (dropped somewhere) in saturation mode */
  lost: number;
  /** % of one core, per process, over the measured window */
  cpu: Record<string, number>;
}

let nextRunId = 1;

/** Per-sender send socket limit, so a sender never queues without bound in the generator. */
const MAX_LOCAL_BUFFER = 1024 * 1024;
/** In saturation, undelivered frames that see no progress this long are written off as lost. */
const STALL_MS = 1_000;

export async function runLoad(opts: RunOptions): Promise<RunResult> {
  const { participants, mode } = opts;
  const n = participants.length;
  const runId = nextRunId++;
  const templates = participants.map((p) => new FrameTemplate(opts.frameBytes, runId, p.index));
  const { payloadOffset, timestampOffset } = templates[0];
  if (templates.some((t) => t.payloadOffset !== payloadOffset || t.timestampOffset !== timestampOffset)) throw new Error('frame layouts differ between senders');
  const minLength = opts.frameBytes;
  const bySender = new Map(participants.map((p, i) => [p.index, i]));

  const sent = new Array<number>(n).fill(0);
  const delivered = new Array<number>(n).fill(0);
  const writtenOff = new Array<number>(n).fill(0);
  const lastProgress = new Array<number>(n).fill(performance.now());
  const latency = new Samples();
  const cross = new Samples();
  const same = new Samples();
  let measuring = false;
  let windowDelivered = 0;
  let windowSent = 0;
  let sending = true;
  let pumpQueued = false;

  const send = (i: number) => {
    const frame = templates[i].stamp(performance.now());
    participants[i].send(frame);
    sent[i]++;
    if (measuring) windowSent++;
  };

  const canSend = (i: number, window: number) =>
    (sent[i] * (n - 1) - delivered[i] - writtenOff[i]) < window * (n - 1) && participants[i].buffered() < MAX_LOCAL_BUFFER;

  const pump = () => {
    pumpQueued = false;
    if (!sending || mode.kind !== 'saturate') return;
    for (let i = 0; i < n; i++) while (canSend(i, mode.window)) send(i);
  };
  const schedulePump = () => {
    if (pumpQueued) return;
    pumpQueued = true;
    setImmediate(pump);
  };

  participants.forEach((p) => {
    p.onFrame = (frame) => {
      if (frame.length < minLength || frame[0] !== 0x08 || frame[1] !== PacketType.MEDIA) return;
      const dv = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
      if (dv.getUint32(payloadOffset) !== MAGIC || dv.getUint32(payloadOffset + 4) !== runId) return;
      const now = performance.now();
      const s = bySender.get(dv.getUint16(payloadOffset + 8));
      if (s === undefined) return;
      delivered[s]++;
      lastProgress[s] = now;
      if (measuring) {
        windowDelivered++;
        const ms = now - dv.getFloat64(timestampOffset, true);
        latency.push(ms);
        if (participants[s].group !== p.group) cross.push(ms);
        else same.push(ms);
      }
      if (mode.kind === 'saturate') schedulePump();
    };
  });

  const cpu = new CpuMeter(opts.cpuPids ?? {});
  const start = performance.now();
  let ticker: NodeJS.Timeout;
  if (mode.kind === 'rate') {
    const intervalMs = 1000 / mode.fps;
    // senders are spread evenly over one frame interval, as independent cameras would be
    ticker = setInterval(() => {
      const now = performance.now();
      for (let i = 0; i < n; i++) {
        const due = Math.floor((now - start - (intervalMs * i) / n) / intervalMs) + 1;
        while (sending && sent[i] < due && participants[i].buffered() < MAX_LOCAL_BUFFER) send(i);
      }
    }, 1);
  } else {
    ticker = setInterval(() => {
      const now = performance.now();
      for (let i = 0; i < n; i++) {
        const outstanding = sent[i] * (n - 1) - delivered[i] - writtenOff[i];
        if (outstanding > 0 && now - lastProgress[i] > STALL_MS) {
          writtenOff[i] += outstanding;
          lastProgress[i] = now;
        }
      }
      pump();
    }, 5);
    pump();
  }

  await sleep(opts.warmupMs);
  measuring = true;
  cpu.begin();
  const t0 = performance.now();
  await sleep(opts.durationMs);
  measuring = false;
  const elapsed = performance.now() - t0;
  const cpuUse = cpu.end();
  sending = false;
  clearInterval(ticker);
  // let what is in flight arrive, so the next run starts clean
  const drainDeadline = performance.now() + 2_000;
  while (performance.now() < drainDeadline && participants.some((_, i) => sent[i] * (n - 1) - delivered[i] - writtenOff[i] > 0)) await sleep(20);
  for (const p of participants) p.onFrame = () => undefined;

  const lost = writtenOff.reduce((a, b) => a + b, 0) + participants.reduce((a, _, i) => a + Math.max(0, sent[i] * (n - 1) - delivered[i] - writtenOff[i]), 0);
  return {
    deliveredPerSec: (windowDelivered / elapsed) * 1000,
    sentPerSec: (windowSent / elapsed) * 1000,
    latencyMs: latency.summary(),
    crossLatencyMs: cross.length > 0 ? cross.summary() : undefined,
    sameLatencyMs: same.length > 0 ? same.summary() : undefined,
    lost,
    cpu: cpuUse,
  };
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Connects `count` participants with at most `concurrency` handshakes in flight. */
export async function connectAll(count: number, open: (index: number) => Promise<Participant>, concurrency = 50): Promise<Participant[]> {
  const out: Participant[] = new Array(count);
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      out[i] = await open(i);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  } catch (err) {
    await Promise.all(out.filter(Boolean).map((p) => p.close()));
    throw err;
  }
  return out;
}

export async function closeAll(participants: readonly Participant[]): Promise<void> {
  await Promise.all(participants.map((p) => p.close().catch(() => undefined)));
}
