// The relay: uWebSockets.js sessions on one side, one NATS connection on the other. The rules live
// in pure code beside this file: admission.ts (who may connect), session.ts (one session's frames),
// membership.ts (who is in a room, when someone left), nats-link.ts (whether NATS can take data).
// This file carries their answers out on sockets, topics and subscriptions, within memory budgets.
import type { Msg } from '@nats-io/transport-node';
import type { HttpRequest, HttpResponse, TemplatedApp, WebSocket, us_listen_socket, us_socket_context_t } from './uws';
import { MeetingEvent, PacketType, decodeMeetingPacket, decodePacketWrapper, subjects, utf8 } from '../protocol';
import { Admission, STATUS_TEXT, admitPath, admitRelayState, admitToken } from './admission';
import { memoryBudgets } from './config';
import type { MemoryBudgets, RelayConfig } from './config';
import type { Logger } from './log';
import { Member, Membership, MembershipAction, PRESENCE_INTERVAL_MS, Presence, parsePresence } from './membership';
import type { DropReason, RelayMetrics } from './metrics';
import { FanOutQueue, turnEndScheduler } from './fanout-queue';
import { NatsLink } from './nats-link';
import { Room, Rooms } from './rooms';
import { CloseCode, Session, SessionAction, SessionIdentity, participantFrame, publishedLength, writePublished } from './session';
import type { Uws } from './uws';
import * as protocol from '../protocol';

// Read for every frame: module constants, not the imports (see the note at the top of protocol/codec.ts).
const readView = protocol.readRoutingView;
const allocBytes = protocol.allocBytes;
const STAMP_BYTES = protocol.SESSION_ID_STAMP_BYTES;
const CONGESTION_PACKET: number = PacketType.CONGESTION;
const MEDIA_PACKET: number = PacketType.MEDIA;

/** What the upgrade hands to `open`; `local` is set there and cleared by `close`. */
interface SocketData {
  identity: SessionIdentity;
  local?: LocalSession;
}

interface LocalSession {
  session: Session;
  ws: WebSocket<SocketData>;
  room: Room<LocalSession>;
  closed: boolean;
  /** The socket's send buffer when last read, as counted in `socketBytes`. */
  bufferedBytes: number;
  /** Over its bound only because the total is over budget (its drops count as `memory_budget`). */
  overBudgetOnly: boolean;
}

/** Relays of ours announce their members here (membership.ts); no videocall server uses it. */
export const PRESENCE_SUBJECT = 'vcg.relay.presence';

/** Delay of the early presence after a join (membership.ts): joins within it share one. */
const PRESENCE_SOON_MS = 250;

/** A client frame read in this poll phase, to fan out to the room's other local sessions (fanout-queue.ts). */
interface QueuedFrame {
  room: Room<LocalSession>;
  frame: Uint8Array;
  media: boolean;
  sender: LocalSession;
}

/** Housekeeping (pings, idle and slow sockets, buffer recovery, departures) runs this often. */
const TICK_MS = 250;

export class RelayServer {
  private app: TemplatedApp;
  private listenSocket: us_listen_socket | undefined;
  private readonly link: NatsLink;
  private draining = false;
  private readonly rooms: Rooms<LocalSession>;
  private readonly membership: Membership;
  private readonly budgets: MemoryBudgets;
  /** Sum of every open socket's send buffer as last read (checkBuffer keeps it current). */
  private socketBytes = 0;
  private tickTimer: NodeJS.Timeout | undefined;
  private presenceTimer: NodeJS.Timeout | undefined;
  /** An early presence after a join, so a relay killed right after it does not leave a ghost. */
  private presenceSoonTimer: NodeJS.Timeout | undefined;
  private openSessions = 0;
  private boundPort = 0;
  /** Series bumped for every frame, resolved once. */
  private readonly traffic: ReturnType<typeof trafficCounters>;
  /** Client frames wait here until the poll phase ends, so each receiver's are written together. */
  private readonly afterPoll = turnEndScheduler();
  private readonly clientFrames = new FanOutQueue<QueuedFrame>((q) => this.fanOutQueued(q), this.afterPoll);

