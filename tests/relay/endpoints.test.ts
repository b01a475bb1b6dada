// HTTP endpoints, metrics, pings and idle timeout, one NATS subscription per room, HEALTH routing.
import WebSocket from 'ws';
import { MediaType, PacketType, encodeMediaPacket, encodePacketWrapper, encodeRttProbe, subjects } from '../../protocol';
import { CloseCode } from '../../relay/session';
import { NatsServer, startNatsServer } from '../support/nats';
import { eventually, httpGet } from '../support/processes';
import { RelayProcess, startRelay } from '../support/relay';
import { NatsObserver, TestClient, closeAllClients, httpSubscriptions, packetTypeOf } from './helpers';

const SERVER_ID = 'relay-endpoints';
const REGION = 'test-region';
let nats: NatsServer;
let relay: RelayProcess;

beforeAll(async () => {
  nats = await startNatsServer();
  relay = await startRelay({ natsUrl: nats.url, region: REGION, serverId: SERVER_ID, env: { PING_INTERVAL_MS: '200', IDLE_TIMEOUT_MS: '1500' } });
});

afterAll(async () => {
  closeAllClients();
  await relay?.stop();
  await nats?.stop();
});

const metricValue = (body: string, series: string) => {
  const line = body.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
};

test('/healthz and /readyz answer 200; other paths 404', async () => {
  expect((await httpGet(`${relay.httpUrl}/healthz`)).status).toBe(200);
  expect((await httpGet(`${relay.httpUrl}/readyz`)).status).toBe(200);
  expect((await httpGet(`${relay.httpUrl}/nope`)).status).toBe(404);
});

test('a plain GET on either lobby endpoint answers 400 (not an upgrade), not 404', async () => {
  expect((await httpGet(`${relay.httpUrl}/lobby?token=abc`)).status).toBe(400);
  expect((await httpGet(`${relay.httpUrl}/lobby`)).status).toBe(400);
  expect((await httpGet(`${relay.httpUrl}/lobby/u/r`)).status).toBe(400);
});

test('a client close without a status code (1005) is counted as no_status, not other', async () => {
  const before = metricValue((await httpGet(`${relay.httpUrl}/metrics`)).body, 'relay_sessions_closed_total{reason="no_status"}') ?? 0;
  const c = await TestClient.open(`${relay.url}/lobby/nostatus/closing`);
  await c.frame(1);
  c.ws.close(); // `ws` sends a close frame with no payload: status 1005 at the relay
  await c.closed;
  await eventually(async () => metricValue((await httpGet(`${relay.httpUrl}/metrics`)).body, 'relay_sessions_closed_total{reason="no_status"}') === before + 1, { what: 'no_status counted' });
});

test('a client offering subprotocols gets one of them back', async () => {
  const ws = new WebSocket(`${relay.url}/lobby/proto/subproto`, ['videocall', 'other']);
  const c = TestClient.adopt(ws);
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  expect(ws.protocol).toBe('videocall');
  c.close();
});

test('one NATS subscription per room, however many local sessions, dropped with the last one', async () => {
  const room = 'subs';
  const clients = await Promise.all([1, 2, 3].map((i) => TestClient.open(`${relay.url}/lobby/u${i}/${room}`)));
  await Promise.all(clients.map((c) => c.frame(1)));
  const count = async () => (await httpSubscriptions(nats.monitorPort)).filter((s) => s === subjects.roomWildcard(room)).length;
  await eventually(async () => (await count()) === 1, { what: 'one subscription' });
  expect(await count()).toBe(1);
  clients[0].close();
  clients[1].close();
  await Promise.all([clients[0].closed, clients[1].closed]);
  expect(await count()).toBe(1);
  clients[2].close();
  await eventually(async () => (await count()) === 0, { what: 'subscription dropped' });
});

