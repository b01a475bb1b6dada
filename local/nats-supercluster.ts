// Every region's NATS as Kubernetes would run it, on loopback, from the generated manifests: a
// StatefulSet controller creating pods (OrderedReady or Parallel, as the manifest says), kubelet
// probes per pod, each Service as a proxy to the endpoints it would list, the gateway NodePort as
// the region's address for the others. Regions are applied one after another, in deploy order.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Socket } from 'node:net';
import { Topology } from '../topology/topology';
import { EmulatedPod, PodStatus } from './kubelet';
import { K8sObject, NatsWorkload, ServiceSpec, containerPort, natsWorkload, regionManifests } from './manifests';
import { LoopbackPorts, LoopbackRegionPlan, loopbackNatsConf } from './nats-loopback';
import { NATS_SERVER_BIN, launchNatsServer } from './nats-server';
import { ManagedProcess, ProcessGroup, freePort, ownedTempDir, waitFor } from './processes';
import { PathState, ServiceProxy, pidOfLoopbackPeer } from './service-proxy';

export { NATS_SERVER_BIN };

const LOOPBACK = '127.0.0.1';

export type PartitionMode = 'reset' | 'blackhole';

export interface LoopbackNatsServer {
  readonly region: string;
  readonly podName: string;
  readonly serverName: string;
  /** The pod's own client port (as a pod IP would be reached). */
  readonly clientUrl: string;
  readonly monitorUrl: string;
  readonly gatewayPort: number;
  /** The current container process (a new one after each restart); undefined while the pod is absent. */
  readonly process: ManagedProcess | undefined;
  readonly status: PodStatus;
}

export interface GatewayLink {
  readonly from: string;
  readonly to: string;
  /** Some running server of `from` holds an outbound gateway connection to `to`. */
  readonly up: boolean;
}

export interface LoopbackSuperCluster {
  readonly topology: Topology;
  readonly servers: readonly LoopbackNatsServer[];
  /** Each region's pods' own client URLs. */
  readonly clientUrls: Readonly<Record<string, string[]>>;
  /** Each region's client Service (what relays use: only Ready pods behind it). */
  readonly serviceUrls: Readonly<Record<string, string>>;
  /** Each region's gateway NodePort on loopback. */
  readonly gatewayNodePorts: Readonly<Record<string, number>>;
  /** Pods of every region with Ready/started/running. */
  pods(): PodStatus[];
  /** Pod statuses of one region. */
  regionPods(region: string): PodStatus[];
  regionReady(region: string): boolean;
  /** Outbound gateway connections between every ordered pair of regions, from /gatewayz. */
  gatewayLinks(): Promise<GatewayLink[]>;
  /** Resolves once every pod of `regions` is Ready and each of their servers has a gateway to every other region. */
  waitUntilReady(timeoutMs: number, regions?: readonly string[]): Promise<void>;
  /**
   * `kubectl apply` of changed manifests for a region: pods created from now on use the new
   * container spec (probes), and its Services the new endpoint rule. Running pods are not rolled.
   */
  applyManifests(region: string, transform: (objects: K8sObject[]) => K8sObject[]): void;
  /** Deletes every NATS pod of a region: `kill` is an outage (SIGKILL), `graceful` SIGTERM. */
  stopRegion(region: string, how?: 'kill' | 'graceful'): Promise<void>;
  /** The StatefulSet controller recreates the region's pods (their JetStream volumes kept). */
  startRegion(region: string): void;
  /** Breaks the network path between two regions: `reset` closes connections loudly, `blackhole` swallows everything. */
  partition(a: string, b: string, mode: PartitionMode): void;
  heal(a: string, b: string): void;
  partitions(): Array<{ a: string; b: string; mode: PartitionMode }>;
  /** SIGSTOP / SIGCONT one NATS server by pod or server name. */
  pause(name: string): void;
  resume(name: string): void;
  /** Stops one server for good (the pod deleted, not recreated). */
  stopServer(name: string): Promise<void>;
  stop(): Promise<void>;
}

