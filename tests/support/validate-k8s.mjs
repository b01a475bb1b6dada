// Validates Kubernetes objects against the Kubernetes schemas (kubernetes-models, ESM only,
// hence a separate process). Input: YAML file paths as arguments. Output: one JSON report.
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';

const report = { validated: [], errors: [] };
for (const file of process.argv.slice(2)) {
  for (const doc of parseAllDocuments(readFileSync(file, 'utf8'))) {
    const obj = doc.toJS();
    if (obj === null) continue;
    const where = { file, kind: obj.kind, name: obj.metadata?.name };
    let Model;
    try {
      const mod = await import(`kubernetes-models/${obj.apiVersion}/${obj.kind}`);
      Model = mod[obj.kind];
    } catch (e) {
      report.errors.push({ ...where, error: `no schema for ${obj.apiVersion} ${obj.kind}: ${e.message}` });
      continue;
    }
    try {
      new Model(obj).validate();
      report.validated.push(where);
    } catch (e) {
      report.errors.push({ ...where, error: e.message });
    }
  }
}
process.stdout.write(JSON.stringify(report));
