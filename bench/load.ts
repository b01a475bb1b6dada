// The load generator shared by the fan-out and latency benchmarks: participants of one room on our
// relay, on the ws yardstick or straight on NATS, sending timestamped MEDIA frames at a fixed rate
// or as fast as the system delivers them, and receivers measuring delivery latency on the same clock.
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/transport-node';
import net from 'node:net';
import WebSocket from 'ws';
import {
  MediaType, PacketType, decodeMediaPacket, decodePacketWrapper, encodeMediaPacket, encodePacketWrapper, encodeRttProbe, subjects, utf8,
} from '../protocol';
import { CpuMeter } from './procs';
import { Histogram, type Distribution, type HistogramData } from './stats';

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

/** Opens every benchmark frame's payload: magic u32 BE, run id u32 BE, sender u16 BE (bench/native/wsload.c reads the same). */
export const MAGIC = 0x56434742; // "VCGB"
const TIMESTAMP_SENTINEL = Math.PI * 1e100;

/** Fixed-width user ids keep every sender's frame layout identical. */
export const userIdOf = (index: number) => `u${String(index).padStart(5, '0')}`;

/** The unauthenticated lobby path participant `index` of `room` joins. */
export const lobbyPath = (index: number, room: string) => `/lobby/${userIdOf(index)}/${room}`;

/** A PacketWrapper's first byte: the tag of field 1 (packet_type, varint), so its second byte is the type. */
export const WRAPPER_TYPE_TAG = 0x08;

/**
 * A MEDIA PacketWrapper of exactly `size` bytes from sender `index`, built with protocol/'s
 * encoders; its payload carries a magic, the run id and the sender, and MediaPacket.timestamp
 * is overwritten with the send time for every frame sent.
 */
export class FrameTemplate {
  readonly bytes: Uint8Array;
  readonly timestampOffset: number;
  readonly payloadOffset: number;

  /** where the sender's user id is written (wrapper and media packet) */
  readonly userIdOffsets: number[];

  constructor(readonly size: number, readonly runId: number, readonly sender: number, mediaType: MediaType = MediaType.VIDEO) {
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
        data: encodeMediaPacket({ mediaType, userId: userIdOf(sender), data: payload, frameType: size >= 20_000 ? 'key' : 'delta', timestamp: TIMESTAMP_SENTINEL }),
      });
    };
    let payloadLength = Math.max(12, size - 64);
    let bytes = build(payloadLength);
    for (let i = 0; i < 4 && bytes.length !== size; i++) bytes = build((payloadLength += size - bytes.length));
    if (bytes.length !== size) throw new Error(`cannot build a ${size}-byte frame`);
    this.bytes = bytes;
    this.payloadOffset = indexOf(bytes, magicBytes());
    const sentinel = new Uint8Array(8);
    new DataView(sentinel.buffer).setFloat64(0, TIMESTAMP_SENTINEL, true);
    this.timestampOffset = indexOf(bytes, sentinel);
    const id = utf8.encode(userIdOf(sender));
    this.userIdOffsets = [indexOf(bytes, id)];
    this.userIdOffsets.push(indexOf(bytes, id, this.userIdOffsets[0] + 1));
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

  /** Like stamp(), as sent by participant `sender` whose user id is `userId` (same length). */
  stampAs(timestampMs: number, sender: number, userId: Uint8Array): Buffer {
    const out = this.stamp(timestampMs);
    for (const o of this.userIdOffsets) out.set(userId, o);
    out.writeUInt16BE(sender, this.payloadOffset + 8);
    return out;
  }
}

/** Sender index and send time of a benchmark frame laid out like `t` (any run id), or undefined. */
export function readBenchFrame(frame: Uint8Array, t: FrameTemplate): { sender: number; sentAt: number } | undefined {
  if (frame.length < t.size || frame[0] !== WRAPPER_TYPE_TAG || frame[1] !== PacketType.MEDIA) return undefined;
  const dv = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  if (dv.getUint32(t.payloadOffset) !== MAGIC || dv.getUint32(t.payloadOffset + 4) !== t.runId) return undefined;
  return { sender: dv.getUint16(t.payloadOffset + 8), sentAt: dv.getFloat64(t.timestampOffset, true) };
}

function magicBytes(): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, MAGIC);
  return b;
}

