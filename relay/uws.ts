// uWebSockets.js with its native addon, or a clear error. The only module that loads or names a uWS
// package: the relay runs on either of two third-party builds of upstream uNetworking/uWebSockets.js
// (upstream publishes to GitHub, not to the npm registry):
// - `@btc-vision/uwebsockets.js` 20.57.0: addons for Node 20, 22, 24, 25 (ABI 115, 127, 137, 141) that
//   need glibc >= 2.38 (`__isoc23_strtol` and friends); the image (Node 24 on Debian 13) runs this one.
// - `uWebSockets.js` = `@trufflesuite/uws-js-unofficial` 20.30.0-unofficial.0: addons for Node 16, 18,
//   20 that need glibc 2.27 only; the test machine (Node 20 on Debian 12, glibc 2.36) runs this one.
//   Its entry silently falls back to a pure-JS implementation when the addon does not load; the relay
//   must not run on that.
// The relay compiles against the trufflesuite typings; tests/relay/uws.test.ts proves that the members
// the relay uses are declared alike in both packages (or differ only as listed there).
import fs from 'node:fs';
import path from 'node:path';

import type * as UwsModule from 'uWebSockets.js';

export type { HttpRequest, HttpResponse, TemplatedApp, WebSocket, us_listen_socket, us_socket_context_t } from 'uWebSockets.js';
export type Uws = typeof UwsModule;

export class UwsLoadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UwsLoadError';
  }
}

/** One npm build of uWebSockets.js. */
export interface UwsBuild {
  /** The package name in package.json (an npm alias for the trufflesuite build). */
  readonly packageName: string;
  /** Where the addons sit, relative to the package's JS entry. */
  readonly addonDirFromEntry: string;
  /** `require` of the package: a literal, so that bundlers keep it external and it resolves beside the bundle. */
  readonly requireEntry: () => unknown;
  readonly resolveEntry: () => string;
}

/** In order of preference: the first whose addon loads here is used. */
export const UWS_BUILDS: readonly UwsBuild[] = [
  {
    packageName: '@btc-vision/uwebsockets.js',
    addonDirFromEntry: '.', // uws.js requires './uws_<platform>_<arch>_<abi>.node'
    requireEntry: () => require('@btc-vision/uwebsockets.js'),
    resolveEntry: () => require.resolve('@btc-vision/uwebsockets.js'),
  },
  {
    packageName: 'uWebSockets.js',
    addonDirFromEntry: '../binaries', // src/uws.js requires '../binaries/uws_<platform>_<arch>_<abi>.node'
    requireEntry: () => require('uWebSockets.js'),
    resolveEntry: () => require.resolve('uWebSockets.js'),
  },
];

/** The addon's file name for a platform, architecture and Node ABI (`process.versions.modules`). */
export function addonFileName(platform: string = process.platform, arch: string = process.arch, abi: string = process.versions.modules): string {
  return `uws_${platform}_${arch}_${abi}.node`;
}

/** Where `build` keeps the addon for this platform, architecture and Node ABI. */
export function nativeAddonPath(build: UwsBuild, entry: string = build.resolveEntry()): string {
  return path.resolve(path.dirname(entry), build.addonDirFromEntry, addonFileName());
}

/** The trufflesuite build's addon path (kept for callers that know only that build). */
export function nativeBinaryPath(): string {
  return nativeAddonPath(UWS_BUILDS[1]);
}

/**
 * Checks that `loaded` (what the package's entry gave) is the native addon: its App must be the very
 * function the addon exports. `loadNative` is injectable so the check itself is testable.
 */
export function assertNative(loaded: Uws, loadNative: () => unknown = () => require(nativeBinaryPath())): Uws {
  let native: { App?: unknown };
  try {
    native = loadNative() as { App?: unknown };
  } catch (err) {
    throw new UwsLoadError(
      `uWebSockets.js native addon did not load for ${process.platform}/${process.arch} (Node ABI ${process.versions.modules}): ` +
        `${(err as Error).message}. The relay refuses to run on the JS fallback.`,
    );
  }
  if (typeof native.App !== 'function' || loaded.App !== native.App) {
    throw new UwsLoadError(
      'uWebSockets.js is running its JS fallback (UWS_USE_FALLBACK set, or the addon failed to load); the relay refuses to run on it.',
    );
  }
  return loaded;
}

/** What was loaded, for logs and for the image's check command. */
export interface LoadedUws {
  readonly uws: Uws;
  readonly packageName: string;
  readonly version: string;
  readonly addonPath: string;
}

function packageVersion(entry: string, packageName: string): string {
  // The btc-vision package's `exports` hides its package.json from require.resolve, so walk up from the entry.
  for (let dir = path.dirname(entry); dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const file = path.join(dir, 'package.json');
    if (!fs.existsSync(file)) continue;
    const pkg = JSON.parse(fs.readFileSync(file, 'utf8')) as { name?: string; version?: string };
    if (pkg.version !== undefined && pkg.name !== undefined) return pkg.version;
  }
  return `unknown (${packageName})`;
}

/**
 * Loads the first build in `builds` whose addon loads for this Node; throws UwsLoadError naming every
 * build and why it did not load (not installed, no addon for this ABI, the dynamic loader's error such as
 * "GLIBC_2.38 not found", or its JS fallback).
 */
export function loadUwsBuild(builds: readonly UwsBuild[] = UWS_BUILDS): LoadedUws {
  const reasons: string[] = [];
  for (const build of builds) {
    let entry: string;
    try {
      entry = build.resolveEntry();
    } catch {
      reasons.push(`${build.packageName}: not installed`);
      continue;
    }
    const addonPath = nativeAddonPath(build, entry);
    if (!fs.existsSync(addonPath)) {
      reasons.push(`${build.packageName}: no addon for this platform and Node (${addonFileName()} not in ${path.dirname(addonPath)})`);
      continue;
    }
    let native: unknown;
    try {
      native = require(addonPath);
    } catch (err) {
      reasons.push(`${build.packageName}: the addon did not load: ${(err as Error).message}`);
      continue;
    }
    // Only now require the entry: the addon loads, so the entry returns it (or its JS fallback on
    // request, which assertNative refuses loudly instead of trying the next build).
    const uws = assertNative(build.requireEntry() as Uws, () => native);
    return { uws, packageName: build.packageName, version: packageVersion(entry, build.packageName), addonPath };
  }
  throw new UwsLoadError(
    `no uWebSockets.js native addon loads for ${process.platform}/${process.arch} on Node ${process.version} (ABI ${process.versions.modules}); ` +
      `the relay refuses to run without one. ${reasons.join('; ')}`,
  );
}

export function loadUws(): Uws {
  return loadUwsBuild().uws;
}
