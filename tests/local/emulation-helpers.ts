// What the emulation tests share: a third region, and "calls" as sequenced NATS traffic through
// each region's client Service (the path a relay's media takes).
import { connect } from '@nats-io/transport-node';
import { regions as builtInRegions } from '../../regions';
import { RegionSpec } from '../../topology/spec';
import { K8sObject } from '../../local/manifests';

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

/**
 * The form that does not deadlock (the contract with issue 8): NATS startup and readiness probes
 * that skip the meta-leader check, and a gateway Service publishing not-ready addresses. Used only
 * to give the deadlock test a history in which one JetStream meta group spans the regions.
 */
export function withoutMetaLeaderDependency(objects: K8sObject[]): K8sObject[] {
  const lenient = (p: any) => (p?.httpGet ? { ...p, httpGet: { ...p.httpGet, path: '/healthz?js-enabled-only=true' } } : p); // eslint-disable-line @typescript-eslint/no-explicit-any
  return objects.map((o) => {
    if (o.kind === 'Service' && o.spec?.type === 'NodePort') return { ...o, spec: { ...o.spec, publishNotReadyAddresses: true } };
    if (o.kind !== 'StatefulSet') return o;
    const podSpec = o.spec.template.spec;
    const containers = podSpec.containers.map((c: any) => // eslint-disable-line @typescript-eslint/no-explicit-any
      c.name === 'nats' ? { ...c, startupProbe: lenient(c.startupProbe), readinessProbe: lenient(c.readinessProbe) } : c);
    return { ...o, spec: { ...o.spec, template: { ...o.spec.template, spec: { ...podSpec, containers } } } };
  });
}

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
