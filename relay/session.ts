// The session state machine of PROTOCOL.md, pure: events and an injected clock in, actions out.
// The server (server.ts) carries the actions out on sockets and NATS.
import {
  CONGESTION_DROPS_PER_SECOND, CONGESTION_NOTICE_INTERVAL_MS, MediaType, MeetingEvent, PacketType,
  SYSTEM_USER_ID, encodeMeetingPacket, encodePacketWrapper, sessionIdStamp, subjects, utf8,
} from '../protocol';
import * as protocol from '../protocol';
import { normaliseUserId } from './admission';
import type { DropReason } from './metrics';

// onBinary runs for every client frame and uses these module constants, not the imports: see the
// note at the top of protocol/codec.ts on tsx's getters.
const readView = protocol.readRoutingView;
const isProbe = protocol.isRttProbe;
const stampedLength = protocol.stampedLength;
const stampInto = protocol.stampInto;
const CodecErrorClass = protocol.CodecError;
const sameBytes = protocol.bytesEqual;
const CONGESTION: number = PacketType.CONGESTION;
const HEALTH: number = PacketType.HEALTH;
const SESSION_ASSIGNED: number = PacketType.SESSION_ASSIGNED;
const MEETING: number = PacketType.MEETING;
const MEDIA: number = PacketType.MEDIA;
const KEYFRAME_REQUEST: number = MediaType.KEYFRAME_REQUEST;

export type SessionState = 'testing' | 'active' | 'closed';

/** WebSocket close codes the relay uses (RFC 6455 §7.4.1). */
export const CloseCode = {
  NORMAL: 1000,
  /** Drain on SIGTERM: clients fail over to the next relay at once. */
  GOING_AWAY: 1001,
  /** A frame that is not a PacketWrapper. */
  INVALID_PAYLOAD: 1007,
  /** The socket stayed over the send-buffer bound too long. */
  POLICY: 1008,
  /** A frame larger than the NATS server's max_payload (it could reach local peers only). */
  MESSAGE_TOO_BIG: 1009,
} as const;

export interface SessionIdentity {
  readonly id: bigint;
  readonly userId: string;
  readonly room: string;
  readonly displayName: string;
  readonly observer: boolean;
}

export interface SessionLimits {
  idleTimeoutMs: number;
  pingIntervalMs: number;
  keyframeRequestsPerSecond: number;
  slowSocketCloseMs: number;
}

export type SessionAction =
  /** Send these exact bytes back on the session's own socket. */
  | { kind: 'echo'; frame: Uint8Array }
  /**
   * Publish on NATS and deliver to the room's other local sessions: `frame` as the client sent it
   * (maybe borrowed), with the session's own id stamped in when `stamp` is given (publishedLength,
   * writePublished: the server stamps straight into the NATS batch). `restamped`: the client had put
   * another non-zero session id there, replaced by its own.
   */
  | { kind: 'publish'; subject: string; frame: Uint8Array; stamp?: { view: protocol.RoutingView; id: Uint8Array }; media: boolean; restamped: boolean }
  /** A system-subject MeetingPacket (wrapped) to publish and deliver to every local session. */
  | { kind: 'announce'; subject: string; frame: Uint8Array }
  /** A HEALTH packet, for the diagnostics subject only. */
  | { kind: 'health'; frame: Uint8Array }
  | { kind: 'drop'; reason: DropReason }
  | { kind: 'ping' }
  | { kind: 'close'; code: number; reason: string };

type PublishAction = Extract<SessionAction, { kind: 'publish' }>;

/** Bytes a publish action puts on NATS. */
export function publishedLength(a: PublishAction): number {
  return a.stamp === undefined ? a.frame.byteLength : stampedLength(a.frame, a.stamp.view, a.stamp.id);
}

/** Writes what a publish action puts on NATS into `out` (publishedLength bytes); returns `out`. */
export function writePublished(out: Uint8Array, a: PublishAction): Uint8Array {
  if (a.stamp === undefined) out.set(a.frame);
  else stampInto(out, a.frame, a.stamp.view, a.stamp.id);
  return out;
}

const SECOND_MS = 1_000;
const SYSTEM_USER_BYTES = utf8.encode(SYSTEM_USER_ID);

/** PacketWrapper{MEETING, SYSTEM, session 0, MeetingPacket{...}} as the system subject carries it. */
export function systemMeetingFrame(meeting: Parameters<typeof encodeMeetingPacket>[0]): Uint8Array {
  return encodePacketWrapper({ packetType: PacketType.MEETING, userId: SYSTEM_USER_ID, data: encodeMeetingPacket(meeting) });
}

