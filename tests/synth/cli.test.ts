// The commands users run: `npm run synth` with a topology file, --tf-outputs, bad input,
// and the cdktf / cdk8s CLIs driven by cdktf.json and cdk8s.yaml.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { nodeIpsOutputName } from '../../topology/file';
import { regions } from '../../regions';
import { threeRegions } from './fixtures';

jest.setTimeout(60_000);
const root = join(__dirname, '../..');
const bin = (name: string) => join(root, 'node_modules/.bin', name);
let work: string;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'videocall-cli-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

const IMAGE = 'registry.digitalocean.com/acme/videocall-relay:0.1.0';

function synth(...args: string[]) {
  const env = { ...process.env, CHECKPOINT_DISABLE: '1', VIDEOCALL_RELAY_IMAGE: '' };
  return spawnSync(bin('tsx'), ['main.ts', ...args], { cwd: root, encoding: 'utf8', env });
}

describe('npm run synth -- --topology FILE --out DIR', () => {
  it('synthesizes a YAML topology file with a third region', () => {
    const file = join(work, 'three.yaml');
    writeFileSync(file, stringify({ regions: threeRegions }));
    const out = join(work, 'three');
    const r = synth('--topology', file, '--out', out, '--relay-image', IMAGE);
    expect(r.stderr).not.toMatch(/error/i);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('regions: us-east (nyc1, 10.100.0.0/16, 3 NATS), singapore (sgp1, 10.110.0.0/16, 2 NATS), eu-central (fra1, 10.120.0.0/16, 2 NATS)');
    expect(r.stdout).toMatch(/k8s\/eu-central\/nats\.k8s\.yaml\s+\(7 objects\)/);
    expect(r.stdout).toContain(`relay image: us-east ${IMAGE}, singapore ${IMAGE}, eu-central ${IMAGE}`);
    expect(readFileSync(join(out, 'k8s/eu-central/relay.k8s.yaml'), 'utf8')).toContain(`image: ${IMAGE}`);
    expect(readdirSync(join(out, 'k8s')).sort()).toEqual(['eu-central', 'singapore', 'us-east']);
    const servers = JSON.parse(readFileSync(join(out, 'servers.json'), 'utf8')).servers;
    expect(servers.map((s: { region: string }) => s.region)).toContain('eu-central');
    const tf = JSON.parse(readFileSync(join(out, 'terraform/stacks/videocall-global/cdk.tf.json'), 'utf8'));
    expect(Object.keys(tf.resource.digitalocean_vpc_peering)).toHaveLength(3);
  });

  it('accepts JSON and replaces gateway endpoints with --tf-outputs node IPs', () => {
    const file = join(work, 'two.json');
    writeFileSync(file, JSON.stringify(regions));
    const outputs = join(work, 'outputs.json');
    writeFileSync(outputs, JSON.stringify({ 'videocall-global': { [nodeIpsOutputName('singapore')]: ['10.110.0.7', '10.110.0.8'] } }));
    const out = join(work, 'two');
    const r = spawnSync(bin('tsx'), ['main.ts', '--topology', file, '--tf-outputs', outputs, '--out', out, '--only', 'k8s'], {
      cwd: root, encoding: 'utf8', env: { ...process.env, VIDEOCALL_RELAY_IMAGE: IMAGE },
    });
    expect(r.status).toBe(0);
    const nats = readFileSync(join(out, 'k8s/us-east/nats.k8s.yaml'), 'utf8');
    expect(nats).toContain('nats://10.110.0.7:30722');
    expect(nats).toContain('nats://10.110.0.8:30722');
    expect(nats).not.toContain('10.110.0.2:30722');
    expect(existsSync(join(out, 'terraform'))).toBe(false);
  });

  it('stops on a bad topology file with a message naming region, field and value, writing nothing', () => {
    const file = join(work, 'bad.yaml');
    const bad = JSON.parse(JSON.stringify(regions));
    bad[1].vpcCidr = '10.100.0.0/16';
    writeFileSync(file, stringify({ regions: bad }));
    const out = join(work, 'bad');
    const r = synth('--topology', file, '--out', out);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('region "singapore": vpcCidr overlaps region "us-east" (10.100.0.0/16); peered VPCs must be disjoint (got "10.100.0.0/16")');
    expect(existsSync(out)).toBe(false);
  });

  it('refuses to write manifests without a relay image, naming the fix, and writes nothing', () => {
    const out = join(work, 'no-image');
    const r = synth('--out', out);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('synth: no relay image for "us-east", "singapore": build this repository\'s Dockerfile, push it');
    expect(r.stderr).toContain('--relay-image <registry>/<name>:<tag>');
    expect(existsSync(out)).toBe(false);
    // Terraform needs no image.
    expect(synth('--out', out, '--only', 'terraform').status).toBe(0);
  });

  it('reports an unreadable file and an unknown option clearly', () => {
    const missing = synth('--topology', join(work, 'nope.yaml'));
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/synth: cannot read topology file .*nope\.yaml/);
    const unknown = synth('--topolgy', 'x');
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toContain("Unknown option '--topolgy'");
  });
});

describe('the cdktf and cdk8s CLIs', () => {
  it('npx cdktf synth writes the stack from cdktf.json', () => {
    const out = join(work, 'cdktf');
    const r = spawnSync(bin('cdktf'), ['synth', '--output', out], { cwd: root, encoding: 'utf8', env: { ...process.env, CHECKPOINT_DISABLE: '1', CI: '1' } });
    expect(r.status).toBe(0);
    const tf = JSON.parse(readFileSync(join(out, 'stacks/videocall-global/cdk.tf.json'), 'utf8'));
    expect(Object.keys(tf.resource.digitalocean_kubernetes_cluster)).toHaveLength(2);
  });

  it('npx cdk8s synth --stdout prints one region\'s manifests for kubectl apply -f -', () => {
    const r = spawnSync(bin('cdk8s'), ['synth', '--stdout'], {
      cwd: root, encoding: 'utf8', env: { ...process.env, VIDEOCALL_REGION: 'singapore', VIDEOCALL_RELAY_IMAGE: IMAGE },
    });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('kind: StatefulSet');
    expect(r.stdout).toContain('value: singapore-$(POD_NAME)');
    expect(r.stdout).not.toContain('us-east-$(POD_NAME)');
  });
});