function indexOf(hay: Uint8Array, needle: Uint8Array, from = 0): number {
  outer: for (let i = from; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  throw new Error('marker not found in frame template');
}

/** A frame that activates a session (the first non-probe frame) and that receivers ignore. */
export function activationFrame(index: number): Uint8Array {
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
  let socket: net.Socket | undefined;
  const ws = new WebSocket(`${baseUrl}${lobbyPath(index, room)}`, {
    perMessageDeflate: false,
    // ws's own netConnect, keeping the socket: `path` is the URL's path here, and net reads it as an IPC path
    createConnection: ((o: net.NetConnectOpts & { socketPath?: string }) => (socket = net.connect({ ...o, path: o.socketPath } as net.NetConnectOpts))) as typeof net.createConnection,
  });
  let corked = false;
  const uncork = () => {
    corked = false;
    socket?.uncork();
  };
  const p: Participant = {
    index,
    group,
    // Frames sent in one turn leave in one write, as a browser's network stack writes what a page
    // queued meanwhile: one write() per frame would make the generator, not the system, the bottleneck.
    send: (frame) => {
      if (!corked && socket !== undefined) {
        corked = true;
        socket.cork();
        process.nextTick(uncork);
      }
      ws.send(frame);
    },
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
      if (data[0] === WRAPPER_TYPE_TAG && data[1] === PacketType.SESSION_ASSIGNED) {
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
  | { kind: 'saturate'; window: number }
  /** a real call's mix per participant (MEDIA_MIX): audio, video with keyframes, heartbeats, RTT probes */
  | { kind: 'media' };

/**
 * What one participant of a real call sends (the videocall client's rates): Opus audio every
 * 20 ms, 100–200 bytes; video at 30 fps with a ~40 KB keyframe every 2 s and deltas of a few KB;
 * one heartbeat a second (fanned out like media); one RTT probe a second to its active relay
 * (echoed, never fanned out; rtt-client's activeProbeIntervalMs).
 */
export const MEDIA_MIX = {
  audio: { perSec: 50, bytes: [100, 150, 200] },
  video: { perSec: 30, keyframeEvery: 60, keyframeBytes: 40 * 1024, deltaBytes: [2048, 3072, 4096] },
  heartbeat: { perSec: 1, bytes: 64 },
  rttProbe: { perSec: 1 },
} as const;

/** In a media stream's cycle: the participant's RTT probe, not a fanned-out frame. */
export const RTT_PROBE = 0;

/** One stream of MEDIA_MIX: its k-th send is `cycle[k % cycle.length]` bytes (RTT_PROBE: a probe). */
export interface MediaStream {
  periodMs: number;
  cycle: readonly number[];
}

/** MEDIA_MIX as the streams each participant sends; every generator paces from these. */
export function mediaStreams(): MediaStream[] {
  const { audio, video, heartbeat, rttProbe } = MEDIA_MIX;
  const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
  const videoCycle = (video.keyframeEvery * video.deltaBytes.length) / gcd(video.keyframeEvery, video.deltaBytes.length);
  return [
    { periodMs: 1000 / audio.perSec, cycle: audio.bytes },
    { periodMs: 1000 / video.perSec, cycle: Array.from({ length: videoCycle }, (_, k) => (k % video.keyframeEvery === 0 ? video.keyframeBytes : video.deltaBytes[k % video.deltaBytes.length])) },
    { periodMs: 1000 / heartbeat.perSec, cycle: [heartbeat.bytes] },
    { periodMs: 1000 / rttProbe.perSec, cycle: [RTT_PROBE] },
  ];
}

/** Where participant `i` of a generator starts its streams, as a fraction of each period (golden-ratio phases: evenly spread whatever the count). */
export const mediaPhase = (i: number): number => (i * 0.6180339887) % 1;

/** The media type a benchmark frame of `size` bytes carries in the media mix. */
export const mediaTypeOfSize = (size: number): MediaType =>
  size === MEDIA_MIX.heartbeat.bytes ? MediaType.HEARTBEAT : (MEDIA_MIX.audio.bytes as readonly number[]).includes(size) ? MediaType.AUDIO : MediaType.VIDEO;

/** The distinct fanned-out frame sizes of the media mix. */
export const mediaSizes = (): number[] => [...new Set(mediaStreams().flatMap((s) => s.cycle))].filter((b) => b !== RTT_PROBE);

/** Fanned-out frames a participant sends per second in the media mix (probes are echoed only). */
export const MEDIA_FRAMES_PER_SEC = perSecond(() => 1);
/** Bytes a participant sends per second in the media mix (fanned-out frames), as its streams cycle. */
export const MEDIA_BYTES_PER_SEC = perSecond((size) => size);

/** Σ over the fanned-out frames a participant sends in one second of `f(size)`. */
function perSecond(f: (size: number) => number): number {
  return mediaStreams().reduce((a, s) => a + ((1000 / s.periodMs) * s.cycle.reduce((b, size) => b + (size === RTT_PROBE ? 0 : f(size)), 0)) / s.cycle.length, 0);
}

export interface RunOptions {
  /** one room of participants; or `rooms` */
  participants?: readonly Participant[];
  /** several independent rooms driven together (participant indices unique across them) */
  rooms?: ReadonlyArray<readonly Participant[]>;
  /** frame size for 'rate' and 'saturate'; 'media' uses MEDIA_MIX */
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
  /** frames received in the measured window (for CPU per frame) */
  deliveredInWindow: number;
  /** measured window, ms */
  windowMs: number;
  /** delivery latency of frames received in the window, ms */
  latencyMs: Distribution;
  /** the same as a mergeable histogram (load-generator processes report it) */
  latencyHistogram: HistogramData;
  /** only deliveries between participants on different servers (group) */
  crossLatencyMs?: Distribution;
  /** only deliveries between participants on the same server */
  sameLatencyMs?: Distribution;
  /** deliveries due (sent × receivers) over the whole run, and those that never arrived */
  expected: number;
  lost: number;
  /** % of one core, per process, over the measured window */
  cpu: Record<string, number>;
}

let nextRunId = (process.pid & 0xffff) * 0x10000;
/** A run id no other run of this process used (frames of an earlier run are not counted). */
export const newRunId = (): number => nextRunId++ >>> 0;

/** Per-sender send socket limit, so a sender never queues without bound in the generator. */
export const MAX_LOCAL_BUFFER = 1024 * 1024;
/** In saturation, undelivered frames that see no progress this long are written off as lost. */
const STALL_MS = 1_000;
/** A session id field appended by the relay: tag byte + varint of a 64-bit id with the top bit set. */
const STAMPED_SESSION_ID_BYTES = 11;
/** After the last send, how long a run waits for what is in flight (then it counts as not received). */
export const DRAIN_MS = 2_000;
/** The media mix is paced by one timer for all participants. */
export const MEDIA_TICK_MS = 5;

export interface Layout {
  payloadOffset: number;
  timestampOffset: number;
}

/** Frame templates by size for one run: one template serves every sender (user id and sender rewritten). */
export class TemplateSet {
  private readonly bySize = new Map<number, FrameTemplate>();
  readonly layouts = new Map<number, Layout>();
  constructor(private readonly runId: number, private readonly mediaTypeOf: (size: number) => MediaType = () => MediaType.VIDEO) {}

  get(size: number): FrameTemplate {
    let t = this.bySize.get(size);
    if (t === undefined) {
      t = new FrameTemplate(size, this.runId, 0, this.mediaTypeOf(size));
      this.bySize.set(size, t);
      const layout = { payloadOffset: t.payloadOffset, timestampOffset: t.timestampOffset };
      // as sent, and as delivered by a relay that appended the sender's session id (tag + 10-byte varint)
      this.layouts.set(size, layout);
      this.layouts.set(size + STAMPED_SESSION_ID_BYTES, layout);
    }
    return t;
  }
}

export async function runLoad(opts: RunOptions): Promise<RunResult> {
  const { mode } = opts;
  const rooms = opts.rooms ?? [opts.participants ?? []];
  const participants = rooms.flat();
  const n = participants.length;
  const receiversOf = rooms.flatMap((r) => r.map(() => r.length - 1));
  const runId = newRunId();
  const templates = new TemplateSet(runId, mediaTypeOfSize);
  const sizes = mode.kind === 'media' ? mediaSizes() : [opts.frameBytes];
  for (const size of sizes) templates.get(size);
  const layouts = templates.layouts;
  const userIds = participants.map((p) => utf8.encode(userIdOf(p.index)));
  const bySender = new Map(participants.map((p, i) => [p.index, i]));
  if (bySender.size !== n) throw new Error('participant indices must be unique across rooms');

  const sent = new Array<number>(n).fill(0);
  const delivered = new Array<number>(n).fill(0);
  const writtenOff = new Array<number>(n).fill(0);
  const lastProgress = new Array<number>(n).fill(performance.now());
  const latency = new Histogram();
  const cross = new Histogram();
  const same = new Histogram();
  let measuring = false;
  let windowDelivered = 0;
  let windowSent = 0;
  let sending = true;
  let pumpQueued = false;

  const send = (i: number, size: number) => {
    const frame = templates.get(size).stampAs(monotonicMs(), participants[i].index, userIds[i]);
    participants[i].send(frame);
    sent[i]++;
    if (measuring) windowSent++;
  };

  const outstanding = (i: number) => sent[i] * receiversOf[i] - delivered[i] - writtenOff[i];
  const canSend = (i: number, window: number) => outstanding(i) < window * receiversOf[i] && participants[i].buffered() < MAX_LOCAL_BUFFER;

  const pump = () => {
    pumpQueued = false;
    if (!sending || mode.kind !== 'saturate') return;
    for (let i = 0; i < n; i++) while (canSend(i, mode.window)) send(i, opts.frameBytes);
  };
  const schedulePump = () => {
    if (pumpQueued) return;
    pumpQueued = true;
    setImmediate(pump);
  };

  const minLength = Math.min(...sizes);
  participants.forEach((p) => {
    p.onFrame = (frame) => {
      if (frame.length < minLength || frame[0] !== WRAPPER_TYPE_TAG || frame[1] !== PacketType.MEDIA) return;
      const layout = layouts.get(frame.length);
      if (layout === undefined) return;
      const dv = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
      if (dv.getUint32(layout.payloadOffset) !== MAGIC || dv.getUint32(layout.payloadOffset + 4) !== runId) return;
      const now = monotonicMs();
      const s = bySender.get(dv.getUint16(layout.payloadOffset + 8));
      if (s === undefined) return;
      delivered[s]++;
      lastProgress[s] = now;
      if (measuring) {
        windowDelivered++;
        const ms = now - dv.getFloat64(layout.timestampOffset, true);
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
        while (sending && sent[i] < due && participants[i].buffered() < MAX_LOCAL_BUFFER) send(i, opts.frameBytes);
      }
    }, 1);
  } else if (mode.kind === 'media') {
    ticker = mediaTicker(participants, () => sending, send, start);
  } else {
    ticker = setInterval(() => {
      const now = performance.now();
      for (let i = 0; i < n; i++) {
        const o = outstanding(i);
        if (o > 0 && now - lastProgress[i] > STALL_MS) {
          writtenOff[i] += o;
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
  const drainDeadline = performance.now() + DRAIN_MS;
  while (performance.now() < drainDeadline && participants.some((_, i) => outstanding(i) > 0)) await sleep(20);
  for (const p of participants) p.onFrame = () => undefined;

  const expected = participants.reduce((a, _, i) => a + sent[i] * receiversOf[i], 0);
  const lost = writtenOff.reduce((a, b) => a + b, 0) + participants.reduce((a, _, i) => a + Math.max(0, outstanding(i)), 0);
  return {
    deliveredPerSec: (windowDelivered / elapsed) * 1000,
    sentPerSec: (windowSent / elapsed) * 1000,
    deliveredInWindow: windowDelivered,
    windowMs: elapsed,
    latencyMs: latency.summary(),
    latencyHistogram: latency.data(),
    crossLatencyMs: cross.count > 0 ? cross.summary() : undefined,
    sameLatencyMs: same.count > 0 ? same.summary() : undefined,
    expected,
    lost,
    cpu: cpuUse,
  };
}

/**
 * Paces MEDIA_MIX for every participant from one timer; each participant's streams start at its
 * own phase (independent cameras and microphones), so keyframes do not all leave at once.
 */
function mediaTicker(participants: readonly Participant[], sending: () => boolean, send: (i: number, size: number) => void, start: number): NodeJS.Timeout {
  const n = participants.length;
  const probe = participants.map((p) => encodeRttProbe(userIdOf(p.index), 0));
  const streams = mediaStreams();
  const count = streams.map(() => new Array<number>(n).fill(0));
  const phase = participants.map((_, i) => mediaPhase(i));
  return setInterval(() => {
    if (!sending()) return;
    const elapsed = performance.now() - start;
    for (let i = 0; i < n; i++) {
      if (participants[i].buffered() >= MAX_LOCAL_BUFFER) continue;
      for (let s = 0; s < streams.length; s++) {
        const st = streams[s];
        const due = Math.floor(elapsed / st.periodMs - phase[i]) + 1;
        const c = count[s];
        while (c[i] < due) {
          const size = st.cycle[c[i] % st.cycle.length];
          if (size === RTT_PROBE) participants[i].send(probe[i]);
          else send(i, size);
          c[i]++;
        }
      }
    }
  }, MEDIA_TICK_MS);
}

/**
 * CLOCK_MONOTONIC in ms, the same in every process of this machine (process.hrtime is
 * uv_hrtime), so a frame stamped in one load-generator process can be timed in another.
 */
const MONOTONIC_OFFSET_MS = Number(process.hrtime.bigint()) / 1e6 - performance.now();
export const monotonicMs = () => performance.now() + MONOTONIC_OFFSET_MS;

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
