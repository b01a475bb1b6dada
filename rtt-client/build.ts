// The browser bundles of the election module (`npm run build:client`), and the same build in memory
// for the Chromium test. Node-only code (rtt-client/node.ts, `ws`) is never reachable from index.ts;
// platform 'browser' would fail the build if it were.
import path from 'node:path';
import { build, type BuildOptions } from 'esbuild';

/** The global the IIFE bundle defines: `new RttClient.ConnectionManager({...})`. */
export const BROWSER_GLOBAL = 'RttClient';

const common: BuildOptions = {
  entryPoints: [path.join(__dirname, 'index.ts')],
  bundle: true,
  platform: 'browser',
  target: 'es2020',
  logLevel: 'warning',
};

export const BUNDLES = {
  iife: { ...common, format: 'iife', globalName: BROWSER_GLOBAL, file: 'rtt-client.js' },
  esm: { ...common, format: 'esm', file: 'rtt-client.mjs' },
} as const;

/** The IIFE bundle as text. */
export async function bundleForBrowser(): Promise<string> {
  const { file: _file, ...options } = BUNDLES.iife;
  const result = await build({ ...options, write: false });
  return result.outputFiles[0].text;
}

async function main(): Promise<void> {
  const outDir = path.resolve(process.argv[2] ?? path.join(__dirname, '..', 'dist'));
  for (const { file, ...options } of Object.values(BUNDLES)) {
    await build({ ...options, outfile: path.join(outDir, file) });
    console.log(`wrote ${path.join(outDir, file)}`);
  }
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
