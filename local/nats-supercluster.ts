// Every region's NATS servers, every replica, started on loopback from the generated configs.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Topology } from '../topology/topology';
import { LoopbackRegionPlan, loopbackNatsConf } from './nats-loopback';
import { ManagedProcess, freePort, httpOk, startProcess, waitUntilReady } from './processes';

export const NATS_SERVER_BIN = process.env.NATS_SERVER_BIN ?? 'nats-server';

export interface LoopbackNatsServer {
  readonly region: string;
  readonly serverName: string;
  readonly clientUrl: string;
  readonly monitorUrl: string;
  readonly gatewayPort: number;
  readonly process: ManagedProcess;
}

export interface LoopbackSuperCluster {
  readonly servers: readonly LoopbackNatsServer[];
  /** Client URLs of each region's servers. */
  readonly clientUrls: Readonly<Record<string, string[]>>;
  /** Stops one server (by name) or restarts it from the same config. */
  stopServer(serverName: string): Promise<void>;
  stop(): Promise<void>;
}

export interface LoopbackSuperClusterOptions {
  readonly topology: Topology;
  /** The generated nats.conf of each region (from the synthesized ConfigMap). */
  readonly configs: Readonly<Record<string, string>>;
  /**
   * Called with each server's real gateway port; returns the port other regions should dial,
   * e.g. a delay proxy's. @default the port itself
   */
  readonly gatewayFront?: (region: string, serverName: string, gatewayPort: number) => Promise<number>;
  /** @default 30 s */
  readonly readyTimeoutMs?: number;
}

export async function startLoopbackSuperCluster(options: LoopbackSuperClusterOptions): Promise<LoopbackSuperCluster> {
  const { topology } = options;
  const workDir = mkdtempSync(join(tmpdir(), 'videocall-nats-'));
  const plans: LoopbackRegionPlan[] = [];
  for (const r of topology.regions) {
    const servers = [];
    for (const serverName of r.nats.serverNames) {
      const ports = { client: await freePort(), cluster: await freePort(), gateway: await freePort(), monitor: await freePort() };
      const gatewayAdvertisePort = options.gatewayFront ? await options.gatewayFront(r.name, serverName, ports.gateway) : ports.gateway;
      servers.push({ serverName, ports, gatewayAdvertisePort });
    }
    plans.push({ region: r.name, servers });
  }

  const started: LoopbackNatsServer[] = [];
  const stopAll = async () => {
    await Promise.all(started.map((s) => s.process.stop()));
    rmSync(workDir, { recursive: true, force: true });
  };
  try {
    for (const plan of plans) {
      const generated = options.configs[plan.region];
      if (generated === undefined) throw new Error(`no generated nats.conf for region "${plan.region}"`);
      plan.servers.forEach((s, i) => {
        const dataDir = join(workDir, s.serverName);
        mkdirSync(dataDir, { recursive: true });
        const conf = loopbackNatsConf(generated, plans, plan.region, i, dataDir);
        const confPath = join(dataDir, 'nats.conf');
        writeFileSync(confPath, conf.text);
        started.push({
          region: plan.region,
          serverName: s.serverName,
          clientUrl: `nats://127.0.0.1:${s.ports.client}`,
          monitorUrl: `http://127.0.0.1:${s.ports.monitor}`,
          gatewayPort: s.ports.gateway,
          process: startProcess(s.serverName, NATS_SERVER_BIN, ['-c', confPath], conf.env),
        });
      });
    }
    const timeout = options.readyTimeoutMs ?? 30_000;
    const regionNames = topology.regions.map((r) => r.name);
    await Promise.all(
      started.map((s) =>
        waitUntilReady(
          s.process,
          async () => (await httpOk(`${s.monitorUrl}/healthz`)) && (await gatewaysConnected(s, regionNames)),
          timeout,
          'a gateway to every other region',
        ),
      ),
    );
  } catch (e) {
    await stopAll();
    throw e;
  }

  const clientUrls: Record<string, string[]> = {};
  for (const s of started) (clientUrls[s.region] ??= []).push(s.clientUrl);
  return {
    servers: started,
    clientUrls,
    async stopServer(serverName: string) {
      const s = started.find((x) => x.serverName === serverName);
      if (!s) throw new Error(`no server ${serverName}`);
      await s.process.stop();
    },
    stop: stopAll,
  };
}

/**
 * True when `/gatewayz` shows an outbound gateway to every other region (each server dials one
 * server per remote cluster, so inbound links are not on every server).
 */
export async function gatewaysConnected(server: { monitorUrl: string; region: string }, regions: readonly string[]): Promise<boolean> {
  const res = await fetch(`${server.monitorUrl}/gatewayz`, { signal: AbortSignal.timeout(2000) });
  const body = (await res.json()) as { outbound_gateways?: Record<string, unknown> };
  return regions.filter((r) => r !== server.region).every((r) => body.outbound_gateways?.[r] !== undefined);
}