/** PARTICIPANT_JOINED or PARTICIPANT_LEFT for a member, with the fields PROTOCOL.md lists. */
export function participantFrame(event: MeetingEvent.PARTICIPANT_JOINED | MeetingEvent.PARTICIPANT_LEFT, m: Omit<SessionIdentity, 'observer'>): Uint8Array {
  const verb = event === MeetingEvent.PARTICIPANT_JOINED ? 'joined' : 'left';
  return systemMeetingFrame({
    eventType: event,
    roomId: m.room,
    message: `${m.displayName || m.userId} ${verb} the meeting`,
    targetUserId: m.userId,
    sessionId: m.id,
    displayName: m.displayName,
  });
}

export class Session {
  readonly idText: string;
  private stateValue: SessionState = 'testing';
  private lastInboundMs: number;
  private lastPingMs: number;
  private keyframeTimes: number[] = [];
  private overBoundSinceMs: number | undefined;
  /** Per sender (session id text): drops towards this session in the current window. */
  private dropsBySender = new Map<string, { windowStartMs: number; count: number; lastNoticeMs: number }>();
  /** The user id as frames carry it after stamping. */
  private readonly userIdBytes: Uint8Array;
  /** Per frame, these would be 64-bit BigInt arithmetic: computed once. */
  readonly ownSubject: string;
  private readonly stamp: Uint8Array;

  constructor(
    readonly identity: SessionIdentity,
    private readonly limits: SessionLimits,
    nowMs: number,
  ) {
    this.idText = identity.id.toString(10);
    this.userIdBytes = utf8.encode(identity.userId);
    this.ownSubject = subjects.session(identity.room, identity.id);
    this.stamp = sessionIdStamp(identity.id);
    this.lastInboundMs = nowMs;
    this.lastPingMs = nowMs;
  }

  get state(): SessionState {
    return this.stateValue;
  }

  /** SESSION_ASSIGNED then MEETING_STARTED: the first two frames of every session. */
  welcomeFrames(nowMs: number): Uint8Array[] {
    return [
      encodePacketWrapper({ packetType: PacketType.SESSION_ASSIGNED, userId: SYSTEM_USER_ID, sessionId: this.identity.id }),
      systemMeetingFrame({
        eventType: MeetingEvent.MEETING_STARTED,
        roomId: this.identity.room,
        startTimeMs: BigInt(Math.floor(nowMs)),
        creatorId: this.identity.userId,
      }),
    ];
  }

  /** Any inbound frame, binary or not, or a pong, keeps the session alive. */
  touch(nowMs: number): void {
    this.lastInboundMs = nowMs;
  }

  /**
   * One inbound binary frame. `frame` may be borrowed from uWS (valid only during this call):
   * actions may carry it or a view of it, and the server copies before keeping one past the call
   * (the borrow rule, stated in server.ts `onMessage`).
   */
  onBinary(frame: Uint8Array, nowMs: number): SessionAction[] {
    if (this.stateValue === 'closed') return [];
    this.touch(nowMs);
    let view;
    try {
      view = readView(frame);
    } catch (err) {
      if (!(err instanceof CodecErrorClass)) throw err;
      // Close reasons must fit a control frame (123 bytes).
      return [{ kind: 'close', code: CloseCode.INVALID_PAYLOAD, reason: `malformed PacketWrapper: ${err.message}`.slice(0, 120) }];
    }
    if (isProbe(view)) return [{ kind: 'echo', frame }];

    const actions: SessionAction[] = [];
    if (this.stateValue === 'testing') {
      this.stateValue = 'active';
      if (!this.identity.observer) {
        actions.push({ kind: 'announce', subject: subjects.system(this.identity.room), frame: participantFrame(MeetingEvent.PARTICIPANT_JOINED, this.identity) });
      }
    }

    if (view.packetType === CONGESTION) return [...actions, { kind: 'drop', reason: 'congestion_from_client' }];
    if (view.packetType === HEALTH) return [...actions, { kind: 'health', frame }];
    // Only servers send these; the videocall client acts on any MEETING, whoever sent it.
    if (view.packetType === SESSION_ASSIGNED || view.packetType === MEETING || sameBytes(view.userId, SYSTEM_USER_BYTES)) {
      return [...actions, { kind: 'drop', reason: 'server_only_packet' }];
    }
    const media = view.packetType === MEDIA;
    if (media && this.identity.observer) return [...actions, { kind: 'drop', reason: 'observer_media' }];
    // Another user's id (wrapper or MediaPacket) is dropped rather than rewritten: rewriting could
    // grow the frame past NATS max_payload and costs a re-encode; absent ids name nobody.
    if (!this.isOwnOrNoUserId(view.userId) || (media && view.mediaUserId !== undefined && !this.isOwnOrNoUserId(view.mediaUserId))) {
      return [...actions, { kind: 'drop', reason: 'impersonation' }];
    }
    if (media && view.mediaType === KEYFRAME_REQUEST && !this.allowKeyframeRequest(nowMs)) {
      return [...actions, { kind: 'drop', reason: 'keyframe_limit' }];
    }
    // Always under the sender's own session id: another one (the existing servers keep it) is replaced.
    const restamped = view.sessionId !== 0n && view.sessionId !== this.identity.id;
    if (view.sessionId === this.identity.id) actions.push({ kind: 'publish', subject: this.ownSubject, frame, media, restamped });
    else actions.push({ kind: 'publish', subject: this.ownSubject, frame, stamp: { view, id: this.stamp }, media, restamped });
    return actions;
  }

