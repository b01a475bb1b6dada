// The yardstick: our relay's design on the `ws` library instead of uWebSockets.js, kept in bench/
// only. Same protocol/ codec, one NATS connection (echo off), one subscription per room, local
// fan-out to the room's other sessions, own-subject filter, session-id stamping, RTT echo, the same
// per-socket buffer bound with counted drops, pings and idle timeout. Left out, as irrelevant to
// what is measured: JWT lobby, metrics, drain, CONGESTION notices, keyframe limits, leave grace.
// Settings: PORT, NATS_URL, SERVER_ID (environment).
import http from 'node:http';
import { connect } from '@nats-io/transport-node';
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import WebSocket, { WebSocketServer } from 'ws';
import {
  CodecError, IDLE_TIMEOUT_MS, MAX_FRAME_BYTES, MeetingEvent, PING_INTERVAL_MS, PacketType, ROOM_OR_USER_PATTERN,
  SYSTEM_USER_ID, encodeMeetingPacket, encodePacketWrapper, isRttProbe, newSessionId, readRoutingView, stampSessionId, subjects,
} from '../protocol';

/** The same bound as the relay's MAX_BUFFERED_BYTES default. */
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;

interface Session {
  id: bigint;
  idText: string;
  userId: string;
  room: string;
  ws: WebSocket;
  active: boolean;
  lastInbound: number;
}

interface Room {
  sessions: Map<string, Session>;
  sub: Subscription;
}

const systemFrame = (m: Parameters<typeof encodeMeetingPacket>[0]) =>
  encodePacketWrapper({ packetType: PacketType.MEETING, userId: SYSTEM_USER_ID, data: encodeMeetingPacket(m) });

class WsRelay {
  private readonly rooms = new Map<string, Room>();
  private drops = 0;

  constructor(private readonly nc: NatsConnection) {}

  open(ws: WebSocket, userId: string, roomName: string): void {
    const id = newSessionId();
    const s: Session = { id, idText: id.toString(10), userId, room: roomName, ws, active: false, lastInbound: Date.now() };
    let room = this.rooms.get(roomName);
    if (room === undefined) {
      const sub = this.nc.subscribe(subjects.roomWildcard(roomName), { callback: (err, msg) => { if (err === null) this.fromNats(roomName, msg); } });
      room = { sessions: new Map(), sub };
      this.rooms.set(roomName, room);
    }
    room.sessions.set(s.idText, s);
    ws.send(encodePacketWrapper({ packetType: PacketType.SESSION_ASSIGNED, userId: SYSTEM_USER_ID, sessionId: id }));
    ws.send(systemFrame({ eventType: MeetingEvent.MEETING_STARTED, roomId: roomName, startTimeMs: BigInt(Date.now()), creatorId: userId }));
    ws.on('message', (data: Buffer, isBinary: boolean) => this.message(s, room!, data, isBinary));
    ws.on('pong', () => (s.lastInbound = Date.now()));
    ws.on('close', () => this.close(s));
    ws.on('error', () => ws.terminate());
  }

  private message(s: Session, room: Room, data: Buffer, isBinary: boolean): void {
    s.lastInbound = Date.now();
    if (!isBinary) return;
    const frame = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    let view;
    try {
      view = readRoutingView(frame);
    } catch (err) {
      if (!(err instanceof CodecError)) throw err;
      s.ws.close(1007, 'malformed PacketWrapper');
      return;
    }
    if (isRttProbe(view)) {
      s.ws.send(frame);
      return;
    }
    if (!s.active) {
      s.active = true;
      const joined = systemFrame({
        eventType: MeetingEvent.PARTICIPANT_JOINED, roomId: s.room, message: `${s.userId} joined the meeting`,
        targetUserId: s.userId, sessionId: s.id, displayName: s.userId,
      });
      this.nc.publish(subjects.system(s.room), joined);
      for (const other of room.sessions.values()) other.ws.send(joined);
    }
    if (view.packetType === PacketType.CONGESTION || view.packetType === PacketType.HEALTH) return;
    const out = view.sessionId === 0n ? stampSessionId(frame, view, s.id) : frame;
    this.nc.publish(subjects.session(s.room, s.id), out);
    this.deliver(room, out, s, view.packetType === PacketType.MEDIA);
  }