export interface LoopbackSuperClusterOptions {
  readonly topology: Topology;
  /** Turns a region's generated objects into the ones to run (tests break them on purpose). @default unchanged */
  readonly transformManifests?: (region: string, objects: K8sObject[]) => K8sObject[];
  /** Manifest seconds × timeScale = emulated seconds. @default 1 */
  readonly timeScale?: number;
  /** `sequential`: regions applied one after another in topology (= README deploy) order. @default sequential */
  readonly deployOrder?: 'sequential' | 'parallel';
  /** Time between applying one region and the next, in manifest seconds. @default 10 */
  readonly applyIntervalSeconds?: number;
  /** RTT added to every connection between regions. @default 0 */
  readonly interRegionRttMs?: number;
  /** Wait for every pod Ready and a full gateway mesh before returning; 0 does not wait. @default 60 s */
  readonly readyTimeoutMs?: number;
  readonly log?: (line: string) => void;
  /** Every nats-server process and the work directory join it, for an owner's last-resort cleanup. */
  readonly group?: ProcessGroup;
}

/** Kubernetes' `$(VAR)` expansion of a container's env, with the downward API seen from loopback. */
function expandEnv(env: NatsWorkload['container']['env'], podName: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of env) {
    let value: string;
    if (e.value !== undefined) value = e.value.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, name: string) => out[name] ?? m);
    else if (e.valueFrom?.fieldRef) {
      const path: string = e.valueFrom.fieldRef.fieldPath;
      value = path === 'metadata.name' ? podName : path.endsWith('IP') ? LOOPBACK : '';
    } else if (e.valueFrom?.secretKeyRef) {
      // The same Secret in every region, as the deploy steps create it.
      value = `local-${e.valueFrom.secretKeyRef.name}-${e.valueFrom.secretKeyRef.key}`;
    } else value = '';
    out[e.name] = value;
  }
  return out;
}

class EmulatedRegion {
  readonly pods: Array<EmulatedPod | undefined>;
  readonly podPorts: LoopbackPorts[] = [];
  readonly podNames: string[];
  readonly services = new Map<string, { spec: ServiceSpec; proxy: ServiceProxy }>();
  workload: NatsWorkload;
  /** nodePort → loopback port of its proxy. */
  readonly nodePorts = new Map<number, number>();
  private controller?: AbortController;
  private controllerLoop?: Promise<void>;

  constructor(
    readonly name: string,
    workload: NatsWorkload,
    readonly serverNames: readonly string[],
    private readonly workDir: string,
    private readonly timeScale: number,
    private readonly group?: ProcessGroup,
  ) {
    this.workload = workload;
    this.pods = Array.from({ length: workload.replicas }, () => undefined);
    this.podNames = Array.from({ length: workload.replicas }, (_, i) => `${workload.statefulSetName}-${i}`);
  }

  /** Loopback port of container port `port` in pod `ordinal`. */
  hostPort(ordinal: number, port: number): number {
    const ports = this.podPorts[ordinal];
    const named = this.workload.container.ports.find((p) => p.containerPort === port)?.name;
    const byName: Record<string, number> = { nats: ports.client, cluster: ports.cluster, gateway: ports.gateway, monitor: ports.monitor };
    const found = named === undefined ? undefined : byName[named];
    if (found === undefined) throw new Error(`region "${this.name}": no loopback port for container port ${port}`);
    return found;
  }

  /** The endpoints a Service lists now: Ready pods, or every running pod when it publishes not-ready addresses. */
  endpoints(name: string): number[] {
    const spec = this.services.get(name)?.spec;
    if (!spec) return [];
    const port = spec.ports[0];
    const target = containerPort(this.workload.container, port.targetPort);
    return this.pods.flatMap((pod, i) => {
      if (!pod) return [];
      const s = pod.status;
      return (spec.publishNotReadyAddresses ? s.running : s.ready) ? [this.hostPort(i, target)] : [];
    });
  }

  dataDir(ordinal: number): string {
    return join(this.workDir, this.name, this.podNames[ordinal]);
  }

  createPod(ordinal: number, plans: readonly LoopbackRegionPlan[]): EmulatedPod {
    const podName = this.podNames[ordinal];
    const dataDir = this.dataDir(ordinal);
    mkdirSync(dataDir, { recursive: true });
    const configFile = Object.entries(this.workload.configFiles).find(([file]) => file.endsWith('.conf'));
    if (!configFile) throw new Error(`region "${this.name}": the NATS pod mounts no .conf file`);
    const conf = loopbackNatsConf(configFile[1], plans, this.name, ordinal, dataDir);
    const confPath = join(dataDir, 'nats.conf');
    writeFileSync(confPath, conf.text);
    const env = expandEnv(this.workload.container.env, podName);
    // The pod's host IP and a NodePort: on loopback, that NodePort's proxy.
    for (const [k, v] of Object.entries(env)) {
      const m = /^127\.0\.0\.1:(\d+)$/.exec(v);
      const proxied = m ? this.nodePorts.get(Number(m[1])) : undefined;
      if (proxied !== undefined) env[k] = `${LOOPBACK}:${proxied}`;
    }
    const pod = new EmulatedPod({
      name: podName,
      container: this.workload.container,
      hostPort: (port) => this.hostPort(ordinal, port),
      launch: () => {
        const p = launchNatsServer(`${this.name}/${podName}`, confPath, env);
        return this.group ? this.group.add(p) : p;
      },
      timeScale: this.timeScale,
      terminationGracePeriodSeconds: this.workload.terminationGracePeriodSeconds,
    });
    this.pods[ordinal] = pod;
    pod.start();
    return pod;
  }

