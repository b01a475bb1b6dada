// Every file `npm run synth` writes: snapshotted, and every Kubernetes object checked against
// the Kubernetes schemas (kubernetes-models).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { summary, synthesize, WrittenFile } from '../../synth/pipeline';
import { regions } from '../../regions';
import { threeRegions, testTopology, TEST_RELAY_IMAGE } from './fixtures';

function synthTo(specs = regions) {
  const outDir = mkdtempSync(join(tmpdir(), 'videocall-synth-'));
  const written = synthesize(testTopology(specs), { outDir });
  return { outDir, written };
}

type Report = { validated: unknown[]; errors: Array<{ kind?: string; error: string }> };

function validate(files: string[]): Report {
  const out = execFileSync(process.execPath, [join(__dirname, '../support/validate-k8s.mjs'), ...files], { encoding: 'utf8' });
  return JSON.parse(out);
}

/**
 * kubernetes-models has no cert-manager schemas: a Certificate is checked here by hand against
 * cert-manager.io/v1 (secretName, issuerRef.name and at least one dnsName are what it requires).
 */
function withoutCertificates(report: Report, files: string[]): Report {
  const certificates = files.flatMap((f) => parseAllDocuments(readFileSync(f, 'utf8')).map((d) => d.toJS()).filter((o) => o?.kind === 'Certificate'));
  for (const c of certificates) {
    expect(c.apiVersion).toBe('cert-manager.io/v1');
    expect(c.spec).toEqual({ secretName: expect.any(String), dnsNames: [expect.stringMatching(/\./)], issuerRef: { kind: 'ClusterIssuer', name: expect.any(String) } });
  }
  const errors = report.errors.filter((e) => !(e.kind === 'Certificate' && e.error.startsWith('no schema for cert-manager.io/v1 Certificate')));
  expect(report.errors.length - errors.length).toBe(certificates.length);
  return { validated: report.validated, errors };
}

describe('npm run synth output', () => {
  let outDir: string;
  let written: WrittenFile[];
  const dirs: string[] = [];

  beforeAll(() => {
    ({ outDir, written } = synthTo());
    dirs.push(outDir);
  });
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  it('writes terraform, each region\'s manifests, servers.json and topology.md', () => {
    expect(written.map((f) => relative(outDir, f.path))).toEqual([
      'terraform/stacks/videocall-global/cdk.tf.json',
      'k8s/us-east/namespace.k8s.yaml',
      'k8s/us-east/nats.k8s.yaml',
      'k8s/us-east/relay.k8s.yaml',
      'k8s/singapore/namespace.k8s.yaml',
      'k8s/singapore/nats.k8s.yaml',
      'k8s/singapore/relay.k8s.yaml',
      'servers.json',
      'topology.md',
    ]);
  });

  it('matches the snapshot, file by file', () => {
    for (const f of written) {
      expect(readFileSync(f.path, 'utf8')).toMatchSnapshot(relative(outDir, f.path));
    }
  });

  it('writes servers.json in the contract\'s shape', () => {
    const servers = JSON.parse(readFileSync(join(outDir, 'servers.json'), 'utf8'));
    expect(Object.keys(servers)).toEqual(['servers']);
    for (const s of servers.servers) {
      expect(Object.keys(s).sort()).toEqual(['region', 'transport', 'url']);
      expect(['websocket', 'webtransport']).toContain(s.transport);
    }
  });

  it('prints each region\'s requests against its pool at the relays\' HPA maximum', () => {
    expect(summary(testTopology(regions), [])).toContain(
      "capacity at the relays' HPA maximum: us-east 12650m of 15600m CPU, 7.0 of 24.0 GiB on 4 × s-4vcpu-8gb; " +
        'singapore 12400m of 15600m CPU, 6.5 of 24.0 GiB on 4 × s-4vcpu-8gb',
    );
  });

  it('records the relay image it used in topology.md', () => {
    expect(readFileSync(join(outDir, 'topology.md'), 'utf8')).toContain(`| ${TEST_RELAY_IMAGE} |`);
  });

  it('draws regions, peerings and gateways in the Mermaid diagram', () => {
    const md = readFileSync(join(outDir, 'topology.md'), 'utf8');
    expect(md).toContain('```mermaid\nflowchart LR');
    expect(md).toContain('us_east_gw <-->|VPC peering| singapore_gw');
    expect(md).toContain('10.110.0.2:30722');
  });

  it('keeps every object in its region\'s namespace, namespace file first', () => {
    for (const region of ['us-east', 'singapore']) {
      const dir = join(outDir, 'k8s', region);
      expect(readdirSync(dir).sort()[0]).toBe('namespace.k8s.yaml');
      for (const file of ['nats.k8s.yaml', 'relay.k8s.yaml']) {
        for (const doc of parseAllDocuments(readFileSync(join(dir, file), 'utf8'))) {
          expect(doc.toJS().metadata.namespace).toBe('videocall');
        }
      }
    }
  });

  it('validates every Kubernetes object against the Kubernetes schemas', () => {
    const files = written.filter((f) => f.path.endsWith('.k8s.yaml'));
    const report = withoutCertificates(validate(files.map((f) => f.path)), files.map((f) => f.path));
    expect(report.errors).toEqual([]);
    // Every object but the two regions' WebTransport Certificates went through a schema.
    expect(report.validated).toHaveLength(files.reduce((n, f) => n + f.count, 0) - 2);
  });

  it('validates a three-region synthesis too', () => {
    const three = synthTo(threeRegions);
    dirs.push(three.outDir);
    const files = three.written.filter((f) => f.path.endsWith('.k8s.yaml')).map((f) => f.path);
    expect(files).toHaveLength(9);
    expect(withoutCertificates(validate(files), files).errors).toEqual([]);
  });

  it('has a schema check that can fail', () => {
    const bad = join(outDir, 'bad.k8s.yaml');
    require('node:fs').writeFileSync(bad, 'apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec: {ports: [{port: "eighty"}]}\n');
    expect(validate([bad]).errors).toEqual([
      expect.objectContaining({ kind: 'Service', name: 'x', error: expect.stringContaining('port must be integer') }),
    ]);
  });
});