  constructor(
    private readonly config: RelayConfig,
    private readonly uws: Uws,
    private readonly log: Logger,
    private readonly metrics: RelayMetrics,
  ) {
    this.traffic = trafficCounters(metrics);
    this.budgets = memoryBudgets(config.memoryLimitBytes);
    this.link = new NatsLink(
      { servers: config.natsUrls, name: `relay-${config.region}-${config.serverId}`, outboundBudgetBytes: this.budgets.natsOutboundBytes },
      log, metrics, Date.now, this.afterPoll,
    );
    this.link.onFlushed = (sent) => {
      this.traffic.framesOutNats.inc(sent.frames);
      this.traffic.bytesOutNats.inc(sent.bytes);
      if (sent.failed > 0) this.metrics.drops.inc({ reason: 'publish_failed' }, sent.failed);
    };
    this.membership = new Membership(config.leaveGraceMs, Date.now());
    this.rooms = new Rooms<LocalSession>((subject, room) => this.link.subscribe(subject, (err, msg) => {
      if (err !== null) this.log.warn('nats subscription error', { room, error: err });
      else this.onNatsMessage(room, msg);
    }));
    this.app = this.buildApp();
    metrics.registry.onCollect(() => this.collect());
  }

  get port(): number {
    return this.boundPort;
  }

  get ready(): boolean {
    return this.link.usable && !this.draining;
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
    void this.link.start().then(() => {
      if (!this.link.started || this.draining) return;
      this.link.subscribe(PRESENCE_SUBJECT, (err, msg) => { if (err === null) this.onPresence(msg); });
      this.presenceTimer = setInterval(() => this.publishPresence(), PRESENCE_INTERVAL_MS);
    });
    return this.boundPort;
  }

  // ---- HTTP and upgrades ----

