// Two regions: the NATS clusters the synthesis generates (us-east, singapore), joined by real
// gateways, one relay on each; a client in each region in the same room hear each other.
import { MediaType, MeetingEvent, PacketType, decodePacketWrapper, encodeMediaPacket, encodePacketWrapper, utf8 } from '../../protocol';
import { eventually } from '../support/processes';
import { RelayProcess, startRelay } from '../support/relay';
import { SuperCluster, startSuperCluster } from '../support/supercluster';
import { TestClient, closeAllClients, meetingOf, sameBytes } from './helpers';

const REGIONS = ['us-east', 'singapore'] as const;
let cluster: SuperCluster;
const relays: Record<string, RelayProcess> = {};

beforeAll(async () => {
  cluster = await startSuperCluster();
  for (const region of REGIONS) {
    const urls = cluster.clientUrls[region];
    if (urls === undefined || urls.length === 0) throw new Error(`the super-cluster has no client URL for ${region}`);
    relays[region] = await startRelay({ natsUrl: urls.join(','), region, serverId: `${region}-relay-0` });
  }
}, 60_000);

afterAll(async () => {
  closeAllClients();
  await Promise.all(Object.values(relays).map((r) => r.stop()));
  await cluster?.stop();
}, 30_000);

const media = (user: string, n: number) =>
  encodePacketWrapper({ packetType: PacketType.MEDIA, userId: user, data: encodeMediaPacket({ mediaType: MediaType.AUDIO, data: Uint8Array.of(n) }) });

test('a client in each region, same room: frames and announcements cross the gateway both ways', async () => {
  const room = 'global-room';
  const east = await TestClient.open(`${relays['us-east'].url}/lobby/ana/${room}`);
  const asia = await TestClient.open(`${relays.singapore.url}/lobby/bao/${room}`);
  const eastId = decodePacketWrapper(await east.frame(0)).sessionId;
  const asiaId = decodePacketWrapper(await asia.frame(0)).sessionId;

  // Subscriptions take a moment to propagate over the gateway: resend until one arrives.
  let n = 0;
  await eventually(() => {
    east.send(media('ana', n++ % 256));
    return asia.frames.some((f) => decodePacketWrapper(f).sessionId === eastId && decodePacketWrapper(f).packetType === PacketType.MEDIA);
  }, { what: 'us-east → singapore', timeoutMs: 20_000, intervalMs: 200 });
  await eventually(() => {
    asia.send(media('bao', n++ % 256));
    return east.frames.some((f) => decodePacketWrapper(f).sessionId === asiaId && decodePacketWrapper(f).packetType === PacketType.MEDIA);
  }, { what: 'singapore → us-east', timeoutMs: 20_000, intervalMs: 200 });

  // A frame crosses unchanged apart from the stamp.
  const exact = encodePacketWrapper({ packetType: PacketType.MEDIA, userId: 'ana', data: encodeMediaPacket({ mediaType: MediaType.VIDEO, data: Uint8Array.of(42, 42) }), sessionId: eastId });
  east.send(exact);
  await asia.waitFor((f) => sameBytes(f, exact), { what: 'exact frame in singapore', timeoutMs: 10_000 });

  // Each hears the other's PARTICIPANT_JOINED (published on activation, before the gateway had
  // interest, it may be lost; the late joiner's roster covers that case, so check what arrived).
  const joinedUsers = (c: TestClient) => c.frames.map(meetingOf).filter((m) => m?.eventType === MeetingEvent.PARTICIPANT_JOINED).map((m) => utf8.decode(m!.targetUserId));
  // A third client in singapore joins after both are active and members.
  const late = await TestClient.open(`${relays.singapore.url}/lobby/cai/${room}`);
  late.send(media('cai', 1));
  await eventually(() => joinedUsers(east).includes('cai'), { what: 'PARTICIPANT_JOINED of cai in us-east', timeoutMs: 10_000 });
  expect(joinedUsers(late)).toContain('bao');
});
