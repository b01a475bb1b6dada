// Who is in each room, and when to say someone left: pure, an injected clock in, actions out.
//
// Clients track participants by user id, so the one rule behind every decision here is: nobody is
// told a user left while that user has a live session in the room, here or on another relay.
// - A local session that was a member closes: if the user has another live member session (local,
//   or remote as learned from the system subject's PARTICIPANT_JOINED), nothing is announced; if
//   the user has a local Testing session, it inherits the departure (as a rejoin does); draining
//   announces at once; otherwise PARTICIPANT_LEFT is due after the grace period, re-checked then.
// - A PARTICIPANT_LEFT from the system subject is forwarded to local clients only when the user
//   has no other live session left in the room (a failover's old relay announcing the old session
//   after the user is back through another relay is absorbed).
// - Relays of ours publish a presence heartbeat listing their members; a relay whose heartbeat
//   stops (SIGKILL, node loss) has its members removed, and each relay tells only its own local
//   sessions PARTICIPANT_LEFT for them (never NATS): every client hears it exactly once, from its
//   own relay, with no election between relays. Members learned from servers that send no
//   presence (the existing videocall servers) are only removed by their PARTICIPANT_LEFT.
// - Presence also heals: a listed member we do not know (joined before our subscription, or its
//   relay came back after a partition) is told joined to local sessions; a member its relay stops
//   listing without a PARTICIPANT_LEFT (a departure dropped because the user came back) is removed,
//   and told left only if the user has no other live session. A relay publishes on one NATS
//   connection, so its JOINED/LEFT and its presence arrive in the order it sent them.
import type { SessionIdentity } from './session';

export type Member = Omit<SessionIdentity, 'observer'>;

export type MembershipAction =
  /** PARTICIPANT_LEFT on the system subject (other relays and servers) and to local sessions. */
  | { kind: 'announce-left'; member: Member }
  /** PARTICIPANT_LEFT to this relay's local sessions only: a member of a relay that died. */
  | { kind: 'tell-local-left'; member: Member }
  /** PARTICIPANT_JOINED to this relay's local sessions only: a member learned from presence. */
  | { kind: 'tell-local-joined'; member: Member };

/** A relay of ours is presumed dead after this long without its presence heartbeat. */
export const PRESENCE_INTERVAL_MS = 2_000;
export const PRESENCE_DEAD_AFTER_MS = 3 * PRESENCE_INTERVAL_MS;

interface MemberEntry {
  member: Member;
  /** Undefined for a local session; a relay's server id once its presence lists the session. */
  relay?: string;
  local: boolean;
}

interface LocalEntry {
  identity: SessionIdentity;
  active: boolean;
  /** A departure of the same user this session took over by opening within the grace period. */
  inherited?: Member;
}

interface RoomState {
  members: Map<string, MemberEntry>;
  locals: Map<string, LocalEntry>;
}

/** The presence heartbeat's body: the relay's members (and pending departures), by room. */
export interface Presence {
  server: string;
  /** Per room: [session id in decimal, user id, display name]. */
  rooms: Record<string, Array<[string, string, string]>>;
}

/** A presence body from NATS, checked field by field (it comes from the network). */
export function parsePresence(value: unknown): Presence | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { server, rooms } = value as { server?: unknown; rooms?: unknown };
  if (typeof server !== 'string' || typeof rooms !== 'object' || rooms === null) return undefined;
  for (const entries of Object.values(rooms)) {
    if (!Array.isArray(entries)) return undefined;
    for (const e of entries) {
      if (!Array.isArray(e) || e.length !== 3 || typeof e[0] !== 'string' || !/^\d{1,20}$/.test(e[0]) || typeof e[1] !== 'string' || typeof e[2] !== 'string') return undefined;
    }
  }
  return value as Presence;
}

const key = (room: string, userId: string) => `${room}\u0000${userId}`;

export class Membership {
  private rooms = new Map<string, RoomState>();
  private pending = new Map<string, { member: Member; dueMs: number }>();
  private relays = new Map<string, number>();
  /** Presence judgements start no earlier than this (our own NATS link was down before it). */
  private presenceValidFromMs: number;

  constructor(private readonly graceMs: number, nowMs: number) {
    this.presenceValidFromMs = nowMs;
  }

  private room(name: string): RoomState {
    let r = this.rooms.get(name);
    if (r === undefined) {
      r = { members: new Map(), locals: new Map() };
      this.rooms.set(name, r);
    }
    return r;
  }

  /** Members this relay knows in `room`, to greet a joiner with. */
  members(room: string): Member[] {
    return [...(this.rooms.get(room)?.members.values() ?? [])].map((e) => e.member);
  }

  /** A local session opened (Testing): it takes over the user's pending departure, if any. */
  opened(identity: SessionIdentity): { rejoin: boolean } {
    const k = key(identity.room, identity.userId);
    const inherited = this.pending.get(k)?.member;
    this.pending.delete(k);
    this.room(identity.room).locals.set(identity.id.toString(10), { identity, active: false, inherited });
    return { rejoin: inherited !== undefined };
  }

  /** A local session became Active; a non-observer one is a member from now on. */
  activated(identity: SessionIdentity): void {
    const r = this.room(identity.room);
    const id = identity.id.toString(10);
    const local = r.locals.get(id);
    if (local !== undefined) local.active = true;
    if (!identity.observer) r.members.set(id, { member: identity, local: true });
  }

