// `node uws-check.js` in the image (bundled beside relay.js): loads uWebSockets.js exactly as the relay
// does and prints which build, which addon and its SHA-256, or exits 1 with the loader's reasons. The
// image build runs it, so an addon that does not load under the image's Node fails the build.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { UwsLoadError, loadUwsBuild } from './uws';

try {
  const { packageName, version, addonPath } = loadUwsBuild();
  const sha256 = createHash('sha256').update(fs.readFileSync(addonPath)).digest('hex');
  process.stdout.write(JSON.stringify({ package: packageName, version, node: process.version, abi: process.versions.modules, addon: addonPath, sha256 }) + '\n');
} catch (err) {
  if (!(err instanceof UwsLoadError)) throw err;
  process.stderr.write(`uws-check: ${err.message}\n`);
  process.exit(1);
}
