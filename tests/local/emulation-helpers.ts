// What the emulation tests share: a third region, and calls: a client on one region's relay
// sending numbered media frames to a client on another's (or the same) relay, in one room.
import { MediaType, PacketType, decodeMediaPacket, decodePacketWrapper, encodeMediaPacket, encodePacketWrapper } from '../../protocol';
import { regions as builtInRegions } from '../../regions';
import { RegionSpec } from '../../topology/spec';
import { TestClient } from '../relay/helpers';

/** us-east, singapore and a third region, so two regions can talk while the third is down. */
export const THREE_REGIONS: RegionSpec[] = [
  ...builtInRegions,
  {
    name: 'eu-central',
    slug: 'fra1',
    vpcCidr: '10.120.0.0/16',
    // A small region that still passes synth's capacity check: one node, at most two relays.
    nodePool: { size: 's-4vcpu-8gb', count: 1 },
    nats: { replicas: 1, jetstreamStorage: '3Gi', gatewayEndpoints: ['10.120.0.2:30722'] },
    relay: { hosts: ['eu-central.relay.videocall.example'], minReplicas: 1, maxReplicas: 2 },
  },
];

/** A call's media: numbered frames from a sender on relay `fromUrl` to a receiver on relay `toUrl`. */
export class Call {
  readonly received = new Set<number>();
  private sent = 0;
  private timer?: NodeJS.Timeout;
  private seen = 0;

  private constructor(private readonly sender: TestClient, private readonly receiver: TestClient, private readonly user: string) {}

  /** `fromUrl`, `toUrl`: ws:// URLs of relays; `room` is unique per call. */
  static async open(fromUrl: string, toUrl: string, room: string): Promise<Call> {
    const receiver = await TestClient.open(`${toUrl}/lobby/rx-${room}/${room}`);
    const sender = await TestClient.open(`${fromUrl}/lobby/tx-${room}/${room}`);
    return new Call(sender, receiver, `tx-${room}`);
  }

  /** Sends one frame every `everyMs`. */
  start(everyMs = 20): void {
    this.timer = setInterval(() => {
      const data = Buffer.alloc(4);
      data.writeUInt32BE(this.sent++);
      this.sender.send(encodePacketWrapper({ packetType: PacketType.MEDIA, userId: this.user, data: encodeMediaPacket({ mediaType: MediaType.AUDIO, data }) }));
      this.collect();
    }, everyMs);
  }

  private collect(): void {
    const frames = this.receiver.frames;
    for (; this.seen < frames.length; this.seen++) {
      try {
        const pw = decodePacketWrapper(frames[this.seen]);
        if (pw.packetType !== PacketType.MEDIA) continue;
        const media = decodeMediaPacket(pw.data);
        if (media.data.length === 4) this.received.add(Buffer.from(media.data).readUInt32BE(0));
      } catch {
        // not one of ours
      }
    }
  }

  get sentCount(): number {
    return this.sent;
  }

  /** Frames numbered ≥ from that arrived. */
  receivedSince(from: number): number {
    this.collect();
    let n = 0;
    for (const k of this.received) if (k >= from) n++;
    return n;
  }

  /** Frames numbered in [from, to) that never arrived. */
  missing(from: number, to: number): number[] {
    this.collect();
    const out: number[] = [];
    for (let k = from; k < to; k++) if (!this.received.has(k)) out.push(k);
    return out;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    this.sender.terminate();
    this.receiver.terminate();
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
