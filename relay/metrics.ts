// Prometheus text exposition (format 0.0.4) of the relay's counters and gauges. Labels are fixed
// enumerations chosen here, never request data, so no token or user id can end up in one.

type Labels = Record<string, string>;

interface Family {
  name: string;
  help: string;
  type: 'counter' | 'gauge';
  values: Map<string, { labels: Labels; value: number }>;
}

function labelKey(labels: Labels): string {
  return Object.keys(labels).sort().map((k) => `${k}=${labels[k]}`).join(',');
}

function renderLabels(labels: Labels): string {
  const keys = Object.keys(labels);
  if (keys.length === 0) return '';
  const escape = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
  return `{${keys.map((k) => `${k}="${escape(labels[k])}"`).join(',')}}`;
}

export class Registry {
  private families = new Map<string, Family>();
  private collectors: Array<() => void> = [];

  counter<L extends string = never>(name: string, help: string): Metric<L> {
    return this.family(name, help, 'counter');
  }

  gauge<L extends string = never>(name: string, help: string): Metric<L> {
    return this.family(name, help, 'gauge');
  }

  /** Runs before each exposition, to refresh gauges read from elsewhere. */
  onCollect(fn: () => void): void {
    this.collectors.push(fn);
  }

  expose(): string {
    for (const c of this.collectors) c();
    const out: string[] = [];
    for (const f of this.families.values()) {
      out.push(`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} ${f.type}`);
      if (f.values.size === 0 && f.type === 'counter') out.push(`${f.name} 0`);
      for (const { labels, value } of f.values.values()) out.push(`${f.name}${renderLabels(labels)} ${value}`);
    }
    return out.join('\n') + '\n';
  }

  private family<L extends string>(name: string, help: string, type: 'counter' | 'gauge'): Metric<L> {
    if (this.families.has(name)) throw new Error(`metric ${name} registered twice`);
    const family: Family = { name, help, type, values: new Map() };
    this.families.set(name, family);
    return new Metric<L>(family);
  }
}

export class Metric<L extends string> {
  constructor(private readonly family: Family) {}

  inc(labels: Record<L, string> | undefined = undefined, by = 1): void {
    const entry = this.entry(labels);
    entry.value += by;
  }

  set(value: number, labels: Record<L, string> | undefined = undefined): void {
    this.entry(labels).value = value;
  }

  /** The series for these labels, resolved once: for counters bumped on every frame. */
  labels(labels: Record<L, string>): BoundMetric {
    const entry = this.entry(labels);
    return {
      inc(by = 1) {
        entry.value += by;
      },
    };
  }

  get(labels: Record<L, string> | undefined = undefined): number {
    return this.family.values.get(labelKey((labels ?? {}) as Labels))?.value ?? 0;
  }

  private entry(labels: Record<L, string> | undefined) {
    const l = (labels ?? {}) as Labels;
    const key = labelKey(l);
    let entry = this.family.values.get(key);
    if (entry === undefined) {
      entry = { labels: { ...l }, value: 0 };
      this.family.values.set(key, entry);
    }
    return entry;
  }
}

export interface BoundMetric {
  inc(by?: number): void;
}

/** Why a frame was not delivered or not published. */
export type DropReason =
  | 'backpressure'
  | 'nats_disconnected'
  | 'observer_media'
  | 'keyframe_limit'
  | 'congestion_from_client'
  | 'health_from_client'
  | 'publish_failed'
  /** NATS link states (nats-link.ts): while NATS cannot take data, publishes are dropped. */
  | 'nats_stalled'
  | 'nats_outbound_full'
  | 'over_nats_max_payload'
  /** A receiver over its fair share while all sockets together are over the socket budget. */
  | 'memory_budget'
  /** A client's SESSION_ASSIGNED, MEETING or SYSTEM-user packet. */
  | 'server_only_packet'
  /** A client's MEDIA whose MediaPacket.user_id is another user's. */
  | 'impersonation';

export function relayMetrics(registry = new Registry()) {
  return {
    registry,
    sessions: registry.gauge<'state'>('relay_sessions', 'Open WebSocket sessions by state.'),
    rooms: registry.gauge('relay_rooms', 'Rooms with at least one local session (one NATS subscription each).'),
    framesIn: registry.counter<'source'>('relay_frames_in_total', 'Binary frames received, by source (client, nats).'),
    bytesIn: registry.counter<'source'>('relay_bytes_in_total', 'Bytes of binary frames received, by source (client, nats).'),
    framesOut: registry.counter<'destination'>('relay_frames_out_total', 'Frames sent, by destination (client, nats).'),
    bytesOut: registry.counter<'destination'>('relay_bytes_out_total', 'Bytes of frames sent, by destination (client, nats).'),
    drops: registry.counter<'reason'>('relay_dropped_frames_total', 'Frames not delivered or not published, by reason.'),
    rttEchoes: registry.counter('relay_rtt_echoes_total', 'RTT probes echoed.'),
    congestionNotices: registry.counter('relay_congestion_notices_total', 'CONGESTION notices sent to senders.'),
    slowSocketCloses: registry.counter('relay_slow_socket_closes_total', 'Sockets closed for staying over the buffer bound.'),
    sessionsClosed: registry.counter<'reason'>('relay_sessions_closed_total', 'Sessions ended, by reason.'),
    upgradesRejected: registry.counter<'status'>('relay_upgrades_rejected_total', 'WebSocket upgrades refused, by HTTP status.'),
    natsReconnects: registry.counter('relay_nats_reconnects_total', 'Reconnections to NATS.'),
    natsConnected: registry.gauge('relay_nats_connected', '1 while connected to NATS.'),
    natsOutboundBytes: registry.gauge('relay_nats_outbound_bytes', 'Bytes handed to NATS that the server has not yet confirmed (bounded by the NATS outbound budget).'),
    socketBufferedBytes: registry.gauge('relay_socket_buffered_bytes', 'All sockets\' send buffers together (bounded by the socket budget).'),
    budgetBytes: registry.gauge<'budget'>('relay_memory_budget_bytes', 'Buffering budgets derived from MEMORY_LIMIT_BYTES, by budget (sockets, nats_outbound).'),
    restamped: registry.counter('relay_restamped_frames_total', 'Client frames that carried another user id or session id, delivered under the sender\'s own.'),
    leftSuppressed: registry.counter('relay_left_suppressed_total', 'PARTICIPANT_LEFT from NATS not forwarded: the user still has a live session in the room.'),
    ghostsRemoved: registry.counter('relay_dead_relay_members_left_total', 'Members removed by presence (their relay stopped, or stopped listing them) and told left to local sessions.'),
    draining: registry.gauge('relay_draining', '1 once SIGTERM started the drain.'),
    rss: registry.gauge('process_resident_memory_bytes', 'Resident memory size in bytes.'),
    heap: registry.gauge('nodejs_heap_used_bytes', 'V8 heap in use, bytes.'),
  };
}

export type RelayMetrics = ReturnType<typeof relayMetrics>;