  /** The StatefulSet controller: creates the missing pods, in order and one Ready before the next for OrderedReady. */
  apply(plans: readonly LoopbackRegionPlan[]): void {
    if (this.controller) return; // already reconciling
    const controller = new AbortController();
    this.controller = controller;
    this.controllerLoop = (async () => {
      for (let i = 0; i < this.pods.length && !controller.signal.aborted; i++) {
        const pod = this.pods[i] ?? this.createPod(i, plans);
        if (this.workload.podManagementPolicy === 'OrderedReady') {
          // Kubernetes waits as long as it takes; so do we, until the region is stopped.
          while (!controller.signal.aborted && !(pod.status.running && pod.status.ready)) await new Promise((r) => setTimeout(r, 50));
        }
      }
    })().finally(() => {
      if (this.controller === controller) this.controller = undefined;
    });
  }

  /** Deletes every pod (highest ordinal first, as the controller scales down), keeping their volumes. */
  async deleteAll(how: 'kill' | 'graceful'): Promise<void> {
    this.controller?.abort();
    await this.controllerLoop;
    this.controller = undefined;
    const doomed = [...this.pods].reverse();
    this.pods.fill(undefined);
    if (how === 'kill') await Promise.all(doomed.map((p) => p?.delete('kill')));
    else for (const pod of doomed) await pod?.delete('graceful');
  }

  async deletePod(ordinal: number): Promise<void> {
    const pod = this.pods[ordinal];
    this.pods[ordinal] = undefined;
    await pod?.delete('graceful');
  }
}

