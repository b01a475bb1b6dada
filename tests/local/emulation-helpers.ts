// What the emulation tests share: a third region, and "calls" as sequenced NATS traffic through
// each region's client Service (the path a relay's media takes).
import { connect } from '@nats-io/transport-node';
import { regions as builtInRegions } from '../../regions';
import { RegionSpec } from '../../topology/spec';

type NatsConnection = Awaited<ReturnType<typeof connect>>;

/** us-east, singapore and a third region, so two regions can talk while the third is down. */
export const THREE_REGIONS: RegionSpec[] = [
  ...builtInRegions,
  {
    name: 'eu-central',
    slug: 'fra1',
    vpcCidr: '10.120.0.0/16',
    nodePool: { size: 's-2vcpu-4gb', count: 1 },
    nats: { replicas: 1, jetstreamStorage: '3Gi', gatewayEndpoints: ['10.120.0.2:30722'] },
    relay: { hosts: ['eu-central.relay.videocall.example'] },
  },
];

/** A call's media: numbered frames published in one region, counted in another, both through client Services. */
export class Call {
  readonly received = new Set<number>();
  private sent = 0;
  private timer?: NodeJS.Timeout;

  private constructor(private readonly pub: NatsConnection, private readonly sub: NatsConnection, private readonly subject: string) {}

  static async open(fromUrl: string, toUrl: string, subject: string): Promise<Call> {
    const opts = { reconnect: true, maxReconnectAttempts: -1, reconnectTimeWait: 100 };
    const sub = await connect({ servers: toUrl, ...opts });
    const pub = await connect({ servers: fromUrl, ...opts });
    const call = new Call(pub, sub, subject);
    sub.subscribe(subject, {
      callback: (_e, m) => {
        call.received.add(Buffer.from(m.data).readUInt32BE(0));
      },
    });
    await sub.flush();
    return call;
  }

  /** Publishes one frame every `everyMs`. */
  start(everyMs = 20): void {
    this.timer = setInterval(() => {
      const b = Buffer.alloc(4);
      b.writeUInt32BE(this.sent++);
      this.pub.publish(this.subject, b);
    }, everyMs);
  }

  get sentCount(): number {
    return this.sent;
  }

  /** Frames with number ≥ from that arrived. */
  receivedSince(from: number): number {
    let n = 0;
    for (const k of this.received) if (k >= from) n++;
    return n;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await Promise.all([this.pub.close(), this.sub.close()]);
  }
}

export async function until(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<number> {
  const t0 = Date.now();
  while (Date.now() - t0 < timeoutMs) {
    if (await check()) return Date.now() - t0;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`not within ${timeoutMs} ms: ${what}`);
}
