// Entry of `npm run synth`, `npx cdktf synth` (cdktf.json) and `npx cdk8s synth` (cdk8s.yaml):
// builds the topology once and synthesizes what was asked.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { regions as builtInRegions } from './regions';
import { Part, summary, synthesize } from './synth/pipeline';
import { applyTerraformOutputs, loadTopologyFile } from './topology/file';
import { RELAY_IMAGE_ENV } from './topology/constants';
import { TopologyError, buildTopology } from './topology/topology';

const USAGE = `Usage: npm run synth -- [options]

  --topology FILE      regions from a YAML or JSON file (fields as in regions/*.ts) instead of regions/
  --out DIR            output directory (default: dist)
  --tf-outputs FILE    JSON written by \`cdktf output --outputs-file\`: use the nodes' private IPs
                       as gateway endpoints instead of the static ones
  --relay-image IMAGE  the relay image you built from this repository's Dockerfile and pushed
                       (also VIDEOCALL_RELAY_IMAGE; a region's relay.image wins). Required for
                       the k8s part: no public image exists, so nothing is assumed
  --only PART          terraform | k8s | files (repeatable; default: all)
  --region NAME        Kubernetes manifests for this region only (repeatable; also VIDEOCALL_REGION)
  --spaces-bucket B    keep Terraform state in DigitalOcean Spaces bucket B (default: local state)
  --spaces-region R    the bucket's Spaces region (default: nyc3)
  -h, --help           this text`;

function main(argv: string[]): number {
  const { values } = parseArgs({
    args: argv,
    options: {
      topology: { type: 'string' },
      out: { type: 'string', default: 'dist' },
      'tf-outputs': { type: 'string' },
      'relay-image': { type: 'string' },
      only: { type: 'string', multiple: true },
      region: { type: 'string', multiple: true },
      'spaces-bucket': { type: 'string' },
      'spaces-region': { type: 'string', default: 'nyc3' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const parts = values.only as Part[] | undefined;
  for (const p of parts ?? []) {
    if (!['terraform', 'k8s', 'files'].includes(p)) throw new UsageError(`--only: unknown part "${p}" (terraform, k8s, files)`);
  }

  let specs = values.topology ? loadTopologyFile(values.topology) : [...builtInRegions];
  if (values['tf-outputs']) {
    let outputs: unknown;
    try {
      outputs = JSON.parse(readFileSync(values['tf-outputs'], 'utf8'));
    } catch (e) {
      throw new UsageError(`--tf-outputs ${values['tf-outputs']}: ${(e as Error).message}`);
    }
    specs = applyTerraformOutputs(specs, outputs);
  }
  const topology = buildTopology(specs, { relayImage: values['relay-image'] ?? (process.env[RELAY_IMAGE_ENV] || undefined) });

  const k8sRegions = values.region ?? (process.env.VIDEOCALL_REGION ? process.env.VIDEOCALL_REGION.split(',') : undefined);
  for (const r of k8sRegions ?? []) {
    if (!topology.regions.some((x) => x.name === r)) throw new UsageError(`--region: no region "${r}" in the topology`);
  }
  if (parts === undefined || parts.includes('k8s')) {
    const unnamed = topology.regions.filter((r) => (!k8sRegions || k8sRegions.includes(r.name)) && r.relay.image === undefined);
    if (unnamed.length > 0) {
      throw new UsageError(
        `no relay image for ${unnamed.map((r) => `"${r.name}"`).join(', ')}: build this repository's Dockerfile, push it ` +
          `to a registry your clusters can pull from, and pass --relay-image <registry>/<name>:<tag> ` +
          `(or set ${RELAY_IMAGE_ENV}, or relay.image in the region); see README "Deploy"`,
      );
    }
  }
  const written = synthesize(topology, {
    outDir: values.out!,
    parts,
    terraformDir: process.env.CDKTF_OUTDIR,
    k8sDir: process.env.CDK8S_OUTDIR,
    k8sRegions,
    spacesBackend: values['spaces-bucket'] ? { bucket: values['spaces-bucket'], region: values['spaces-region']! } : undefined,
  });
  // `cdk8s synth --stdout` pipes our stdout into kubectl: report on stderr there.
  (process.env.CDK8S_OUTDIR ? console.error : console.log)(summary(topology, written));
  return 0;
}

class UsageError extends Error {}

try {
  process.exitCode = main(process.argv.slice(2));
} catch (e) {
  if (e instanceof TopologyError || e instanceof UsageError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
    console.error(`synth: ${(e as Error).message}`);
    process.exitCode = 1;
  } else if (e instanceof Error && e.message.startsWith('cannot read topology file')) {
    console.error(`synth: ${e.message}`);
    process.exitCode = 1;
  } else {
    throw e;
  }
}
