// Gateway authorization of the generated nats.conf, run by real nats-server processes: two
// two-server regions connect with the same credentials, and never with different ones.
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { natsConfig, natsEnv, renderNatsConf } from '../../constructs/nats-config';
import { LoopbackRegionPlan, loopbackNatsConf } from '../../local/nats-loopback';
import { NATS_SERVER_BIN } from '../../local/nats-supercluster';
import { ManagedProcess, startProcess } from '../../local/processes';
import { buildTopology, regionPlan } from '../../topology/topology';
import { freePort } from '../support/ports';
import { waitForHttp } from '../support/processes';
import { singapore, usEast, withRegion } from './fixtures';

jest.setTimeout(60_000);

// Two servers per region: nats-server refuses clustered JetStream without routes.
const topology = buildTopology([withRegion(usEast, { nats: { replicas: 2 } }), withRegion(singapore, { nats: { replicas: 2 } })]);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Whether `server` has an outbound gateway to every other region, from its /gatewayz. */
async function gatewaysConnected(server: { monitorUrl: string; region: string }, regions: readonly string[]): Promise<boolean> {
  const res = await fetch(`${server.monitorUrl}/gatewayz`, { signal: AbortSignal.timeout(2000) });
  const body = (await res.json()) as { outbound_gateways?: Record<string, unknown> };
  return regions.filter((r) => r !== server.region).every((r) => body.outbound_gateways?.[r] !== undefined);
}

async function startPair(passwords: { 'us-east': string; singapore: string }) {
  const work = mkdtempSync(join(tmpdir(), 'vcg-gwauth-'));
  const plans: LoopbackRegionPlan[] = [];
  for (const r of topology.regions) {
    const servers = [];
    for (const serverName of r.nats.serverNames) {
      const ports = { client: await freePort(), cluster: await freePort(), gateway: await freePort(), monitor: await freePort() };
      servers.push({ serverName, ports, gatewayAdvertisePort: ports.gateway });
    }
    plans.push({ region: r.name, servers });
  }
  const servers: Array<{ region: string; monitorUrl: string; process: ManagedProcess }> = [];
  for (const plan of plans) {
    plan.servers.forEach((server, i) => {
      const dir = join(work, server.serverName);
      mkdirSync(dir);
      const conf = loopbackNatsConf(renderNatsConf(natsConfig(regionPlan(topology, plan.region, 'test'), topology.gateways)), plans, plan.region, i, dir);
      writeFileSync(join(dir, 'nats.conf'), conf.text);
      // What each region's gateway auth Secret would hold.
      const env = { ...conf.env, [natsEnv.gatewayPassword]: passwords[plan.region as 'us-east' | 'singapore'] };
      const monitorUrl = `http://127.0.0.1:${server.ports.monitor}`;
      servers.push({ region: plan.region, monitorUrl, process: startProcess(server.serverName, NATS_SERVER_BIN, ['-c', join(dir, 'nats.conf')], env) });
    });
  }
  const stop = async () => {
    await Promise.all(servers.map((s) => s.process.stop()));
    rmSync(work, { recursive: true, force: true });
  };
  try {
    for (const s of servers) await s.process.waitUntil((signal) => waitForHttp(`${s.monitorUrl}/healthz?js-enabled-only=true`, { timeoutMs: 20_000, signal }));
  } catch (e) {
    await stop();
    throw e;
  }
  const connected = async () => (await Promise.all(servers.map((s) => gatewaysConnected(s, ['us-east', 'singapore'])))).every(Boolean);
  const inbound = async () =>
    Promise.all(servers.map(async (s) => Object.keys(((await (await fetch(`${s.monitorUrl}/gatewayz`)).json()) as { inbound_gateways?: object }).inbound_gateways ?? {})));
  return { connected, inbound, stop };
}

describe('gateway authorization of the generated config (real nats-server)', () => {
  it('connects two regions whose Secrets hold the same credentials', async () => {
    // Generated as the README says: a letter first, or nats-server reads an all-digit value as a number.
    const password = `gw-${randomBytes(24).toString('hex')}`;
    const pair = await startPair({ 'us-east': password, singapore: password });
    try {
      const deadline = Date.now() + 20_000;
      while (!(await pair.connected()) && Date.now() < deadline) await sleep(200);
      expect(await pair.connected()).toBe(true);
      // Servers in region order (us-east ×2, singapore ×2); each remote cluster dials one server of a region.
      const inbound = await pair.inbound();
      expect([...new Set(inbound.slice(0, 2).flat())]).toEqual(['singapore']);
      expect([...new Set(inbound.slice(2).flat())]).toEqual(['us-east']);
    } finally {
      await pair.stop();
    }
  });

  it('refuses a gateway that presents other credentials', async () => {
    const pair = await startPair({ 'us-east': `gw-${randomBytes(24).toString('hex')}`, singapore: `gw-${randomBytes(24).toString('hex')}` });
    try {
      // Gateways redial every second or so: several attempts have been refused by now.
      await sleep(4_000);
      expect((await pair.inbound()).flat()).toEqual([]);
      expect(await pair.connected()).toBe(false);
    } finally {
      await pair.stop();
    }
  });
});
