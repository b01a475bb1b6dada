// Rooms with local sessions: one NATS subscription per room (taken by the first local session,
// dropped with the last, or once the last one's departure is settled) and the local sessions by id. Who is a member is membership.ts's business.
import { subjects } from '../protocol';

export interface RoomSubscription {
  unsubscribe(): void;
}

export class Room<L> {
  /** Local sessions by session id in decimal (the last token of their subject). */
  readonly sessions = new Map<string, L>();
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

  /** Removes the session; true when the room has no local session left (see `close`). */
  leave(name: string, sessionIdText: string): boolean {
    const room = this.rooms.get(name);
    if (room === undefined) return false;
    room.sessions.delete(sessionIdText);
    return room.sessions.size === 0;
  }

  /**
   * Drops an empty room's NATS subscription. The server calls it when the last session leaves,
   * or later, once no departure in the room is pending (until then it must keep hearing who joins).
   */
  close(name: string): boolean {
    const room = this.rooms.get(name);
    if (room === undefined || room.sessions.size > 0) return false;
    room.subscription.unsubscribe();
    this.rooms.delete(name);
    return true;
  }
}