  private buildApp(): TemplatedApp {
    const app = this.uws.App();
    const wsBehavior = (admit: (req: HttpRequest) => Admission) => ({
      compression: this.uws.DISABLED,
      maxPayloadLength: this.config.maxFrameBytes,
      // Hard cap per socket: our bounds drop client frames first; this only stops a runaway socket.
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

    app.ws<SocketData>('/lobby', wsBehavior((req) => admitToken(req.getQuery('token'), this.config.jwtSecret, Math.floor(Date.now() / 1000))));
    app.ws<SocketData>('/lobby/:user/:room', wsBehavior((req) => admitPath(req.getParameter(0), req.getParameter(1), this.config.allowPathLobby)));
    app.get('/healthz', (res) => {
      res.writeHeader('content-type', 'text/plain').end('ok\n');
    });
    app.get('/readyz', (res) => {
      if (this.ready) {
        res.writeHeader('content-type', 'text/plain').end('ready\n');
        return;
      }
      const why = this.draining ? 'draining' : this.link.problem;
      res.writeStatus('503 Service Unavailable').writeHeader('content-type', 'text/plain').end(`not ready: ${why}\n`);
    });
    app.get('/metrics', (res) => {
      res.writeHeader('content-type', 'text/plain; version=0.0.4; charset=utf-8').end(this.metrics.registry.expose());
    });
    const notAnUpgrade = (res: HttpResponse) => {
      res.writeStatus('400 Bad Request').end('expected a WebSocket upgrade on /lobby/{user_id}/{room} or /lobby?token=JWT\n');
    };
    // uWS passes a request without an upgrade on from a ws route to the next matching route.
    app.any('/lobby', notAnUpgrade);
    app.any('/lobby/*', notAnUpgrade);
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
    const admission = admitRelayState({
      draining: this.draining, natsStarted: this.link.started, openSessions: this.openSessions, maxSessions: this.config.maxSessions,
    }) ?? admit(req);
    if (!admission.ok) {
      this.metrics.upgradesRejected.inc({ status: String(admission.status) });
      // The path only: the query string may carry a token.
      this.log.info('upgrade refused', { path: req.getUrl().slice(0, 200), status: admission.status, reason: admission.reason });
      res.writeStatus(`${admission.status} ${STATUS_TEXT[admission.status] ?? ''}`.trim())
        .writeHeader('content-type', 'text/plain')
        .end(`${admission.reason}\n`);
      return;
    }
    res.upgrade<SocketData>({ identity: admission.identity }, key, protocol, extensions, context);
  }

  // ---- WebSocket sessions ----

  private onOpen(ws: WebSocket<SocketData>): void {
    const now = Date.now();
    const data = ws.getUserData();
    const identity = data.identity;
    const session = new Session(identity, this.config, now);
    const { rejoin } = this.membership.opened(identity);
    const local: LocalSession = { session, ws, room: undefined as unknown as Room<LocalSession>, closed: false, bufferedBytes: 0, overBudgetOnly: false };
    local.room = this.rooms.join(identity.room, session.idText, local);
    data.local = local;
    this.openSessions++;
    ws.subscribe(local.room.controlTopic);
    ws.subscribe(local.room.mediaTopic);
    ws.cork(() => {
      for (const frame of session.welcomeFrames(now)) this.sendToClient(ws, frame);
      for (const member of this.membership.members(identity.room)) {
        if (member.userId !== identity.userId) this.sendToClient(ws, participantFrame(MeetingEvent.PARTICIPANT_JOINED, member));
      }
    });
    this.log.info('session opened', { session: session.idText, room: identity.room, user: identity.userId, observer: identity.observer, rejoin });
  }

  /**
   * The borrow rule, in one place: `message` is uWS's buffer, valid only until this handler
   * returns. Session and delivery code read it in place; uWS copies what it sends or buffers for
   * sockets; the only things kept past the handler are a NATS publish and the local fan-out
   * (queued until the poll phase ends): a client frame is written (stamped) into the NATS batch by
   * `run`, and both read it there; `publishToNats` copies whatever it is given.
   */
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
    // A frame NATS would refuse (once stamped) could reach this relay's sessions only: it ends the
    // session, as a frame over MAX_FRAME_BYTES does, so local and remote peers see the same.
    const maxPayload = this.link.maxPayload;
    if (maxPayload !== undefined && message.byteLength + STAMP_BYTES > maxPayload) {
      this.drop('over_nats_max_payload');
      this.run(local, [{ kind: 'close', code: CloseCode.MESSAGE_TOO_BIG, reason: `frame over the NATS server's max_payload (${maxPayload} bytes)` }], now);
      return;
    }
    this.run(local, local.session.onBinary(new Uint8Array(message), now), now);
  }

  private run(local: LocalSession, actions: SessionAction[], now: number): void {
    for (const a of actions) {
      if (local.closed) return;
      switch (a.kind) {
        case 'echo':
          this.sendToClient(local.ws, a.frame);
          this.metrics.rttEchoes.inc();
          break;
        case 'publish': {
          if (a.restamped) this.metrics.restamped.inc();
          // Stamped straight into the turn's NATS batch, and the fan-out after this handler reads it
          // there: the one copy out of the borrowed buffer serves both.
          const length = publishedLength(a);
          const slot = this.link.reserve(a.subject, length);
          let frame: Uint8Array | undefined;
          if (typeof slot === 'string') this.drop(slot);
          else frame = writePublished(slot, a);
          if (local.room.sessions.size > 1) {
            frame ??= writePublished(allocBytes(length), a); // NATS refused it: the local room still gets it
            this.clientFrames.push({ room: local.room, frame, media: a.media, sender: local }, length);
          }
          break;
        }
        case 'announce':
          this.membership.activated(local.session.identity);
          this.publishToNats(a.subject, a.frame);
          this.presenceSoon();
          // Every local session gets it, the joiner included, like any subscriber of the system subject.
          this.app.publish(local.room.controlTopic, a.frame, true);
          this.log.info('participant joined', { session: local.session.idText, room: local.room.name, user: local.session.identity.userId });
          break;
        case 'health':
          this.drop('health_from_client');
          if (this.link.usable) this.publishToNats(subjects.healthDiagnostics(this.config.region, this.config.serverId), a.frame);
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
    this.socketBytes -= local.bufferedBytes;
    local.session.close();
    this.carryOut(this.membership.closed(local.session.identity, this.draining, Date.now()));
    if (this.rooms.leave(local.room.name, local.session.idText)) this.closeRoomWhenSettled(local.room.name);
    // For closes the relay started, uWS reports the code the relay sent.
    this.metrics.sessionsClosed.inc({ reason: closeReasonLabel(code) });
    this.log.info('session closed', { session: local.session.idText, room: local.room.name, code });
  }

  /**
   * An empty room keeps its subscription while a departure in it is pending: at the end of the
   * grace period membership must know whether the user came back through another relay meanwhile.
   */
  private closeRoomWhenSettled(room: string): void {
    if (this.membership.hasPending(room)) return;
    if (this.rooms.close(room)) this.membership.roomClosed(room);
  }

  private carryOut(actions: MembershipAction[]): void {
    for (const a of actions) {
      const joined = a.kind === 'tell-local-joined';
      const frame = participantFrame(joined ? MeetingEvent.PARTICIPANT_JOINED : MeetingEvent.PARTICIPANT_LEFT, a.member);
      const room = this.rooms.get(a.member.room);
      if (a.kind === 'announce-left') this.publishToNats(subjects.system(a.member.room), frame);
      else if (a.kind === 'tell-local-left') this.metrics.ghostsRemoved.inc();
      if (room !== undefined) this.app.publish(room.controlTopic, frame, true);
      this.log.info(`participant ${joined ? 'joined' : 'left'} (${a.kind})`, { session: a.member.id, room: a.member.room, user: a.member.userId });
    }
  }

  // ---- Presence (membership.ts) ----

  /** At most one extra presence per PRESENCE_SOON_MS, after the JOINED it follows on the same connection. */
  private presenceSoon(): void {
    if (this.presenceSoonTimer !== undefined || !this.link.started) return;
    this.presenceSoonTimer = setTimeout(() => {
      this.presenceSoonTimer = undefined;
      if (!this.draining) this.publishPresence();
    }, PRESENCE_SOON_MS);
  }

  private publishPresence(): void {
    const presence = this.membership.ownPresence(this.config.serverId);
    this.publishToNats(PRESENCE_SUBJECT, utf8.encode(JSON.stringify(presence)));
  }

  private onPresence(msg: Msg): void {
    let p: Presence | undefined;
    try {
      p = parsePresence(JSON.parse(utf8.decode(msg.data)));
    } catch {
      p = undefined;
    }
    if (p === undefined || p.server === this.config.serverId) return;
    this.carryOut(this.membership.presence(p, Date.now()));
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
      if (this.onSystemFrame(roomName, data)) this.app.publish(room.controlTopic, data, true);
      else this.metrics.leftSuppressed.inc();
      return;
    }
    let packetType: number;
    try {
      const view = readView(data);
      // The subject names the sending session: a frame claiming another one (an existing server
      // keeps whatever id its client put there) is not delivered under that identity.
      if (view.sessionId !== 0n && view.sessionId.toString(10) !== sender) {
        this.drop('impersonation');
        return;
      }
      packetType = view.packetType;
    } catch {
      packetType = PacketType.UNKNOWN; // forwarded unchanged; routing only needs to know it is not media
    }
    // With echo off, a frame on a local session's own subject comes from another server; the
    // session itself must not get it back, except CONGESTION, which is addressed to it.
    const own = packetType === CONGESTION_PACKET ? undefined : room.sessions.get(sender);
    this.fanOut(room, data, packetType === MEDIA_PACKET, sender, own?.ws, Date.now());
  }

  /** Keeps membership in step with the system subject; false for a PARTICIPANT_LEFT to hold back. */
  private onSystemFrame(room: string, frame: Uint8Array): boolean {
    let member: Member;
    let event: number;
    try {
      const pw = decodePacketWrapper(frame);
      if (pw.packetType !== PacketType.MEETING) return true;
      const m = decodeMeetingPacket(pw.data);
      event = m.eventType;
      member = { id: m.sessionId, userId: utf8.decode(m.targetUserId), room, displayName: utf8.decode(m.displayName) };
    } catch {
      return true; // other servers' system frames are forwarded unchanged whether or not we can read them
    }
    if (event === MeetingEvent.PARTICIPANT_JOINED) this.membership.remoteJoined(member);
    if (event === MeetingEvent.PARTICIPANT_LEFT) return this.membership.remoteLeft(member);
    return true;
  }

  /**
   * A client's frame to every local session of the room but `exclude`, through the room's media
   * topic: uWS copies it into each subscriber's buffer natively, and `ws.publish` skips the
   * publishing socket itself. Sessions over their bound are unsubscribed from that topic (drops
   * counted here) and come back once drained. Frames the relay itself makes (welcome, membership)
   * use the control topic and are never dropped by us.
   */
  private fanOut(room: Room<LocalSession>, frame: Uint8Array, media: boolean, senderIdText: string, exclude: WebSocket<SocketData> | undefined, now: number): void {
    let receivers = 0;
    for (const local of room.sessions.values()) {
      if (local.ws === exclude) continue;
      this.checkBuffer(local, now);
      if (!local.session.overBound) {
        receivers++;
        continue;
      }
      this.drop(local.overBudgetOnly ? 'memory_budget' : 'backpressure');
      if (media && local.session.noteDropFrom(senderIdText, now) && /^\d+$/.test(senderIdText)) this.sendCongestion(room, local, senderIdText);
    }
    if (receivers === 0) return;
    if (exclude !== undefined) exclude.publish(room.mediaTopic, frame, true);
    else this.app.publish(room.mediaTopic, frame, true);
    this.traffic.framesOutClient.inc(receivers);
    this.traffic.bytesOutClient.inc(receivers * frame.byteLength);
  }

  /** A client frame queued in `clientFrames`; a sender closed meanwhile is no longer subscribed, nor a `ws.publish` target. */
  private fanOutQueued(q: QueuedFrame): void {
    this.fanOut(q.room, q.frame, q.media, q.sender.session.idText, q.sender.closed ? undefined : q.sender.ws, Date.now());
  }

  /**
   * Reads the socket's send buffer, keeps the relay-wide total, and moves the session in or out
   * of the media topic as it crosses its bound (with hysteresis). The bound is MAX_BUFFERED_BYTES,
   * and while all sockets together are over the socket budget, the fair share of that budget.
   */
  private checkBuffer(local: LocalSession, now: number): void {
    const buffered = local.ws.getBufferedAmount();
    this.socketBytes += buffered - local.bufferedBytes;
    local.bufferedBytes = buffered;
    const overBudget = this.socketBytes > this.budgets.socketBytes;
    const fairShare = Math.floor(this.budgets.socketBytes / Math.max(1, this.openSessions));
    const bound = overBudget ? Math.min(this.config.maxBufferedBytes, fairShare) : this.config.maxBufferedBytes;
    const over = local.session.overBound ? buffered > bound / 2 : buffered > bound;
    local.overBudgetOnly = over && buffered <= this.config.maxBufferedBytes;
    const change = local.session.setOverBound(over, now);
    if (change === 'congested') {
      local.ws.unsubscribe(local.room.mediaTopic);
      this.log.debug('socket over buffer bound', { session: local.session.idText, buffered, bound });
    } else if (change === 'recovered') {
      local.ws.subscribe(local.room.mediaTopic);
      this.log.debug('socket drained', { session: local.session.idText, buffered });
    }
  }

  /** CONGESTION on the sender's subject, and straight to the sender when it is ours (echo is off). */
  private sendCongestion(room: Room<LocalSession>, receiver: LocalSession, senderIdText: string): void {
    const frame = receiver.session.congestionFrame(BigInt(senderIdText));
    this.metrics.congestionNotices.inc();
    if (this.link.usable) this.publishToNats(subjects.session(room.name, BigInt(senderIdText)), frame);
    const sender = room.sessions.get(senderIdText);
    if (sender !== undefined && !sender.closed) this.sendToClient(sender.ws, frame);
  }

  private sendToClient(ws: WebSocket<SocketData>, frame: Uint8Array): void {
    ws.send(frame, true);
    this.traffic.framesOutClient.inc();
    this.traffic.bytesOutClient.inc(frame.byteLength);
  }

  /** Every publish goes through here; the link decides whether NATS can take it (else counted). */
  private publishToNats(subject: string, frame: Uint8Array): void {
    // the link copies the frame into its batch at once (a borrowed one too), after asking whether NATS can take it
    const refused = this.link.publish(subject, frame);
    if (refused !== undefined) this.drop(refused);
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
    if (this.draining) return;
    this.carryOut(this.membership.tick(now, this.link.usable));
    for (const room of [...this.rooms.values()]) if (room.sessions.size === 0) this.closeRoomWhenSettled(room.name);
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
    this.metrics.socketBufferedBytes.set(this.socketBytes);
    this.metrics.natsOutboundBytes.set(this.link.outboundBytes);
    this.metrics.budgetBytes.set(this.budgets.socketBytes, { budget: 'sockets' });
    this.metrics.budgetBytes.set(this.budgets.natsOutboundBytes, { budget: 'nats_outbound' });
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
    if (this.presenceTimer !== undefined) clearInterval(this.presenceTimer);
    if (this.presenceSoonTimer !== undefined) clearTimeout(this.presenceSoonTimer);
    this.clientFrames.flush(); // frames already read still reach the room before the closes
    this.carryOut(this.membership.drainPending());
    const locals = [...this.rooms.values()].flatMap((r) => [...r.sessions.values()]);
    // `end` runs the close handler at once, which announces PARTICIPANT_LEFT while draining.
    for (const local of locals) if (!local.closed) local.ws.end(CloseCode.GOING_AWAY, 'relay shutting down');
    const result = await this.link.close(this.config.drainTimeoutMs);
    this.log.info('nats drained', { result });
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
    case 1005: return 'no_status'; // the client's close frame carried no status code (RFC 6455 §7.1.5)
    case CloseCode.INVALID_PAYLOAD: return 'malformed';
    case CloseCode.POLICY: return 'too_slow';
    case CloseCode.MESSAGE_TOO_BIG: return 'too_big';
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