  /** A local session closed. */
  closed(identity: SessionIdentity, draining: boolean, nowMs: number): MembershipAction[] {
    const r = this.room(identity.room);
    const id = identity.id.toString(10);
    const local = r.locals.get(id);
    r.locals.delete(id);
    const wasMember = r.members.get(id);
    r.members.delete(id);
    const departing = wasMember?.member ?? local?.inherited;
    if (departing === undefined) return [];
    if (this.hasLiveMember(identity.room, identity.userId)) return [];
    if (!draining) {
      const heir = [...r.locals.values()].find((l) => l.identity.userId === identity.userId && !l.active);
      if (heir !== undefined) {
        heir.inherited = departing;
        return [];
      }
    }
    if (draining) return [{ kind: 'announce-left', member: departing }];
    this.pending.set(key(identity.room, identity.userId), { member: departing, dueMs: nowMs + this.graceMs });
    return [];
  }

  /** Whether a departure in `room` is waiting out its grace period (its room must stay subscribed). */
  hasPending(room: string): boolean {
    for (const d of this.pending.values()) if (d.member.room === room) return true;
    return false;
  }

  /** The room's subscription is dropped: what we learned from it goes stale. */
  roomClosed(room: string): void {
    this.rooms.delete(room);
  }

  /** PARTICIPANT_JOINED from the system subject (another server's session, or a relayed copy). */
  remoteJoined(member: Member): void {
    const r = this.rooms.get(member.room);
    if (r === undefined || member.userId === '') return;
    const id = member.id.toString(10);
    if (r.members.get(id)?.local) return;
    r.members.set(id, { member, relay: r.members.get(id)?.relay, local: false });
  }

  /**
   * PARTICIPANT_LEFT from the system subject: removes the member; true when local clients should
   * get it (the user has no other live session in the room).
   */
  remoteLeft(member: Pick<Member, 'id' | 'userId' | 'room'>): boolean {
    const r = this.rooms.get(member.room);
    if (r === undefined) return true;
    if (member.id !== 0n) {
      if (!r.members.get(member.id.toString(10))?.local) r.members.delete(member.id.toString(10));
    } else {
      for (const [id, e] of r.members) if (e.member.userId === member.userId && !e.local) r.members.delete(id);
    }
    return !this.hasLiveMember(member.room, member.userId);
  }

  /** Another relay's presence heartbeat. */
  presence(p: Presence, nowMs: number): MembershipAction[] {
    this.relays.set(p.server, nowMs);
    const out: MembershipAction[] = [];
    for (const [name, r] of this.rooms) {
      const listed = new Map((p.rooms[name] ?? []).map(([id, userId, displayName]) => [id, { userId, displayName }]));
      for (const [id, e] of r.members) {
        if (e.local || e.relay !== p.server || listed.has(id)) continue;
        r.members.delete(id);
        if (!this.hasLiveMember(name, e.member.userId)) out.push({ kind: 'tell-local-left', member: e.member });
      }
      for (const [id, who] of listed) {
        const known = r.members.get(id);
        if (known !== undefined) {
          if (!known.local) known.relay = p.server;
          continue;
        }
        if (who.userId === '') continue;
        const member = { id: BigInt(id), userId: who.userId, room: name, displayName: who.displayName };
        const userKnown = this.hasLiveMember(name, who.userId);
        r.members.set(id, { member, relay: p.server, local: false });
        if (!userKnown) out.push({ kind: 'tell-local-joined', member });
      }
    }
    return out;
  }

  /**
   * Our presence heartbeat: local members, pending departures and departures a Testing session
   * took over (all still present until announced).
   */
  ownPresence(server: string): Presence {
    const rooms: Presence['rooms'] = {};
    const add = (m: Member) => (rooms[m.room] ??= []).push([m.id.toString(10), m.userId, m.displayName]);
    for (const r of this.rooms.values()) {
      for (const e of r.members.values()) if (e.local) add(e.member);
      for (const l of r.locals.values()) if (!l.active && l.inherited !== undefined) add(l.inherited);
    }
    for (const d of this.pending.values()) add(d.member);
    return { server, rooms };
  }

  /**
   * Due departures and members of relays whose presence stopped. `natsUsable` false: presence
   * cannot arrive, so nobody is judged dead until it has been back for a full window.
   */
  tick(nowMs: number, natsUsable: boolean): MembershipAction[] {
    const out: MembershipAction[] = [];
    for (const [k, d] of this.pending) {
      if (d.dueMs > nowMs) continue;
      this.pending.delete(k);
      if (!this.hasLiveMember(d.member.room, d.member.userId)) out.push({ kind: 'announce-left', member: d.member });
    }
    if (!natsUsable) {
      this.presenceValidFromMs = nowMs;
      return out;
    }
    for (const [server, lastMs] of this.relays) {
      if (Math.max(lastMs, this.presenceValidFromMs) > nowMs - PRESENCE_DEAD_AFTER_MS) continue;
      this.relays.delete(server);
      for (const r of this.rooms.values()) {
        for (const [id, e] of r.members) {
          if (e.relay !== server) continue;
          r.members.delete(id);
          if (!this.hasLiveMember(e.member.room, e.member.userId)) out.push({ kind: 'tell-local-left', member: e.member });
        }
      }
    }
    return out;
  }

  /** Drain: every pending departure is announced now (unless its user is live elsewhere). */
  drainPending(): MembershipAction[] {
    const out: MembershipAction[] = [];
    for (const d of this.pending.values()) {
      if (!this.hasLiveMember(d.member.room, d.member.userId)) out.push({ kind: 'announce-left', member: d.member });
    }
    this.pending.clear();
    return out;
  }

  /** Whether `userId` has a member session in `room`: a local active one or a remote one. */
  private hasLiveMember(room: string, userId: string): boolean {
    const r = this.rooms.get(room);
    if (r === undefined) return false;
    for (const e of r.members.values()) if (e.member.userId === userId) return true;
    return false;
  }

  get pendingCount(): number {
    return this.pending.size;
  }
}
