// The generated Kubernetes objects of each region, read as data: what the emulation of
// `npm run local` and the super-cluster tests runs is what `kubectl apply` would be given.
import { App } from 'cdk8s';
import { addRegionCharts } from '../constructs/region-charts';
import { Topology } from '../topology/topology';

/** The parts of a Kubernetes object the emulation reads; everything else is carried along untouched. */
export interface K8sObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly labels?: Record<string, string>; readonly [k: string]: unknown };
  readonly spec?: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  readonly data?: Record<string, string>;
}

export interface HttpProbe {
  readonly path: string;
  /** A container port name or number. */
  readonly port: string | number;
  readonly initialDelaySeconds: number;
  readonly periodSeconds: number;
  readonly timeoutSeconds: number;
  readonly failureThreshold: number;
  readonly successThreshold: number;
}

export interface ContainerSpec {
  readonly name: string;
  readonly ports: ReadonlyArray<{ readonly name?: string; readonly containerPort: number }>;
  readonly env: ReadonlyArray<{ readonly name: string; readonly value?: string; readonly valueFrom?: any }>; // eslint-disable-line @typescript-eslint/no-explicit-any
  readonly startupProbe?: HttpProbe;
  readonly readinessProbe?: HttpProbe;
  readonly livenessProbe?: HttpProbe;
}

export interface ServiceSpec {
  readonly name: string;
  readonly type: string;
  readonly selector: Readonly<Record<string, string>>;
  readonly publishNotReadyAddresses: boolean;
  readonly ports: ReadonlyArray<{ readonly name?: string; readonly port: number; readonly targetPort: string | number; readonly nodePort?: number }>;
}

/** What one region's NATS StatefulSet and its Services say, with Kubernetes' defaults filled in. */
export interface NatsWorkload {
  readonly statefulSetName: string;
  readonly replicas: number;
  /** `OrderedReady` (Kubernetes' default) or `Parallel`. */
  readonly podManagementPolicy: 'OrderedReady' | 'Parallel';
  readonly podLabels: Readonly<Record<string, string>>;
  readonly terminationGracePeriodSeconds: number;
  readonly container: ContainerSpec;
  /** ConfigMap data by file name, from the config map the pod mounts. */
  readonly configFiles: Readonly<Record<string, string>>;
  /** Services whose selector picks these pods. */
  readonly services: readonly ServiceSpec[];
}

/**
 * The relays run here from source (local/relays.ts), not from an image, but the relay manifests
 * need an image name to be synthesized at all (synth has no default: nobody publishes one).
 */
export const LOCAL_RELAY_IMAGE = 'videocall-global/relay:local';

/** Every object of `region`'s manifests, in the file order `kubectl apply -f dir/` uses. */
export function regionManifests(topology: Topology, region: string): K8sObject[] {
  const app = new App({ outdir: '/nonexistent-never-written' });
  addRegionCharts(app, topology, region);
  return app.charts.flatMap((chart) => chart.toJson() as K8sObject[]);
}

/** Kubernetes' probe defaults (core/v1 Probe): period 10 s, timeout 1 s, thresholds 3 and 1. */
function probe(raw: any): HttpProbe | undefined { // eslint-disable-line @typescript-eslint/no-explicit-any
  if (raw === undefined) return undefined;
  if (raw.httpGet === undefined) throw new Error(`the emulation runs httpGet probes only, got ${JSON.stringify(raw)}`);
  return {
    path: raw.httpGet.path ?? '/',
    port: raw.httpGet.port,
    initialDelaySeconds: raw.initialDelaySeconds ?? 0,
    periodSeconds: raw.periodSeconds ?? 10,
    timeoutSeconds: raw.timeoutSeconds ?? 1,
    failureThreshold: raw.failureThreshold ?? 3,
    successThreshold: raw.successThreshold ?? 1,
  };
}