  /** To every local session of the room but `exclude`; media is dropped for sockets over the bound. */
  private deliver(room: Room, frame: Uint8Array, exclude: Session | undefined, media: boolean): void {
    for (const other of room.sessions.values()) {
      if (other === exclude) continue;
      if (media && other.ws.bufferedAmount > MAX_BUFFERED_BYTES) {
        this.drops++;
        continue;
      }
      other.ws.send(frame);
    }
  }

  private fromNats(roomName: string, msg: Msg): void {
    const room = this.rooms.get(roomName);
    if (room === undefined) return;
    const sender = msg.subject.slice(msg.subject.lastIndexOf('.') + 1);
    let packetType = PacketType.UNKNOWN as number;
    if (sender !== 'system') {
      try {
        packetType = readRoutingView(msg.data).packetType;
      } catch {
        // forwarded unchanged
      }
    }
    // echo is off: a frame on a local session's subject came from another server and is not for it
    const own = sender === 'system' || packetType === PacketType.CONGESTION ? undefined : room.sessions.get(sender);
    this.deliver(room, msg.data, own, packetType === PacketType.MEDIA);
  }

  private close(s: Session): void {
    const room = this.rooms.get(s.room);
    if (room === undefined || room.sessions.get(s.idText) !== s) return;
    room.sessions.delete(s.idText);
    if (room.sessions.size === 0) {
      room.sub.unsubscribe();
      this.rooms.delete(s.room);
    }
    if (s.active) {
      this.nc.publish(subjects.system(s.room), systemFrame({
        eventType: MeetingEvent.PARTICIPANT_LEFT, roomId: s.room, message: `${s.userId} left the meeting`,
        targetUserId: s.userId, sessionId: s.id, displayName: s.userId,
      }));
    }
  }

  tick(): void {
    const now = Date.now();
    for (const room of this.rooms.values()) {
      for (const s of room.sessions.values()) {
        if (now - s.lastInbound >= IDLE_TIMEOUT_MS) s.ws.close(1000, 'idle timeout');
        else s.ws.ping();
      }
    }
  }

  get droppedFrames(): number {
    return this.drops;
  }
}

async function main(): Promise<void> {
  const port = Number(process.env.PORT ?? '0');
  const nc = await connect({ servers: process.env.NATS_URL ?? 'nats://127.0.0.1:4222', noEcho: true, name: `ws-relay-${process.env.SERVER_ID ?? 'bench'}` });
  const relay = new WsRelay(nc);
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: MAX_FRAME_BYTES });
  const httpServer = http.createServer((req, res) => {
    if (req.url === '/readyz' || req.url === '/healthz') {
      res.writeHead(nc.isClosed() ? 503 : 200, { 'content-type': 'text/plain' }).end(nc.isClosed() ? 'nats closed\n' : 'ready\n');
    } else if (req.url === '/metrics') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end(`ws_relay_dropped_frames_total ${relay.droppedFrames}\n`);
    } else {
      res.writeHead(404).end();
    }
  });
  httpServer.on('upgrade', (req, socket, head) => {
    const m = /^\/lobby\/([^/?]+)\/([^/?]+)$/.exec(req.url ?? '');
    const user = m ? decodeURIComponent(m[1]).replace(/ /g, '_') : '';
    const room = m ? decodeURIComponent(m[2]).replace(/ /g, '_') : '';
    if (!ROOM_OR_USER_PATTERN.test(user) || !ROOM_OR_USER_PATTERN.test(room)) {
      socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => relay.open(ws, user, room));
  });
  setInterval(() => relay.tick(), PING_INTERVAL_MS).unref();
  httpServer.listen(port, '127.0.0.1', () => {
    const addr = httpServer.address() as { port: number };
    process.stdout.write(`ws-relay listening on 127.0.0.1:${addr.port}\n`);
  });
  const stop = () => {
    httpServer.close();
    for (const c of wss.clients) c.terminate();
    void nc.close().finally(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

void main().catch((err: unknown) => {
  process.stderr.write(`ws-relay: ${String(err)}\n`);
  process.exit(1);
});
