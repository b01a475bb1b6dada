// The relay: uWebSockets.js sessions on one side, one NATS connection on the other. Session logic
// is in session.ts; this file carries its actions out and owns sockets, topics and subscriptions.
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import { connect } from '@nats-io/transport-node';
import type { HttpRequest, HttpResponse, TemplatedApp, WebSocket, us_listen_socket, us_socket_context_t } from './uws';
import {
  MeetingEvent, PacketType, ROOM_OR_USER_PATTERN, copyBytes, newSessionId, readRoutingView, subjects,
} from '../protocol';
import type { RelayConfig } from './config';
import { verifyLobbyToken } from './jwt';
import type { Logger } from './log';
import type { DropReason, RelayMetrics } from './metrics';
import { Room, Rooms } from './rooms';
import { CloseCode, Departure, Departures, Session, SessionAction, SessionIdentity, participantFrame } from './session';
import type { Uws } from './uws';

/** What the upgrade hands to `open`; `local` is set there and cleared by `close`. */
interface SocketData {
  identity: SessionIdentity;
  local?: LocalSession;
}

interface LocalSession {
  session: Session;
  ws: WebSocket<SocketData>;
  room: Room<LocalSession>;
  /** A departure of the same user this session took over by rejoining within the grace period. */
  inherited?: Departure;
  closed: boolean;
}

type Admission = { ok: true; identity: SessionIdentity } | { ok: false; status: number; reason: string };

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 410: 'Gone',
  500: 'Internal Server Error', 503: 'Service Unavailable',
};

/** Housekeeping (pings, idle and slow sockets, buffer recovery) runs this often. */
const TICK_MS = 250;

export class RelayServer {
  private app: TemplatedApp;
  private listenSocket: us_listen_socket | undefined;
  private nc: NatsConnection | undefined;
  private natsConnected = false;
  private draining = false;
  private readonly rooms: Rooms<LocalSession>;
  private readonly departures: Departures;
  private departureTimer: NodeJS.Timeout | undefined;
  private tickTimer: NodeJS.Timeout | undefined;
  private openSessions = 0;
  /** The uWS message buffer of the frame being handled, valid only during its handler. */
  private borrowed: ArrayBuffer | undefined;
  private outbox: Array<{ subject: string; frame: Uint8Array }> = [];
  private boundPort = 0;
  /** Series bumped for every frame, resolved once. */
  private readonly traffic: ReturnType<typeof trafficCounters>;

  constructor(
    private readonly config: RelayConfig,
    private readonly uws: Uws,
    private readonly log: Logger,
    private readonly metrics: RelayMetrics,
  ) {
    this.traffic = trafficCounters(metrics);
    this.departures = new Departures(config.leaveGraceMs);
    this.rooms = new Rooms<LocalSession>((subject, room) => this.subscribeRoom(subject, room));
    this.app = this.buildApp();
    metrics.registry.onCollect(() => this.collect());
  }

  get port(): number {
    return this.boundPort;
  }

  get ready(): boolean {
    return this.natsConnected && !this.draining;
  }

