// uWebSockets.js with its native addon, or a clear error. The npm mirror silently falls back to a
// pure-JS implementation when the addon does not load; the relay must not run on that.
import path from 'node:path';

export type Uws = typeof import('uWebSockets.js');

export class UwsLoadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UwsLoadError';
  }
}

/** Where the package keeps the addon for this platform, architecture and Node ABI. */
export function nativeBinaryPath(): string {
  const pkgDir = path.dirname(require.resolve('uWebSockets.js/package.json'));
  return path.join(pkgDir, 'binaries', `uws_${process.platform}_${process.arch}_${process.versions.modules}.node`);
}

/**
 * Checks that `loaded` (what `require('uWebSockets.js')` gave) is the native addon: its App must be
 * the very function the addon exports. `loadNative` is injectable so the check itself is testable.
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

export function loadUws(): Uws {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return assertNative(require('uWebSockets.js') as Uws);
}
