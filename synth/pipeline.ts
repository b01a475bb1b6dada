// regions → topology → { cdktf app, cdk8s apps, servers.json, topology.md }.
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { App as K8sApp } from 'cdk8s';
import { App as TfApp } from 'cdktf';
import { parseAllDocuments } from 'yaml';
import { addRegionCharts } from '../constructs/region-charts';
import { STACK_NAME, SpacesBackendProps, VideocallStack } from '../constructs/videocall-stack';
import { regionDemand } from '../topology/capacity';
import { RegionPlan, Topology } from '../topology/topology';
import { serversJson, topologyMarkdown } from './outputs';

export type Part = 'terraform' | 'k8s' | 'files';

export interface SynthOptions {
  /** dist/ by default: terraform/, k8s/<region>/, servers.json, topology.md go below it. */
  readonly outDir: string;
  /** @default every part */
  readonly parts?: readonly Part[];
  /** @default `<outDir>/terraform` (the cdktf CLI passes CDKTF_OUTDIR) */
  readonly terraformDir?: string;
  /** @default `<outDir>/k8s` (the cdk8s CLI passes CDK8S_OUTDIR) */
  readonly k8sDir?: string;
  /** Only these regions' manifests. @default every region */
  readonly k8sRegions?: readonly string[];
  readonly spacesBackend?: SpacesBackendProps;
}

export interface WrittenFile {
  readonly path: string;
  readonly count: number;
  /** What `count` counts: Terraform resources and data sources, Kubernetes objects, servers, regions. */
  readonly unit: 'resources' | 'objects' | 'servers' | 'regions';
}

export function synthesize(topology: Topology, options: SynthOptions): WrittenFile[] {
  const parts = new Set(options.parts ?? ['terraform', 'k8s', 'files']);
  const written: WrittenFile[] = [];

  if (parts.has('terraform')) {
    const dir = options.terraformDir ?? join(options.outDir, 'terraform');
    mkdirSync(dir, { recursive: true });
    const app = new TfApp({ outdir: dir, skipValidation: false });
    new VideocallStack(app, STACK_NAME, { topology, spacesBackend: options.spacesBackend });
    app.synth();
    const path = join(dir, 'stacks', STACK_NAME, 'cdk.tf.json');
    const json = JSON.parse(readFileSync(path, 'utf8'));
    const count = (block: Record<string, Record<string, unknown>> | undefined) =>
      Object.values(block ?? {}).reduce((n, byName) => n + Object.keys(byName).length, 0);
    written.push({ path, count: count(json.resource) + count(json.data), unit: 'resources' });
  }

  if (parts.has('k8s')) {
    const root = options.k8sDir ?? join(options.outDir, 'k8s');
    for (const region of topology.regions) {
      if (options.k8sRegions && !options.k8sRegions.includes(region.name)) continue;
      const dir = join(root, region.name);
      rmSync(dir, { recursive: true, force: true });
      const app = new K8sApp({ outdir: dir });
      addRegionCharts(app, topology, region.name);
      app.synth();
      for (const file of readdirSync(dir).filter((f) => f.endsWith('.k8s.yaml')).sort()) {
        const path = join(dir, file);
        const objects = parseAllDocuments(readFileSync(path, 'utf8')).filter((d) => d.contents !== null).length;
        written.push({ path, count: objects, unit: 'objects' });
      }
    }
  }

  if (parts.has('files')) {
    mkdirSync(options.outDir, { recursive: true });
    const servers = join(options.outDir, 'servers.json');
    writeFileSync(servers, serversJson(topology));
    written.push({ path: servers, count: topology.servers.length, unit: 'servers' });
    const diagram = join(options.outDir, 'topology.md');
    writeFileSync(diagram, topologyMarkdown(topology));
    written.push({ path: diagram, count: topology.regions.length, unit: 'regions' });
  }
  return written;
}

function capacityLine(r: RegionPlan): string {
  const d = regionDemand(r)!;
  const gib = (b: number) => (b / 2 ** 30).toFixed(1);
  return (
    `${r.name} ${d.cpuMillis}m of ${d.allocatable.cpuMillis * d.nodes}m CPU, ${gib(d.memoryBytes)} of ` +
    `${gib(d.allocatable.memoryBytes * d.nodes)} GiB on ${d.nodes} × ${r.nodePool.size}`
  );
}

export function summary(topology: Topology, written: readonly WrittenFile[], cwd = process.cwd()): string {
  const lines = [
    `regions: ${topology.regions.map((r) => `${r.name} (${r.slug}, ${r.vpcCidr}, ${r.nats.replicas} NATS)`).join(', ')}`,
    `peerings: ${topology.peerings.map(([a, b]) => `${a}↔${b}`).join(', ') || 'none'}`,
    `relay image: ${topology.regions.map((r) => `${r.name} ${r.relay.image ?? '(none named)'}`).join(', ')}`,
    `capacity at the relays' HPA maximum: ${topology.regions.map(capacityLine).join('; ')}`,
    ...topology.warnings.map((w) => `warning: ${w}`),
    'files:',
    ...written.map((f) => `  ${relative(cwd, f.path)}  (${f.count} ${f.unit})`),
  ];
  return lines.join('\n');
}
