// WebSocket clients and raw NATS observers for the relay's integration tests.
import crypto from 'node:crypto';
import fs from 'node:fs';
import type net from 'node:net';
import type { Msg, NatsConnection } from '@nats-io/transport-node';
import { connect } from '@nats-io/transport-node';
import WebSocket from 'ws';
import { MediaType, PacketType, bytesEqual, decodeMeetingPacket, decodePacketWrapper, encodeMediaPacket, encodePacketWrapper, newSessionId, subjects } from '../../protocol';
import { NatsServer, startNatsServer } from '../support/nats';
import { eventually, httpGet } from '../support/processes';
import { RelayProcess, startRelay } from '../support/relay';

export interface ClosedInfo {
  code: number;
  reason: string;
}

/** A `ws` client that records every binary frame and its close code. */
export class TestClient {
  readonly frames: Uint8Array[] = [];
  readonly closed: Promise<ClosedInfo>;
  private closedInfo: ClosedInfo | undefined;

  private constructor(readonly ws: WebSocket) {
    ws.binaryType = 'nodebuffer';
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary) this.frames.push(new Uint8Array(data));
    });
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        this.closedInfo = { code, reason: reason.toString('utf8') };
        resolve(this.closedInfo);
      });
    });
    openClients.add(this);
    void this.closed.then(() => openClients.delete(this));
  }

  /** Wraps a socket opened elsewhere (with its own options). */
  static adopt(ws: WebSocket): TestClient {
    return new TestClient(ws);
  }

  /** Opens a session; rejects with the HTTP status when the upgrade is refused. */
  static open(url: string): Promise<TestClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url);
      const client = new TestClient(ws);
      ws.once('open', () => resolve(client));
      ws.once('unexpected-response', (_req, res) => {
        reject(new UpgradeRefused(res.statusCode ?? 0));
        ws.terminate();
      });
      ws.once('error', (err) => reject(err));
    });
  }

  get isClosed(): ClosedInfo | undefined {
    return this.closedInfo;
  }

  send(frame: Uint8Array): void {
    this.ws.send(frame, { binary: true });
  }

  /** Waits for the n-th frame (0-based) to arrive. */
  async frame(n: number, timeoutMs = 5_000): Promise<Uint8Array> {
    return eventually(() => this.frames[n], { timeoutMs, what: `frame #${n}` });
  }

  /** The first frame (from `from` on) for which `match` holds. */
  async waitFor(match: (f: Uint8Array) => boolean, opts: { from?: number; timeoutMs?: number; what?: string } = {}): Promise<Uint8Array> {
    return eventually(() => this.frames.slice(opts.from ?? 0).find(match), { timeoutMs: opts.timeoutMs ?? 5_000, what: opts.what ?? 'matching frame' });
  }

  close(): void {
    this.ws.close();
  }

  terminate(): void {
    this.ws.terminate();
  }
}

export class UpgradeRefused extends Error {
  constructor(readonly status: number) {
    super(`upgrade refused with HTTP ${status}`);
  }
}

const openClients = new Set<TestClient>();

/** Terminates every client still open (afterEach/afterAll). */
export function closeAllClients(): void {
  for (const c of openClients) c.terminate();
}

/** A raw NATS subscriber that records subject and payload of everything it sees. */
export class NatsObserver {
  readonly messages: Array<{ subject: string; data: Uint8Array }> = [];

  private constructor(readonly nc: NatsConnection) {}

  static async start(url: string, subject = '>'): Promise<NatsObserver> {
    const nc: NatsConnection = await connect({ servers: url });
    const o = new NatsObserver(nc);
    nc.subscribe(subject, { callback: (_e: Error | null, m: Msg) => { o.messages.push({ subject: m.subject, data: new Uint8Array(m.data) }); } });
    await nc.flush();
    return o;
  }

  onSubject(subject: string) {
    return this.messages.filter((m) => m.subject === subject);
  }

  async close(): Promise<void> {
    await this.nc.close();
  }
}

/** The MeetingPacket of a system frame, or undefined when the frame is not one. */
export function meetingOf(frame: Uint8Array) {
  try {
    const pw = decodePacketWrapper(frame);
    return pw.packetType === PacketType.MEETING ? decodeMeetingPacket(pw.data) : undefined;
  } catch {
    return undefined;
  }
}