  /** Listens, then connects to NATS in the background (readiness waits for it). */
  async start(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.app.listen(this.config.host, this.config.port, (socket) => {
        if (!socket) {
          reject(new Error(`cannot listen on ${this.config.host}:${this.config.port}`));
          return;
        }
        this.listenSocket = socket;
        this.boundPort = this.uws.us_socket_local_port(socket);
        resolve();
      });
    });
    this.tickTimer = setInterval(() => this.tick(), TICK_MS);
    this.log.info('connecting to nats', { servers: this.config.natsUrls });
    void this.connectNats();
    return this.boundPort;
  }

  private async connectNats(): Promise<void> {
    try {
      const nc: NatsConnection = await connect({
        servers: this.config.natsUrls,
        name: `relay-${this.config.region}-${this.config.serverId}`,
        // Our own publishes are delivered locally through uWS topics; NATS must not send them back.
        noEcho: true,
        waitOnFirstConnect: true,
        maxReconnectAttempts: -1,
        reconnectTimeWait: 250,
        pingInterval: 5_000,
        maxPingOut: 2,
      });
      this.nc = nc;
      this.natsConnected = true;
      this.metrics.natsConnected.set(1);
      this.log.info('nats connected', { server: nc.getServer() });
      void this.watchNats(nc);
    } catch (err) {
      if (!this.draining) this.log.error('nats connection failed', { error: err });
    }
  }

  private async watchNats(nc: NatsConnection): Promise<void> {
    for await (const s of nc.status()) {
      switch (s.type) {
        case 'disconnect':
          this.natsConnected = false;
          this.metrics.natsConnected.set(0);
          this.log.warn('nats disconnected', { server: s.server });
          break;
        case 'reconnect':
          // The client re-sends every subscription on reconnect, so each room is subscribed again.
          this.natsConnected = true;
          this.metrics.natsConnected.set(1);
          this.metrics.natsReconnects.inc();
          this.log.info('nats reconnected', { server: s.server, rooms: this.rooms.size });
          break;
        case 'error':
          this.log.warn('nats error', { error: s.error });
          break;
        default:
      }
    }
    if (!this.draining) {
      this.natsConnected = false;
      this.metrics.natsConnected.set(0);
      this.log.error('nats connection closed');
    }
  }

  /** Upgrades are refused until the first NATS connection, so `nc` exists whenever a room does. */
  private subscribeRoom(subject: string, room: string): Subscription {
    return this.nc!.subscribe(subject, {
      callback: (err: Error | null, msg: Msg) => {
        if (err !== null) {
          this.log.warn('nats subscription error', { room, error: err });
          return;
        }
        this.onNatsMessage(room, msg);
      },
    });
  }

  // ---- HTTP and upgrades ----

  private buildApp(): TemplatedApp {
    const app = this.uws.App();
    const wsBehavior = (admit: (req: HttpRequest) => Admission) => ({
      compression: this.uws.DISABLED,
      maxPayloadLength: this.config.maxFrameBytes,
      // Hard cap per socket: our own bound drops media first; this only stops a runaway socket.
      maxBackpressure: 2 * this.config.maxBufferedBytes + 2 * this.config.maxFrameBytes,
      closeOnBackpressureLimit: 0, // typed as a number; 0 = off: we count drops ourselves
      // We ping every PING_INTERVAL_MS and enforce IDLE_TIMEOUT_MS ourselves (uWS's automatic
      // pings only start near its idle timeout); uWS's timeout is a backstop above ours.
      sendPingsAutomatically: false,
      idleTimeout: Math.ceil(this.config.idleTimeoutMs / 1000 / 4) * 4 + 8,
      upgrade: (res: HttpResponse, req: HttpRequest, context: us_socket_context_t) => this.upgrade(res, req, context, admit),
      open: (ws: WebSocket<SocketData>) => this.onOpen(ws),
      message: (ws: WebSocket<SocketData>, message: ArrayBuffer, isBinary: boolean) => this.onMessage(ws, message, isBinary),
      drain: (ws: WebSocket<SocketData>) => this.onDrain(ws),
      pong: (ws: WebSocket<SocketData>) => ws.getUserData().local?.session.touch(Date.now()),
      close: (ws: WebSocket<SocketData>, code: number) => this.onClose(ws, code),
    });

    app.ws<SocketData>('/lobby', wsBehavior((req) => this.admitToken(req)));
    app.ws<SocketData>('/lobby/:user/:room', wsBehavior((req) => this.admitPath(req)));
    app.get('/healthz', (res) => {
      res.writeHeader('content-type', 'text/plain').end('ok\n');
    });
    app.get('/readyz', (res) => {
      if (this.ready) {
        res.writeHeader('content-type', 'text/plain').end('ready\n');
        return;
      }
      const why = this.draining ? 'draining' : 'nats not connected';
      res.writeStatus('503 Service Unavailable').writeHeader('content-type', 'text/plain').end(`not ready: ${why}\n`);
    });
    app.get('/metrics', (res) => {
      res.writeHeader('content-type', 'text/plain; version=0.0.4; charset=utf-8').end(this.metrics.registry.expose());
    });
    app.any('/lobby/*', (res) => {
      res.writeStatus('400 Bad Request').end('expected a WebSocket upgrade on /lobby/{user_id}/{room} or /lobby?token=JWT\n');
    });
    app.any('/*', (res) => {
      res.writeStatus('404 Not Found').end('not found\n');
    });
    return app;
  }

  /**
   * Everything is decided synchronously inside the upgrade handler (req is only valid here, and
   * the JWT check needs no I/O), so no onAborted handler is needed.
   */
  private upgrade(res: HttpResponse, req: HttpRequest, context: us_socket_context_t, admit: (req: HttpRequest) => Admission): void {
    const key = req.getHeader('sec-websocket-key');
    // Answer with one of the offered subprotocols (the first), never the whole list.
    const protocol = req.getHeader('sec-websocket-protocol').split(',')[0].trim();
    const extensions = req.getHeader('sec-websocket-extensions');
    let admission: Admission;
    if (this.draining) admission = { ok: false, status: 503, reason: 'relay is draining' };
    else if (this.nc === undefined) admission = { ok: false, status: 503, reason: 'relay is not connected to NATS yet' };
    else if (this.openSessions >= this.config.maxSessions) admission = { ok: false, status: 503, reason: 'relay is full' };
    else admission = admit(req);
    if (!admission.ok) {
      this.metrics.upgradesRejected.inc({ status: String(admission.status) });
      this.log.info('upgrade refused', { path: req.getUrl(), status: admission.status, reason: admission.reason });
      res.writeStatus(`${admission.status} ${STATUS_TEXT[admission.status] ?? ''}`.trim())
        .writeHeader('content-type', 'text/plain')
        .end(`${admission.reason}\n`);
      return;
    }
    res.upgrade<SocketData>({ identity: admission.identity }, key, protocol, extensions, context);
  }

  private admitToken(req: HttpRequest): Admission {
    // An absent token reads as undefined or ''; verifyLobbyToken answers 400 for both.
    const token = req.getQuery('token') ?? undefined;
    const result = verifyLobbyToken(token, this.config.jwtSecret, Math.floor(Date.now() / 1000));
    if (!result.ok) return result;
    const c = result.claims;
    return { ok: true, identity: { id: newSessionId(), userId: c.userId, room: c.room, displayName: c.displayName, observer: c.observer } };
  }

  private admitPath(req: HttpRequest): Admission {
    if (!this.config.allowPathLobby) return { ok: false, status: 410, reason: '/lobby/{user_id}/{room} is switched off on this relay' };
    let user: string;
    let room: string;
    try {
      // Spaces become '_' (PROTOCOL.md); anything else outside the pattern is refused.
      user = decodeURIComponent(req.getParameter(0)).replace(/ /g, '_');
      room = decodeURIComponent(req.getParameter(1)).replace(/ /g, '_');
    } catch {
      return { ok: false, status: 400, reason: 'path is not valid percent-encoding' };
    }
    if (!ROOM_OR_USER_PATTERN.test(user)) return { ok: false, status: 400, reason: `user id must match ${ROOM_OR_USER_PATTERN}` };
    if (!ROOM_OR_USER_PATTERN.test(room)) return { ok: false, status: 400, reason: `room must match ${ROOM_OR_USER_PATTERN}` };
    return { ok: true, identity: { id: newSessionId(), userId: user, room, displayName: user, observer: false } };
  }

  // ---- WebSocket sessions ----

  private onOpen(ws: WebSocket<SocketData>): void {
    const now = Date.now();
    const data = ws.getUserData();
    const identity = data.identity;
    const session = new Session(identity, this.config, now);
    const inherited = this.departures.takeOver(identity.room, identity.userId);
    const local: LocalSession = { session, ws, room: undefined as unknown as Room<LocalSession>, inherited, closed: false };
    local.room = this.rooms.join(identity.room, session.idText, local);
    data.local = local;
    this.openSessions++;
    ws.subscribe(local.room.controlTopic);
    ws.subscribe(local.room.mediaTopic);
    ws.cork(() => {
      for (const frame of session.welcomeFrames(now)) this.sendToClient(ws, frame);
      for (const member of local.room.members.values()) {
        if (member.userId !== identity.userId) this.sendToClient(ws, participantFrame(MeetingEvent.PARTICIPANT_JOINED, member));
      }
    });
    this.log.info('session opened', { session: session.idText, room: identity.room, user: identity.userId, observer: identity.observer, rejoin: inherited !== undefined });
  }

  private onMessage(ws: WebSocket<SocketData>, message: ArrayBuffer, isBinary: boolean): void {
    const local = ws.getUserData().local;
    if (local === undefined || local.closed) return;
    const now = Date.now();
    if (!isBinary) {
      local.session.touch(now); // text frames are ignored, but they are inbound frames
      return;
    }
    this.traffic.framesInClient.inc();
    this.traffic.bytesInClient.inc(message.byteLength);
    // Read in place; publishToNats copies only frames that still point into `message` (uWS
    // reclaims it when this handler returns, NATS sends later). Stamped frames are already copies.
    this.borrowed = message;
    try {
      this.run(local, local.session.onBinary(new Uint8Array(message), now), now);
    } finally {
      this.borrowed = undefined;
    }
  }

  private run(local: LocalSession, actions: SessionAction[], now: number): void {
    for (const a of actions) {
      if (local.closed) return;
      switch (a.kind) {
        case 'echo':
          this.sendToClient(local.ws, a.frame);
          this.metrics.rttEchoes.inc();
          break;
        case 'publish':
          if (a.media && !this.natsConnected) this.drop('nats_disconnected');
          else this.publishToNats(a.subject, a.frame);
          if (a.media) this.fanOutMedia(local.room, a.frame, local.session.idText, local.ws, now);
          else local.ws.publish(local.room.controlTopic, a.frame, true);
          break;
        case 'announce':
          local.room.addMember(local.session.identity);
          this.publishToNats(a.subject, a.frame);
          // Every local session gets it, the joiner included, like any subscriber of the system subject.
          this.app.publish(local.room.controlTopic, a.frame, true);
          this.log.info('participant joined', { session: local.session.idText, room: local.room.name, user: local.session.identity.userId });
          break;
        case 'health':
          this.drop('health_from_client');
          if (this.natsConnected) this.publishToNats(subjects.healthDiagnostics(this.config.region, this.config.serverId), a.frame);
          break;
        case 'drop':
          this.drop(a.reason);
          break;
        case 'ping':
          local.ws.ping();
          break;
        case 'close':
          if (a.code === CloseCode.POLICY) this.metrics.slowSocketCloses.inc();
          this.log.info('closing session', { session: local.session.idText, code: a.code, reason: a.reason });
          local.ws.end(a.code, a.reason);
          return;
      }
    }
  }

  private onDrain(ws: WebSocket<SocketData>): void {
    const local = ws.getUserData().local;
    if (local !== undefined && !local.closed) this.checkBuffer(local, Date.now());
  }

  private onClose(ws: WebSocket<SocketData>, code: number): void {
    const data = ws.getUserData();
    const local = data.local;
    if (local === undefined || local.closed) return;
    local.closed = true;
    data.local = undefined;
    this.openSessions--;
    const now = Date.now();
    const member = local.session.close();
    this.rooms.leave(local.room.name, local.session.idText);
    const departing = member ?? local.inherited?.member;
    if (departing !== undefined) {
      // Clients track participants by user id: while the same user has another session in the
      // room here, a PARTICIPANT_LEFT would remove them. An active sibling has announced itself;
      // a Testing one takes the departure over, as a rejoin does.
      const sibling = this.draining ? undefined : this.otherSessionOf(local);
      if (sibling?.session.state === 'active') {
        local.room.removeMember(departing);
      } else if (sibling !== undefined) {
        sibling.inherited = { member: departing, dueMs: now + this.config.leaveGraceMs };
      } else if (this.draining) {
        this.announceLeft(departing);
      } else {
        this.scheduleDeparture(this.departures.schedule(departing, now));
      }
    }
    // For closes the relay started, uWS reports the code the relay sent.
    this.metrics.sessionsClosed.inc({ reason: closeReasonLabel(code) });
    this.log.info('session closed', { session: local.session.idText, room: local.room.name, code });
  }

  /** Another open session of the same user in the same room on this relay, if any. */
  private otherSessionOf(local: LocalSession): LocalSession | undefined {
    const room = this.rooms.get(local.room.name);
    if (room === undefined) return undefined;
    for (const other of room.sessions.values()) {
      if (other !== local && !other.closed && other.session.identity.userId === local.session.identity.userId) return other;
    }
    return undefined;
  }

  private scheduleDeparture(d: Departure): void {
    if (this.departureTimer !== undefined) return; // the running timer re-arms for the next one
    this.departureTimer = setTimeout(() => {
      this.departureTimer = undefined;
      const now = Date.now();
      for (const due of this.departures.due(now)) this.announceLeft(due.member);
      const next = this.departures.nextDue();
      if (next !== undefined) this.scheduleDeparture(next);
    }, Math.max(0, d.dueMs - Date.now()));
  }

  private announceLeft(member: Departure['member']): void {
    const frame = participantFrame(MeetingEvent.PARTICIPANT_LEFT, member);
    this.publishToNats(subjects.system(member.room), frame);
    const room = this.rooms.get(member.room);
    if (room !== undefined) {
      room.removeMember(member);
      this.app.publish(room.controlTopic, frame, true);
    }
    this.log.info('participant left', { session: member.id, room: member.room, user: member.userId });
  }

  // ---- Delivery ----

  private onNatsMessage(roomName: string, msg: Msg): void {
    const room = this.rooms.get(roomName);
    if (room === undefined) return;
    const data = msg.data;
    this.traffic.framesInNats.inc();
    this.traffic.bytesInNats.inc(data.byteLength);
    const sender = msg.subject.slice(msg.subject.lastIndexOf('.') + 1);
    if (sender === 'system') {
      room.noteSystemFrame(data);
      this.app.publish(room.controlTopic, data, true);
      return;
    }
    let packetType: number;
    try {
      packetType = readRoutingView(data).packetType;
    } catch {
      packetType = PacketType.UNKNOWN; // forwarded unchanged; routing only needs to know it is not media
    }
    // With echo off, a frame on a local session's own subject comes from another server; the
    // session itself must not get it back, except CONGESTION, which is addressed to it.
    const own = packetType === PacketType.CONGESTION ? undefined : room.sessions.get(sender);
    if (packetType === PacketType.MEDIA) {
      this.fanOutMedia(room, data, sender, own?.ws, Date.now());
    } else if (own !== undefined) {
      own.ws.publish(room.controlTopic, data, true);
    } else {
      this.app.publish(room.controlTopic, data, true);
    }
  }

  /**
   * Media to every local session of the room but `exclude`, through the room's media topic: uWS
   * copies the frame into each subscriber's buffer natively, and `ws.publish` skips the publishing
   * socket itself, so exclusion costs nothing. Sessions over the buffer bound are unsubscribed
   * from the media topic (their drops are counted here) and come back once drained; control frames
   * use the other topic and are never dropped by us.
   */
  private fanOutMedia(room: Room<LocalSession>, frame: Uint8Array, senderIdText: string, exclude: WebSocket<SocketData> | undefined, now: number): void {
    let receivers = 0;
    for (const local of room.sessions.values()) {
      if (local.ws === exclude) continue;
      this.checkBuffer(local, now);
      if (!local.session.overBound) {
        receivers++;
        continue;
      }
      this.drop('backpressure');
      if (local.session.noteDropFrom(senderIdText, now) && /^\d+$/.test(senderIdText)) this.sendCongestion(room, local, senderIdText);
    }
    if (receivers === 0) return;
    if (exclude !== undefined) exclude.publish(room.mediaTopic, frame, true);
    else this.app.publish(room.mediaTopic, frame, true);
    this.traffic.framesOutClient.inc(receivers);
    this.traffic.bytesOutClient.inc(receivers * frame.byteLength);
  }

  /** Moves a session in or out of the media topic as its send buffer crosses the bound (with hysteresis). */
  private checkBuffer(local: LocalSession, now: number): void {
    const buffered = local.ws.getBufferedAmount();
    const bound = this.config.maxBufferedBytes;
    const over = local.session.overBound ? buffered > bound / 2 : buffered > bound;
    const change = local.session.setOverBound(over, now);
    if (change === 'congested') {
      local.ws.unsubscribe(local.room.mediaTopic);
      this.log.debug('socket over buffer bound', { session: local.session.idText, buffered });
    } else if (change === 'recovered') {
      local.ws.subscribe(local.room.mediaTopic);
      this.log.debug('socket drained', { session: local.session.idText, buffered });
    }
  }

  /** CONGESTION on the sender's subject, and straight to the sender when it is ours (echo is off). */
  private sendCongestion(room: Room<LocalSession>, receiver: LocalSession, senderIdText: string): void {
    const frame = receiver.session.congestionFrame(BigInt(senderIdText));
    this.metrics.congestionNotices.inc();
    if (this.natsConnected) this.publishToNats(subjects.session(room.name, BigInt(senderIdText)), frame);
    const sender = room.sessions.get(senderIdText);
    if (sender !== undefined && !sender.closed) this.sendToClient(sender.ws, frame);
  }

  private sendToClient(ws: WebSocket<SocketData>, frame: Uint8Array): void {
    ws.send(frame, true);
    this.traffic.framesOutClient.inc();
    this.traffic.bytesOutClient.inc(frame.byteLength);
  }

  /**
   * Queues a publish; the queue goes out in setImmediate, right after this poll phase, so frames
   * read from many sockets in one loop turn share one write to NATS instead of one write each.
   */
  private publishToNats(subject: string, frame: Uint8Array): void {
    if (this.nc === undefined) {
      this.drop('nats_disconnected');
      return;
    }
    this.outbox.push({ subject, frame: frame.buffer === this.borrowed ? copyBytes(frame) : frame });
    if (this.outbox.length === 1) setImmediate(() => this.flushOutbox());
  }

  private flushOutbox(): void {
    const batch = this.outbox;
    this.outbox = [];
    const nc = this.nc;
    for (const { subject, frame } of batch) {
      try {
        nc!.publish(subject, frame);
        this.traffic.framesOutNats.inc();
        this.traffic.bytesOutNats.inc(frame.byteLength);
      } catch (err) {
        this.drop('publish_failed');
        this.log.warn('nats publish failed', { subject, error: err });
      }
    }
  }

  private drop(reason: DropReason): void {
    this.metrics.drops.inc({ reason });
  }

  private tick(): void {
    const now = Date.now();
    for (const room of [...this.rooms.values()]) {
      for (const local of [...room.sessions.values()]) {
        if (local.closed) continue;
        this.checkBuffer(local, now);
        this.run(local, local.session.tick(now), now);
      }
    }
  }

  private collect(): void {
    const byState = { testing: 0, active: 0 };
    for (const room of this.rooms.values()) {
      for (const local of room.sessions.values()) if (local.session.state !== 'closed') byState[local.session.state]++;
    }
    this.metrics.sessions.set(byState.testing, { state: 'testing' });
    this.metrics.sessions.set(byState.active, { state: 'active' });
    this.metrics.rooms.set(this.rooms.size);
    this.metrics.draining.set(this.draining ? 1 : 0);
    const mem = process.memoryUsage();
    this.metrics.rss.set(mem.rss);
    this.metrics.heap.set(mem.heapUsed);
  }

  // ---- Drain ----

  /**
   * SIGTERM: not ready, no new sessions, every client closed with 1001 (so it fails over at
   * once), active sessions and pending departures announced as left, NATS drained.
   */
  async drain(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    this.log.info('draining', { sessions: this.openSessions });
    if (this.tickTimer !== undefined) clearInterval(this.tickTimer);
    if (this.departureTimer !== undefined) clearTimeout(this.departureTimer);
    for (const d of this.departures.all()) this.announceLeft(d.member);
    const locals = [...this.rooms.values()].flatMap((r) => [...r.sessions.values()]);
    // `end` runs the close handler at once, which announces PARTICIPANT_LEFT while draining.
    for (const local of locals) if (!local.closed) local.ws.end(CloseCode.GOING_AWAY, 'relay shutting down');
    this.flushOutbox();
    const nc = this.nc;
    if (nc !== undefined && !nc.isClosed()) {
      const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), this.config.drainTimeoutMs).unref());
      const result = await Promise.race([nc.drain().then(() => 'drained' as const), timeout]).catch((err: unknown) => {
        this.log.warn('nats drain failed', { error: err });
        return 'failed' as const;
      });
      if (result !== 'drained') await nc.close().catch(() => undefined);
      this.log.info('nats drained', { result });
    }
    // Keep answering "not ready" a moment, so a load balancer sees it before the port goes away.
    await new Promise((resolve) => setTimeout(resolve, this.config.drainLingerMs));
    if (this.listenSocket !== undefined) this.uws.us_listen_socket_close(this.listenSocket);
    this.listenSocket = undefined;
    this.log.info('drained');
  }
}

function closeReasonLabel(code: number): string {
  switch (code) {
    case CloseCode.NORMAL: return 'normal';
    case CloseCode.GOING_AWAY: return 'going_away';
    case CloseCode.INVALID_PAYLOAD: return 'malformed';
    case CloseCode.POLICY: return 'too_slow';
    case 1006: return 'abnormal'; // uWS drops frames over MAX_FRAME_BYTES this way, among others
    default: return 'other';
  }
}

function trafficCounters(m: RelayMetrics) {
  return {
    framesInClient: m.framesIn.labels({ source: 'client' }),
    bytesInClient: m.bytesIn.labels({ source: 'client' }),
    framesInNats: m.framesIn.labels({ source: 'nats' }),
    bytesInNats: m.bytesIn.labels({ source: 'nats' }),
    framesOutClient: m.framesOut.labels({ destination: 'client' }),
    bytesOutClient: m.bytesOut.labels({ destination: 'client' }),
    framesOutNats: m.framesOut.labels({ destination: 'nats' }),
    bytesOutNats: m.bytesOut.labels({ destination: 'nats' }),
  };
}