export async function startLoopbackSuperCluster(options: LoopbackSuperClusterOptions): Promise<LoopbackSuperCluster> {
  const { topology } = options;
  const log = options.log ?? (() => undefined);
  const timeScale = options.timeScale ?? 1;
  if (!(timeScale > 0)) throw new RangeError(`timeScale must be > 0, got ${timeScale}`);
  const interRegionRttMs = options.interRegionRttMs ?? 0;
  const workDir = ownedTempDir('videocall-nats-');
  options.group?.ownDir(workDir);
  const regions: EmulatedRegion[] = [];
  const partitions = new Map<string, { a: string; b: string; mode: PartitionMode }>();
  const pairKey = (a: string, b: string) => [a, b].sort().join('\u0000');

  const regionOfPid = (pid: number): string | undefined =>
    regions.find((r) => r.pods.some((p) => p?.status.pid === pid))?.name;
  const allPids = () => regions.flatMap((r) => r.pods.flatMap((p) => (p?.status.pid ? [p.status.pid] : [])));

  // Once, whoever calls it first: the owner's stop(), or its process group's stopAll (which must
  // not kill the pods while the kubelets still run, or they would restart them).
  let stopped: Promise<void> | undefined;
  const stopAll = () =>
    (stopped ??= (async () => {
      await Promise.all(regions.map((r) => r.deleteAll('graceful')));
      await Promise.all(regions.flatMap((r) => [...r.services.values()].map((s) => s.proxy.close())));
      if (options.group) options.group.removeDir(workDir);
      else rmSync(workDir, { recursive: true, force: true });
    })());
  options.group?.addController(stopAll);

  const plans: LoopbackRegionPlan[] = [];
  try {
    for (const r of topology.regions) {
      const generated = regionManifests(topology, r.name);
      const objects = options.transformManifests ? options.transformManifests(r.name, generated) : generated;
      const workload = natsWorkload(objects, r.name);
      if (workload.replicas !== r.nats.serverNames.length) throw new Error(`region "${r.name}": StatefulSet replicas ${workload.replicas} but ${r.nats.serverNames.length} server names`);
      const region = new EmulatedRegion(r.name, workload, r.nats.serverNames, workDir, timeScale, options.group);
      regions.push(region);
      for (let i = 0; i < workload.replicas; i++) {
        region.podPorts.push({ client: await freePort(), cluster: await freePort(), gateway: await freePort(), monitor: await freePort() });
      }
      for (const spec of workload.services) {
        // Routes dial pods by their headless-Service DNS names: on loopback, their ports directly.
        if (spec.ports.length === 0 || isHeadless(objects, spec.name)) continue;
        const port = spec.ports[0];
        const isNodePort = spec.type === 'NodePort';
        const proxy = new ServiceProxy({
          name: `${r.name}/${spec.name}`,
          endpoints: () => region.endpoints(spec.name),
          // Between regions the network decides: who connects, and what the path to here does.
          identify: isNodePort
            ? (socket: Socket) => {
                const pid = pidOfLoopbackPeer(socket.remotePort!, socket.localPort!, allPids());
                return pid === undefined ? undefined : regionOfPid(pid);
              }
            : undefined,
          path: isNodePort
            ? (source): PathState => {
                if (source === undefined || source === r.name) return { mode: 'open', rttMs: 0 };
                return partitions.get(pairKey(source, r.name)) ?? { mode: 'open', rttMs: interRegionRttMs };
              }
            : undefined,
        });
        const listen = await proxy.start();
        region.services.set(spec.name, { spec, proxy });
        if (isNodePort && port.nodePort !== undefined) region.nodePorts.set(port.nodePort, listen);
      }
      const gatewayNodePort = [...region.nodePorts.values()][0];
      if (gatewayNodePort === undefined) throw new Error(`region "${r.name}": no NodePort Service selects the NATS pods (the gateway)`);
      plans.push({
        region: r.name,
        servers: r.nats.serverNames.map((serverName, i) => ({ serverName, ports: region.podPorts[i], gatewayAdvertisePort: gatewayNodePort })),
      });
    }

    const sequential = (options.deployOrder ?? 'sequential') === 'sequential';
    for (const [i, region] of regions.entries()) {
      if (i > 0 && sequential) await new Promise((r) => setTimeout(r, (options.applyIntervalSeconds ?? 10) * 1000 * timeScale));
      log(`kubectl apply: ${region.name} (${region.workload.replicas} NATS pods, ${region.workload.podManagementPolicy})`);
      region.apply(plans);
    }
  } catch (e) {
    await stopAll();
    throw e;
  }

  const regionByName = (name: string) => {
    const r = regions.find((x) => x.name === name);
    if (!r) throw new RangeError(`no region "${name}" (regions: ${regions.map((x) => x.name).join(', ')})`);
    return r;
  };
  const podByName = (name: string) => {
    for (const r of regions) {
      const i = r.podNames.findIndex((p, k) => p === name || `${r.name}/${p}` === name || r.serverNames[k] === name);
      if (i >= 0) return { region: r, ordinal: i };
    }
    throw new RangeError(`no NATS pod or server "${name}"`);
  };
  const reapply = (...names: string[]) => {
    for (const n of names) for (const s of regionByName(n).services.values()) s.proxy.reapplyPaths();
  };

  const servers: LoopbackNatsServer[] = regions.flatMap((r) =>
    r.podNames.map((podName, i) => ({
      region: r.name,
      podName,
      serverName: r.serverNames[i],
      clientUrl: `nats://${LOOPBACK}:${r.podPorts[i].client}`,
      monitorUrl: `http://${LOOPBACK}:${r.podPorts[i].monitor}`,
      gatewayPort: r.podPorts[i].gateway,
      get process() {
        return r.pods[i]?.managedProcess;
      },
      get status(): PodStatus {
        return r.pods[i]?.status ?? { name: podName, running: false, started: false, ready: false, paused: false, restarts: 0, lastRestartReason: null, pid: null };
      },
    })),
  );
  const clientUrls: Record<string, string[]> = {};
  for (const s of servers) (clientUrls[s.region] ??= []).push(s.clientUrl);
  const serviceUrls: Record<string, string> = {};
  const gatewayNodePorts: Record<string, number> = {};
  for (const r of regions) {
    const client = [...r.services.values()].find((s) => s.spec.type === 'ClusterIP' && !s.spec.publishNotReadyAddresses) ?? [...r.services.values()].find((s) => s.spec.type === 'ClusterIP');
    if (client) serviceUrls[r.name] = `nats://${LOOPBACK}:${client.proxy.port}`;
    gatewayNodePorts[r.name] = [...r.nodePorts.values()][0];
  }

  const regionPods = (name: string) => servers.filter((s) => s.region === name).map((s) => s.status);
  /** Each running server's outbound gateways (server name → regions), from /gatewayz. */
  const outboundByServer = async (): Promise<Map<LoopbackNatsServer, string[]>> => {
    const out = new Map<LoopbackNatsServer, string[]>();
    await Promise.all(
      servers.map(async (s) => {
        if (!s.status.running || s.status.paused) return;
        try {
          const res = await fetch(`${s.monitorUrl}/gatewayz`, { signal: AbortSignal.timeout(1000) });
          const body = (await res.json()) as { outbound_gateways?: Record<string, unknown> };
          out.set(s, Object.keys(body.outbound_gateways ?? {}));
        } catch {
          // a hung or starting server reports nothing
        }
      }),
    );
    return out;
  };
  const gatewayLinks = async (): Promise<GatewayLink[]> => {
    const outbound = new Map<string, Set<string>>();
    for (const [s, to] of await outboundByServer()) {
      if (!outbound.has(s.region)) outbound.set(s.region, new Set());
      for (const r of to) outbound.get(s.region)!.add(r);
    }
    return regions.flatMap((a) => regions.filter((b) => b !== a).map((b) => ({ from: a.name, to: b.name, up: outbound.get(a.name)?.has(b.name) ?? false })));
  };

  const cluster: LoopbackSuperCluster = {
    topology,
    servers,
    clientUrls,
    serviceUrls,
    gatewayNodePorts,
    pods: () => servers.map((s) => s.status),
    regionPods,
    regionReady: (name) => regionPods(name).every((p) => p.ready),
    gatewayLinks,
    async waitUntilReady(timeoutMs, names = regions.map((r) => r.name)) {
      await waitFor(
        async () => {
          if (!names.every((n) => regionPods(n).every((p) => p.ready))) return false;
          // Every server dials every other region (inbound links are not on every server).
          const outbound = await outboundByServer();
          const others = (region: string) => regions.map((r) => r.name).filter((r) => r !== region);
          return servers
            .filter((s) => names.includes(s.region))
            .every((s) => others(s.region).every((r) => outbound.get(s)?.includes(r)));
        },
        timeoutMs,
        () => `every pod Ready and a full gateway mesh: ${JSON.stringify(servers.map((s) => ({ pod: `${s.region}/${s.podName}`, ready: s.status.ready, restarts: s.status.restarts })))}`,
      );
    },
    applyManifests(name, transform) {
      const region = regionByName(name);
      const workload = natsWorkload(transform(regionManifests(topology, name)), name);
      region.workload = workload;
      for (const spec of workload.services) {
        const current = region.services.get(spec.name);
        if (current) current.spec = spec;
      }
      log(`kubectl apply: changed manifests of ${name}`);
    },
    async stopRegion(name, how = 'kill') {
      log(`stopping every NATS pod of ${name} (${how})`);
      await regionByName(name).deleteAll(how);
    },
    startRegion(name) {
      log(`starting the NATS pods of ${name} again`);
      regionByName(name).apply(plans);
    },
    partition(a, b, mode) {
      regionByName(a);
      regionByName(b);
      if (a === b) throw new RangeError('a partition needs two different regions');
      log(`partition ${a} ↔ ${b} (${mode})`);
      partitions.set(pairKey(a, b), { a, b, mode });
      reapply(a, b);
    },
    heal(a, b) {
      log(`heal ${a} ↔ ${b}`);
      partitions.delete(pairKey(a, b));
      reapply(a, b);
    },
    partitions: () => [...partitions.values()],
    pause(name) {
      const { region, ordinal } = podByName(name);
      region.pods[ordinal]?.pause();
    },
    resume(name) {
      const { region, ordinal } = podByName(name);
      region.pods[ordinal]?.resume();
    },
    async stopServer(name) {
      const { region, ordinal } = podByName(name);
      await region.deletePod(ordinal);
    },
    stop: stopAll,
  };

  if ((options.readyTimeoutMs ?? 60_000) > 0) {
    try {
      await cluster.waitUntilReady(options.readyTimeoutMs ?? 60_000);
    } catch (e) {
      await stopAll();
      throw e;
    }
  }
  return cluster;
}

function isHeadless(objects: readonly K8sObject[], name: string): boolean {
  const o = objects.find((x) => x.kind === 'Service' && x.metadata.name === name);
  return o?.spec?.clusterIP === 'None' || o?.spec?.clusterIp === 'None';
}