export function packetTypeOf(frame: Uint8Array): number | undefined {
  try {
    return decodePacketWrapper(frame).packetType;
  } catch {
    return undefined;
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Byte-for-byte equality (the protocol's own). */
export const sameBytes = bytesEqual;

export const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

/** A JWT signed with HMAC (`hmac`, default sha256) under header `alg` (default HS256); `alg: 'none'` leaves it unsigned. */
export function makeToken(claims: Record<string, unknown>, opts: { secret: string; alg?: string; hmac?: string }): string {
  const header = b64({ alg: opts.alg ?? 'HS256', typ: 'JWT' });
  const payload = b64(claims);
  if (opts.alg === 'none') return `${header}.${payload}.`;
  const sig = crypto.createHmac(opts.hmac ?? 'sha256', opts.secret).update(`${header}.${payload}`).digest('base64url');
  return `${header}.${payload}.${sig}`;
}

/** Every subscription of every client of the nats-server, from its monitoring endpoint. */
export async function httpSubscriptions(monitorPort: number): Promise<string[]> {
  const res = await httpGet(`http://127.0.0.1:${monitorPort}/connz?subs=1`);
  const connz = JSON.parse(res.body) as { connections?: Array<{ subscriptions_list?: string[] }> };
  return (connz.connections ?? []).flatMap((c) => c.subscriptions_list ?? []);
}

/** Resolves once some client of the nats-server holds a subscription on `subject`. */
export async function waitForSubscription(monitorPort: number, subject: string, timeoutMs = 5_000): Promise<void> {
  await eventually(async () => (await httpSubscriptions(monitorPort)).includes(subject), { timeoutMs, what: `a subscription on ${subject}` });
}

export interface RelayOverNats {
  readonly nats: NatsServer;
  readonly relay: RelayProcess;
  /** Sees everything published on the relay's nats-server. */
  readonly observer: NatsObserver;
}

/**
 * For one test file: a nats-server, a relay on it (with `relayEnv`) and a raw NATS observer,
 * started in beforeAll and stopped, with every test client, in afterAll.
 */
export function useRelayOverNats(relayEnv: Record<string, string> = {}): RelayOverNats {
  let nats: NatsServer | undefined;
  let relay: RelayProcess | undefined;
  let observer: NatsObserver | undefined;
  beforeAll(async () => {
    nats = await startNatsServer();
    relay = await startRelay({ natsUrl: nats.url, env: relayEnv });
    observer = await NatsObserver.start(nats.url);
  });
  afterAll(async () => {
    closeAllClients();
    await observer?.close();
    await relay?.stop();
    await nats?.stop();
  });
  const started = <T>(what: string, value: T | undefined): T => {
    if (value === undefined) throw new Error(`${what} is not started (use it inside a test)`);
    return value;
  };
  return {
    get nats() {
      return started('nats-server', nats);
    },
    get relay() {
      return started('relay', relay);
    },
    get observer() {
      return started('observer', observer);
    },
  };
}

/** Resident memory of a process (the relay's), from /proc: what an OOM killer would judge. */
export function rssBytes(pid: number | undefined): number {
  if (pid === undefined) throw new Error('process has no pid');
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (m === null) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) * 1024;
}

/** One sample of the relay's /metrics (0 when absent). */
export async function metricOf(httpUrl: string, series: string): Promise<number> {
  const body = (await httpGet(`${httpUrl}/metrics`)).body;
  const line = body.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

/** Publishes a remote session's media on `room` (again until it arrives) and waits for `client` to get it. */
export async function expectDeliveryFromNats(nc: NatsConnection, room: string, client: TestClient, what: string): Promise<void> {
  const remote = newSessionId();
  const incoming = encodePacketWrapper({ packetType: PacketType.MEDIA, userId: 'remote', data: encodeMediaPacket({ mediaType: MediaType.AUDIO }), sessionId: remote });
  await eventually(async () => {
    nc.publish(subjects.session(room, remote), incoming);
    await nc.flush();
    return client.frames.some((f) => sameBytes(f, incoming));
  }, { what, intervalMs: 200 });
}

/** Opens a session and waits for its two welcome frames (SESSION_ASSIGNED, MEETING_STARTED). */
export async function openWelcomed(url: string): Promise<TestClient> {
  const c = await TestClient.open(url);
  await c.frame(1);
  return c;
}

/** Stops reading from the socket: the kernel buffers fill, then the relay's send buffer grows. */
export function stopReading(c: TestClient): net.Socket {
  const socket = (c.ws as unknown as { _socket: net.Socket })._socket;
  socket.pause();
  return socket;
}
