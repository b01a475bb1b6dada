// Rooms with local sessions: one NATS subscription per room (taken by the first local session,
// dropped with the last), the local sessions by id, and the members this relay knows of.
import { MeetingEvent, PacketType, decodeMeetingPacket, decodePacketWrapper, subjects, utf8 } from '../protocol';
import type { SessionIdentity } from './session';

export type Member = Omit<SessionIdentity, 'observer'>;

export interface RoomSubscription {
  unsubscribe(): void;
}

export class Room<L> {
  /** Local sessions by session id in decimal (the last token of their subject). */
  readonly sessions = new Map<string, L>();
  /** Participants this relay knows: its own active sessions and those announced on the system subject. */
  readonly members = new Map<string, Member>();
  /** uWS topic every local session is subscribed to: frames that are never dropped. */
  readonly controlTopic: string;
  /** uWS topic of the sessions whose send buffer is under the bound: media frames. */
  readonly mediaTopic: string;

  constructor(
    readonly name: string,
    readonly subscription: RoomSubscription,
  ) {
    this.controlTopic = `control/${name}`;
    this.mediaTopic = `media/${name}`;
  }

  addMember(m: Member): void {
    this.members.set(m.id.toString(10), m);
  }

  removeMember(m: Pick<Member, 'id' | 'userId'>): void {
    if (m.id !== 0n) {
      this.members.delete(m.id.toString(10));
      return;
    }
    for (const [key, known] of this.members) if (known.userId === m.userId) this.members.delete(key);
  }

  /** Keeps `members` in step with PARTICIPANT_JOINED/LEFT seen on the system subject; ignores the rest. */
  noteSystemFrame(frame: Uint8Array): void {
    try {
      const pw = decodePacketWrapper(frame);
      if (pw.packetType !== PacketType.MEETING) return;
      const m = decodeMeetingPacket(pw.data);
      const member = { id: m.sessionId, userId: utf8.decode(m.targetUserId), room: this.name, displayName: utf8.decode(m.displayName) };
      if (m.eventType === MeetingEvent.PARTICIPANT_JOINED && member.userId !== '') this.addMember(member);
      if (m.eventType === MeetingEvent.PARTICIPANT_LEFT) this.removeMember(member);
    } catch {
      // Other servers' system frames are forwarded unchanged whether or not we can read them.
    }
  }
}

export class Rooms<L> {
  private rooms = new Map<string, Room<L>>();

  /** `subscribe` is called once per room, with `room.{name}.*`. */
  constructor(private readonly subscribe: (subject: string, room: string) => RoomSubscription) {}

  get size(): number {
    return this.rooms.size;
  }

  get(name: string): Room<L> | undefined {
    return this.rooms.get(name);
  }

  values(): IterableIterator<Room<L>> {
    return this.rooms.values();
  }

  join(name: string, sessionIdText: string, local: L): Room<L> {
    let room = this.rooms.get(name);
    if (room === undefined) {
      room = new Room<L>(name, this.subscribe(subjects.roomWildcard(name), name));
      this.rooms.set(name, room);
    }
    room.sessions.set(sessionIdText, local);
    return room;
  }

  /** Removes the session; the last one out drops the room's NATS subscription at once. */
  leave(name: string, sessionIdText: string): void {
    const room = this.rooms.get(name);
    if (room === undefined) return;
    room.sessions.delete(sessionIdText);
    if (room.sessions.size === 0) {
      room.subscription.unsubscribe();
      this.rooms.delete(name);
    }
  }
}