function selects(selector: Readonly<Record<string, string>> | undefined, labels: Readonly<Record<string, string>>): boolean {
  return selector !== undefined && Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels[k] === v);
}

/** The NATS StatefulSet (the one whose container is named `nats`) and what it mounts and what selects it. */
export function natsWorkload(objects: readonly K8sObject[], region: string): NatsWorkload {
  const statefulSet = objects.find((o) => o.kind === 'StatefulSet' && o.spec?.template?.spec?.containers?.some((c: { name: string }) => c.name === 'nats'));
  if (!statefulSet) throw new Error(`region "${region}": the manifests have no StatefulSet with a container "nats"`);
  const podSpec = statefulSet.spec.template.spec;
  const raw = podSpec.containers.find((c: { name: string }) => c.name === 'nats');
  const labels: Record<string, string> = statefulSet.spec.template.metadata?.labels ?? {};
  const configFiles: Record<string, string> = {};
  for (const volume of podSpec.volumes ?? []) {
    if (volume.configMap === undefined) continue;
    const map = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === volume.configMap.name);
    if (!map) throw new Error(`region "${region}": the NATS pod mounts ConfigMap "${volume.configMap.name}", which the manifests lack`);
    Object.assign(configFiles, map.data ?? {});
  }
  const services = objects
    .filter((o) => o.kind === 'Service' && selects(o.spec?.selector, labels))
    .map((o) => ({
      name: o.metadata.name,
      type: o.spec.type ?? 'ClusterIP',
      selector: o.spec.selector,
      publishNotReadyAddresses: o.spec.publishNotReadyAddresses === true,
      ports: o.spec.ports,
    }));
  return {
    statefulSetName: statefulSet.metadata.name,
    replicas: statefulSet.spec.replicas ?? 1,
    podManagementPolicy: statefulSet.spec.podManagementPolicy ?? 'OrderedReady',
    podLabels: labels,
    terminationGracePeriodSeconds: podSpec.terminationGracePeriodSeconds ?? 30,
    container: {
      name: raw.name,
      ports: raw.ports ?? [],
      env: raw.env ?? [],
      startupProbe: probe(raw.startupProbe),
      readinessProbe: probe(raw.readinessProbe),
      livenessProbe: probe(raw.livenessProbe),
    },
    configFiles,
    services,
  };
}

/** A container port by name or number, as a probe's or a Service's targetPort names it. */
export function containerPort(container: ContainerSpec, port: string | number): number {
  if (typeof port === 'number') return port;
  const found = container.ports.find((p) => p.name === port);
  if (!found) throw new Error(`container "${container.name}" has no port named "${port}"`);
  return found.containerPort;
}

/**
 * The manifests in the form that deadlocks (for the test proving the emulation can fail): the NATS
 * startup and readiness probes require a JetStream meta leader (plain `/healthz`), and no Service
 * publishes not-ready addresses except the headless one that routes need.
 */
export function withMetaLeaderProbes(objects: readonly K8sObject[]): K8sObject[] {
  return objects.map((o) => {
    if (o.kind === 'Service' && o.spec?.clusterIP !== 'None' && o.spec?.clusterIp !== 'None') {
      return { ...o, spec: { ...o.spec, publishNotReadyAddresses: false } };
    }
    if (o.kind !== 'StatefulSet') return o;
    const podSpec = o.spec.template.spec;
    const containers = podSpec.containers.map((c: any) => { // eslint-disable-line @typescript-eslint/no-explicit-any
      if (c.name !== 'nats') return c;
      const strict = (p: any) => (p?.httpGet ? { ...p, httpGet: { ...p.httpGet, path: '/healthz' } } : p); // eslint-disable-line @typescript-eslint/no-explicit-any
      return { ...c, startupProbe: strict(c.startupProbe), readinessProbe: strict(c.readinessProbe) };
    });
    return { ...o, spec: { ...o.spec, template: { ...o.spec.template, spec: { ...podSpec, containers } } } };
  });
}