test('HEALTH goes to the diagnostics subject only; CONGESTION from a client goes nowhere', async () => {
  const observer = await NatsObserver.start(nats.url);
  try {
    const room = 'health';
    const c = await TestClient.open(`${relay.url}/lobby/h/${room}`);
    await c.frame(1);
    const health = encodePacketWrapper({ packetType: PacketType.HEALTH, userId: 'h', data: Uint8Array.of(1, 2, 3) });
    c.send(health);
    c.send(encodePacketWrapper({ packetType: PacketType.CONGESTION, userId: 'h' }));
    c.send(encodePacketWrapper({ packetType: PacketType.MEDIA, userId: 'h', data: encodeMediaPacket({ mediaType: MediaType.AUDIO }) }));
    const diag = await eventually(() => observer.onSubject(subjects.healthDiagnostics(REGION, SERVER_ID))[0], { what: 'HEALTH on diagnostics' });
    expect(Buffer.from(diag.data)).toEqual(Buffer.from(health));
    // The media frame after them arrived on the room subject, so the two before were not published there.
    await eventually(() => observer.messages.some((m) => m.subject.startsWith(`room.${room}.`) && !m.subject.endsWith('.system')), { what: 'media on NATS' });
    const onRoom = observer.messages.filter((m) => m.subject.startsWith(`room.${room}.`) && !m.subject.endsWith('.system'));
    expect(onRoom).toHaveLength(1);
    c.close();
  } finally {
    await observer.close();
  }
});

test('the relay pings; a client that answers stays, one that never answers is closed as idle', async () => {
  const pings: number[] = [];
  const alive = await TestClient.open(`${relay.url}/lobby/alive/idle`);
  alive.ws.on('ping', () => pings.push(Date.now()));
  // `ws` answers pings by itself unless told not to: this one stays silent.
  const silent = await new Promise<TestClient>((resolve, reject) => {
    const ws = new WebSocket(`${relay.url}/lobby/silent/idle`, { autoPong: false });
    ws.once('open', () => resolve(TestClient.adopt(ws)));
    ws.once('error', reject);
  });
  const closed = await silent.closed;
  expect(closed.code).toBe(CloseCode.NORMAL);
  expect(closed.reason).toBe('idle timeout');
  expect(pings.length).toBeGreaterThanOrEqual(2);
  expect(alive.isClosed).toBeUndefined();
  alive.close();
});

test('/metrics exposes sessions by state, rooms, frames, bytes, drops, RTT echoes and NATS reconnects', async () => {
  const a = await TestClient.open(`${relay.url}/lobby/ma/metrics-room`);
  const b = await TestClient.open(`${relay.url}/lobby/mb/metrics-room`);
  await Promise.all([a.frame(1), b.frame(1)]);
  a.send(encodeRttProbe('ma', 1));
  await a.frame(2);
  b.send(encodePacketWrapper({ packetType: PacketType.MEDIA, userId: 'mb', data: encodeMediaPacket({ mediaType: MediaType.AUDIO }) }));
  await a.waitFor((f) => packetTypeOf(f) === PacketType.MEDIA, { from: 3, what: 'media from b' });
  const res = await httpGet(`${relay.httpUrl}/metrics`);
  expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
  const body = res.body;
  expect(metricValue(body, 'relay_sessions{state="testing"}')).toBeGreaterThanOrEqual(1);
  expect(metricValue(body, 'relay_sessions{state="active"}')).toBeGreaterThanOrEqual(1);
  expect(metricValue(body, 'relay_rooms')).toBeGreaterThanOrEqual(1);
  expect(metricValue(body, 'relay_frames_in_total{source="client"}')).toBeGreaterThanOrEqual(2);
  expect(metricValue(body, 'relay_bytes_in_total{source="client"}')).toBeGreaterThan(0);
  expect(metricValue(body, 'relay_frames_out_total{destination="client"}')).toBeGreaterThanOrEqual(5);
  expect(metricValue(body, 'relay_frames_out_total{destination="nats"}')).toBeGreaterThanOrEqual(1);
  expect(metricValue(body, 'relay_bytes_out_total{destination="nats"}')).toBeGreaterThan(0);
  expect(metricValue(body, 'relay_rtt_echoes_total')).toBeGreaterThanOrEqual(1);
  expect(metricValue(body, 'relay_nats_reconnects_total')).toBe(0);
  expect(metricValue(body, 'relay_nats_connected')).toBe(1);
  expect(body).toMatch(/^# TYPE relay_dropped_frames_total counter$/m);
  expect(metricValue(body, 'process_resident_memory_bytes')).toBeGreaterThan(0);
  // Every sample line is `name{labels} value` with a known family.
  for (const line of body.split('\n').filter((l) => l !== '' && !l.startsWith('#'))) expect(line).toMatch(/^[a-z_]+(\{[a-z_]+="[a-z_]+"\})? [0-9.e+]+$/);
  a.close();
  b.close();
});
