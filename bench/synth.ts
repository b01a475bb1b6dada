// 4. Synthesis: cold wall time of the synth CLI (a fresh process each time) for 2, 5 and 10 regions.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DEFAULT_GATEWAY_NODE_PORT, DIGITALOCEAN_REGIONS, NO_CROSS_DATACENTER_PEERING } from '../topology/constants';
import type { RegionSpec } from '../topology/spec';
import { ROOT } from './procs';
import { fmt, type BenchResult, type Row } from './report';
import { median } from './stats';

export interface SynthOptions {
  regionCounts: number[];
  repeats: number;
}

export const SYNTH_FULL: SynthOptions = { regionCounts: [2, 5, 10], repeats: 3 };
export const SYNTH_QUICK: SynthOptions = { regionCounts: [2], repeats: 1 };

/** DigitalOcean slugs that can be peered with the others (a multi-region topology refuses the rest). */
const PEERABLE_SLUGS = DIGITALOCEAN_REGIONS.filter((slug) => !NO_CROSS_DATACENTER_PEERING.includes(slug));

/** `count` valid regions: distinct, peerable DigitalOcean slugs, disjoint /16 VPCs. */
export function topology(count: number): RegionSpec[] {
  if (count > PEERABLE_SLUGS.length) throw new RangeError(`at most ${PEERABLE_SLUGS.length} regions (distinct peerable DigitalOcean slugs)`);
  return Array.from({ length: count }, (_, i) => {
    const name = `bench-${PEERABLE_SLUGS[i]}`;
    const net = `10.${100 + i}`;
    return {
      name,
      slug: PEERABLE_SLUGS[i],
      vpcCidr: `${net}.0.0/16`,
      nats: { replicas: 3, jetstreamStorage: '5Gi', gatewayEndpoints: [`${net}.0.2:${DEFAULT_GATEWAY_NODE_PORT}`, `${net}.0.3:${DEFAULT_GATEWAY_NODE_PORT}`] },
      relay: { hosts: [`${name}.relay.videocall.example`] },
      webtransport: { host: `${name}.webtransport.videocall.example` },
    };
  });
}

export function benchSynth(opts: SynthOptions, log: (s: string) => void): BenchResult {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vcg-bench-synth-'));
  const tsx = path.join(ROOT, 'node_modules', '.bin', 'tsx');
  try {
    const results = opts.regionCounts.map((count) => {
      const file = path.join(dir, `topology-${count}.json`);
      fs.writeFileSync(file, JSON.stringify({ regions: topology(count) }, null, 2));
      const times: number[] = [];
      for (let k = 0; k < opts.repeats; k++) {
        const out = path.join(dir, `out-${count}-${k}`);
        const t0 = performance.now();
        // The manifests need an image name; nothing pulls it here.
        const r = spawnSync(tsx, ['main.ts', '--topology', file, '--out', out, '--relay-image', 'registry.example/videocall-relay:bench'], { cwd: ROOT, encoding: 'utf8' });
        const ms = performance.now() - t0;
        if (r.status !== 0) throw new Error(`synth of ${count} regions failed (exit ${r.status}):\n${r.stderr}${r.stdout}`);
        const k8sRegions = fs.readdirSync(path.join(out, 'k8s')).length;
        if (k8sRegions !== count) throw new Error(`synth of ${count} regions wrote ${k8sRegions} region directories`);
        times.push(ms);
        log(`synth ${count} regions #${k + 1}: ${Math.round(ms)} ms`);
      }
      return { regions: count, timesMs: times, medianMs: median(times) };
    });
    const rows: Row[] = results.map((r) => ({
      benchmark: 'Synthesis',
      configuration: `${r.regions} regions, cold \`tsx main.ts --topology\`, median of ${opts.repeats}`,
      ours: `${fmt.ms(r.medianMs / 1000)} s`,
      yardstick: results[0] === r ? '—' : `${results[0].regions} regions: ${fmt.ms(results[0].medianMs / 1000)} s`,
      ratio: results[0] === r ? '—' : fmt.ratio(r.medianMs / results[0].medianMs),
      target: '—',
      result: 'no target',
    }));
    const details = `
Wall time of \`node_modules/.bin/tsx main.ts --topology FILE --out DIR\` (what \`npm run synth -- --topology\` runs, without npm's
own start-up), a fresh process per run, writing Terraform JSON, every region's Kubernetes manifests and servers.json. Generated
topologies: N regions on distinct DigitalOcean slugs, disjoint /16 VPCs, 3 NATS replicas, WebTransport on. tsx's on-disk
transform cache is as the previous run left it (the first run of a fresh checkout is slower).

| Regions | Runs ms | Median ms |
| --- | --- | --- |
${results.map((r) => `| ${r.regions} | ${r.timesMs.map((t) => Math.round(t)).join(', ')} | ${Math.round(r.medianMs)} |`).join('\n')}
`;
    return { name: 'synth', title: 'Synthesis', rows, details, raw: { options: opts, results } };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