  /** Compared after the lobby's normalisation (a path lobby turned the client's spaces into '_'). */
  private isOwnOrNoUserId(bytes: Uint8Array): boolean {
    return bytes.length === 0 || sameBytes(bytes, this.userIdBytes) || normaliseUserId(utf8.decode(bytes)) === this.identity.userId;
  }

  private allowKeyframeRequest(nowMs: number): boolean {
    this.keyframeTimes = this.keyframeTimes.filter((t) => nowMs - t < SECOND_MS);
    if (this.keyframeTimes.length >= this.limits.keyframeRequestsPerSecond) return false;
    this.keyframeTimes.push(nowMs);
    return true;
  }

  /**
   * The relay dropped a frame from `senderIdText` towards this session. True when a CONGESTION
   * notice is due: CONGESTION_DROPS_PER_SECOND drops within one second, at most one notice per interval.
   */
  noteDropFrom(senderIdText: string, nowMs: number): boolean {
    let w = this.dropsBySender.get(senderIdText);
    if (w === undefined) {
      w = { windowStartMs: nowMs, count: 0, lastNoticeMs: -Infinity };
      this.dropsBySender.set(senderIdText, w);
    }
    if (nowMs - w.windowStartMs >= SECOND_MS) {
      w.windowStartMs = nowMs;
      w.count = 0;
    }
    w.count++;
    if (w.count >= CONGESTION_DROPS_PER_SECOND && nowMs - w.lastNoticeMs >= CONGESTION_NOTICE_INTERVAL_MS) {
      w.lastNoticeMs = nowMs;
      w.count = 0;
      return true;
    }
    return false;
  }

  /** CONGESTION {user_id = this (the congested receiver), session_id = the sender}. */
  congestionFrame(senderId: bigint): Uint8Array {
    return encodePacketWrapper({ packetType: PacketType.CONGESTION, userId: this.identity.userId, sessionId: senderId });
  }

  /** Reports whether the socket's send buffer is over the bound; returns the transition, if any. */
  setOverBound(over: boolean, nowMs: number): 'congested' | 'recovered' | undefined {
    if (over && this.overBoundSinceMs === undefined) {
      this.overBoundSinceMs = nowMs;
      return 'congested';
    }
    if (!over && this.overBoundSinceMs !== undefined) {
      this.overBoundSinceMs = undefined;
      return 'recovered';
    }
    return undefined;
  }

  get overBound(): boolean {
    return this.overBoundSinceMs !== undefined;
  }

  /** Periodic housekeeping: idle timeout, slow socket, pings. */
  tick(nowMs: number): SessionAction[] {
    if (this.stateValue === 'closed') return [];
    if (nowMs - this.lastInboundMs >= this.limits.idleTimeoutMs) {
      return [{ kind: 'close', code: CloseCode.NORMAL, reason: 'idle timeout' }];
    }
    if (this.overBoundSinceMs !== undefined && nowMs - this.overBoundSinceMs >= this.limits.slowSocketCloseMs) {
      return [{ kind: 'close', code: CloseCode.POLICY, reason: 'receiver too slow' }];
    }
    if (nowMs - this.lastPingMs >= this.limits.pingIntervalMs) {
      this.lastPingMs = nowMs;
      return [{ kind: 'ping' }];
    }
    return [];
  }

  /**
   * The socket closed. Returns the member to announce as left after the grace period: only an
   * active, non-observer session is one.
   */
  close(): Omit<SessionIdentity, 'observer'> | undefined {
    const wasActive = this.stateValue === 'active';
    this.stateValue = 'closed';
    this.dropsBySender.clear();
    return wasActive && !this.identity.observer ? this.identity : undefined;
  }
}
