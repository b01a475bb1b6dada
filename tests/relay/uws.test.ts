// The relay loads a uWebSockets.js native addon (either build) or refuses to run, and both builds
// expose the same surface to the relay.
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import {
  UWS_BUILDS, UwsBuild, UwsLoadError, addonFileName, assertNative, loadUwsBuild, nativeAddonPath, nativeBinaryPath,
} from '../../relay/uws';
import { spawnProcess } from '../support/processes';
import { atLeast, glibcHere, glibcRequired, root } from './image-support';

test('the native addon loads here and is accepted', async () => {
  expect(nativeBinaryPath()).toMatch(new RegExp(`uws_${process.platform}_${process.arch}_${process.versions.modules}\\.node$`));
  // In a child process: the addon is not loaded into Jest's module registry.
  const p = spawnProcess(process.execPath, ['--import', 'tsx', '-e', "const u = require('./relay/uws').loadUws(); console.log('native', typeof u.App)"], { cwd: root });
  const exit = await p.exited;
  expect(p.output()).toContain('native function');
  expect(exit.code).toBe(0);
});

test('a module whose App is not the addon\'s is refused', () => {
  const fake = { App: function App() {} } as unknown as Parameters<typeof assertNative>[0];
  expect(() => assertNative(fake, () => ({ App: function Native() {} }))).toThrow(UwsLoadError);
  expect(() => assertNative(fake, () => { throw new Error('wrong ELF class'); })).toThrow(/native addon did not load.*wrong ELF class/);
});

test('the relay exits with a clear message when uWebSockets.js falls back to JS', async () => {
  const p = spawnProcess(process.execPath, ['--import', 'tsx', 'relay/main.ts'], { cwd: root, env: { ...process.env, UWS_USE_FALLBACK: '1', PORT: '0', HOST: '127.0.0.1' } });
  const exit = await p.exited;
  expect(exit.code).toBe(1);
  expect(p.output()).toMatch(/JS fallback/);
});

test('a bad setting stops the relay at start, naming it', async () => {
  const p = spawnProcess(process.execPath, ['--import', 'tsx', 'relay/main.ts'], { cwd: root, env: { ...process.env, PORT: 'eighty' } });
  const exit = await p.exited;
  expect(exit.code).toBe(1);
  expect(p.output()).toContain('PORT="eighty"');
});

// ---- The two builds expose the same surface to relay/ ----
// The btc-vision addon cannot load here (glibc 2.38), so this part is static: the typings of every
// member relay/ uses, the JS entries run against a stand-in `require`, and the names the addons register.

const trufflesuite = UWS_BUILDS.find((b) => b.packageName === 'uWebSockets.js')!;
const btcVision = UWS_BUILDS.find((b) => b.packageName === '@btc-vision/uwebsockets.js')!;
const typingsOf = (build: UwsBuild) => (build === trufflesuite
  ? path.join(path.dirname(require.resolve('uWebSockets.js/package.json')), 'docs', 'index.d.ts')
  : path.join(path.dirname(btcVision.resolveEntry()), 'index.d.ts')); // its `exports` hides package.json
const packageDir = (build: UwsBuild) => path.dirname(typingsOf(build)).replace(/[/\\]docs$/, '');

/**
 * `Container.member` for every uWS declaration relay/ touches (`module.App` for the module's own
 * exports), found by the type checker: property accesses, and the properties of objects passed where a
 * uWS type is expected (the WebSocketBehavior given to app.ws). Derived from the code, so it cannot drift.
 */
function usedSurface(): Set<string> {
  const cfg = ts.parseJsonConfigFileContent(ts.readConfigFile(path.join(root, 'tsconfig.json'), ts.sys.readFile).config, ts.sys, root);
  const program = ts.createProgram([path.join(root, 'relay', 'main.ts'), path.join(root, 'relay', 'uws-check.ts')], { ...cfg.options, noEmit: true });
  const checker = program.getTypeChecker();
  const dts = path.resolve(typingsOf(trufflesuite));
  const used = new Set<string>();
  const record = (symbol: ts.Symbol | undefined) => {
    if (symbol === undefined) return;
    if (symbol.flags & ts.SymbolFlags.Alias) symbol = checker.getAliasedSymbol(symbol);
    for (const decl of symbol.declarations ?? []) {
      if (path.resolve(decl.getSourceFile().fileName) !== dts) continue;
      let owner: ts.Node = decl.parent;
      if (ts.isVariableDeclarationList(owner)) owner = owner.parent.parent;
      used.add(`${ts.isSourceFile(owner) ? 'module' : (owner as ts.InterfaceDeclaration).name.text}.${symbol.name}`);
    }
  };
  for (const sf of program.getSourceFiles()) {
    if (!path.resolve(sf.fileName).startsWith(path.join(root, 'relay') + path.sep)) continue;
    const visit = (node: ts.Node): void => {
      if (ts.isPropertyAccessExpression(node)) record(checker.getSymbolAtLocation(node.name));
      if (ts.isCallExpression(node)) {
        // Only calls into uWS (app.ws(pattern, behavior)): passing the module itself on is not using all of it.
        const signature = checker.getResolvedSignature(node);
        const declaredIn = signature?.declaration?.getSourceFile().fileName;
        if (declaredIn !== undefined && path.resolve(declaredIn) === dts) node.arguments.forEach((arg, i) => {
          const param = signature?.parameters[i];
          if (param === undefined) return;
          const expected = checker.getTypeOfSymbolAtLocation(param, node);
          for (const prop of checker.getTypeAtLocation(arg).getProperties()) record(expected.getProperty(prop.name));
        });
      }
      ts.forEachChild(node, visit);
    };
    visit(sf);
  }
  return used;
}

/** The declarations of `Container.member` in a .d.ts, printed without comments (overloads joined). */
const parsedTypings = new Map<string, ts.SourceFile>();
function declarationText(file: string, key: string): string | undefined {
  let sf = parsedTypings.get(file);
  if (sf === undefined) parsedTypings.set(file, sf = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true));
  const printer = ts.createPrinter({ removeComments: true });
  const [container, member] = key.split('.');
  const nameOf = (n: ts.Node): string | undefined => {
    const name = (n as unknown as { name?: ts.Node }).name;
    return name !== undefined && ts.isIdentifier(name) ? name.text : undefined;
  };
  const found: ts.Node[] = [];
  for (const stmt of sf.statements) {
    if (container === 'module') {
      if (ts.isVariableStatement(stmt)) found.push(...stmt.declarationList.declarations.filter((d) => nameOf(d) === member));
      else if (nameOf(stmt) === member && !ts.isInterfaceDeclaration(stmt)) found.push(stmt);
    } else if (ts.isInterfaceDeclaration(stmt) && stmt.name.text === container) {
      found.push(...stmt.members.filter((m) => nameOf(m) === member));
    }
  }
  if (found.length === 0) return undefined;
  return found.map((n) => printer.printNode(ts.EmitHint.Unspecified, n, sf).replace(/\s+/g, ' ')).join('\n');
}

/**
 * Where the typings differ on a member relay/ uses, and why that is harmless for how relay/ uses it.
 * The test fails on any other difference, and on any entry here that is no longer a difference.
 */
const KNOWN_DIFFERENCES: Record<string, string> = {
  'WebSocketBehavior.closeOnBackpressureLimit':
    'trufflesuite types it as number, btc-vision (like upstream) as boolean; the addon reads it as a boolean (uWS core\'s ' +
    'WebSocketBehavior field is a bool), so the relay\'s 0 means off in both',
  'HttpRequest.getParameter':
    'btc-vision returns string | undefined (it also takes a name); the relay reads indexes 0 and 1 of the route /lobby/:user/:room, which always exist',
  'HttpRequest.getQuery':
    'btc-vision returns string | undefined for a missing key (trufflesuite ""); the relay treats both as no token (`?? undefined`, then a falsy check)',
};

describe('the surface relay/ uses from uWebSockets.js', () => {
  const used = usedSurface();

  test('is found from the code and includes what the issue names', () => {
    for (const key of ['module.App', 'module.DISABLED', 'module.us_listen_socket_close', 'module.us_socket_local_port',
      'TemplatedApp.publish', 'TemplatedApp.ws', 'WebSocket.subscribe', 'WebSocket.unsubscribe', 'WebSocket.publish',
      'WebSocket.getBufferedAmount', 'WebSocketBehavior.closeOnBackpressureLimit', 'WebSocketBehavior.maxBackpressure']) {
      expect(used).toContain(key);
    }
    // app.close() exists only in btc-vision (and upstream), so the relay must not use it: it closes its listen socket.
    expect(used).not.toContain('TemplatedApp.close');
    expect(declarationText(typingsOf(trufflesuite), 'TemplatedApp.close')).toBeUndefined();
    expect(declarationText(typingsOf(btcVision), 'TemplatedApp.close')).toBeDefined();
  });

  test('is declared alike in both packages\' typings, but for the listed differences', () => {
    const differing: Record<string, { trufflesuite?: string; btcVision?: string }> = {};
    for (const key of used) {
      const a = declarationText(typingsOf(trufflesuite), key);
      const b = declarationText(typingsOf(btcVision), key);
      expect({ key, declared: a !== undefined && b !== undefined }).toEqual({ key, declared: true });
      if (a !== b) differing[key] = { trufflesuite: a, btcVision: b };
    }
    expect(Object.keys(differing).sort()).toEqual(Object.keys(KNOWN_DIFFERENCES).sort());
  });

  test('each JS entry hands back the addon at the path relay/uws.ts loads, for every addon it ships', () => {
    for (const build of [trufflesuite, btcVision]) {
      const entry = build.resolveEntry();
      const source = fs.readFileSync(entry, 'utf8');
      const abis = fs.readdirSync(packageDir(build), { recursive: true, encoding: 'utf8' })
        .map((f) => /uws_linux_x64_(\d+)\.node$/.exec(f)?.[1]).filter((abi): abi is string => abi !== undefined);
      expect(abis.length).toBeGreaterThan(0);
      for (const abi of new Set(abis)) {
        const addon = { App: function App() {} };
        const requested: string[] = [];
        const module = { exports: {} as unknown };
        const fakeProcess = { platform: 'linux', arch: 'x64', versions: { modules: abi }, env: {} };
        const fakeRequire = (spec: string) => { requested.push(spec); return addon; };
        new Function('module', 'exports', 'require', 'process', 'console', source)(module, module.exports, fakeRequire, fakeProcess, { log() {}, warn() {} });
        expect(module.exports).toBe(addon); // the addon itself (btc-vision adds DeclarativeResponse to it)
        expect(requested).toHaveLength(1);
        const expectedPath = path.resolve(path.dirname(entry), build.addonDirFromEntry, addonFileName('linux', 'x64', abi));
        expect(path.resolve(path.dirname(entry), requested[0])).toBe(expectedPath);
        expect(fs.existsSync(expectedPath)).toBe(true);
      }
      // When the addon does not load: btc-vision throws; trufflesuite falls back to JS (which assertNative refuses).
      const failing = (spec: string) => { if (spec.endsWith('.node')) throw new Error('no addon'); return { App: 'fallback' }; };
      const run = () => { const m = { exports: {} as { App?: unknown } }; new Function('module', 'exports', 'require', 'process', 'console', source)(m, m.exports, failing, { platform: 'linux', arch: 'x64', versions: { modules: '115' }, env: {} }, { log() {}, warn() {} }); return m.exports; };
      if (build === btcVision) expect(run).toThrow(/supports only Node\.js versions 20, 22, 24 and 25[\s\S]*no addon/);
      else expect(run().App).toBe('fallback');
    }
    // The image's Node (24, ABI 137) has a btc-vision addon for both Linux architectures.
    for (const arch of ['x64', 'arm64']) expect(fs.existsSync(path.join(packageDir(btcVision), addonFileName('linux', arch, '137')))).toBe(true);
  });

  test('every name relay/ uses is registered by both builds\' Linux addons', async () => {
    const names = [...new Set([...used].map((key) => key.split('.')[1]))];
    const addons = [trufflesuite, btcVision].flatMap((build) => fs.readdirSync(packageDir(build), { recursive: true, encoding: 'utf8' })
      .filter((f) => /uws_linux_(x64|arm64)_(115|127|137|141)\.node$/.test(f)).map((f) => path.join(packageDir(build), f)));
    expect(addons.filter((f) => f.includes('btc-vision'))).toHaveLength(8);
    for (const file of addons) {
      const bytes = fs.readFileSync(file);
      // V8 property names are C string literals in the addon.
      expect({ file, missing: names.filter((n) => bytes.indexOf(`${n}\0`, 0, 'latin1') < 0) }).toEqual({ file, missing: [] });
    }
    // Where an addon loads (trufflesuite here), its exports really are those names.
    const p = spawnProcess(process.execPath, ['-e', `console.log(JSON.stringify(Object.keys(require(${JSON.stringify(nativeAddonPath(trufflesuite))}))))`], { cwd: root });
    expect((await p.exited).code).toBe(0);
    const exported = JSON.parse(p.output().trim()) as string[];
    for (const key of used) if (key.startsWith('module.')) expect(exported).toContain(key.slice('module.'.length));
  }, 60_000);

  test('the glibc each build needs: btc-vision 2.38 (none loads on Debian 12), trufflesuite 2.27', async () => {
    for (const arch of ['x64', 'arm64']) {
      for (const abi of ['115', '127', '137', '141']) expect(glibcRequired(path.join(packageDir(btcVision), addonFileName('linux', arch, abi)))).toEqual([2, 38]);
    }
    expect(glibcRequired(nativeAddonPath(trufflesuite))).toEqual([2, 27]);
    // Here: the loader skips btc-vision with the dynamic loader's reason and takes trufflesuite, or, on glibc >= 2.38, takes btc-vision.
    const p = spawnProcess(process.execPath, ['--import', 'tsx', 'relay/uws-check.ts'], { cwd: root });
    expect((await p.exited).code).toBe(0);
    const loaded = JSON.parse(p.output().split('\n').find((l) => l.startsWith('{'))!) as { package: string };
    expect(loaded.package).toBe(atLeast(glibcHere(), [2, 38]) ? '@btc-vision/uwebsockets.js' : 'uWebSockets.js');
  }, 60_000);
});

test('no build loads: the error names each build and its reason', () => {
  const missing: UwsBuild = { packageName: 'missing-uws', addonDirFromEntry: '.', requireEntry: () => require('missing-uws'), resolveEntry: () => require.resolve('missing-uws') };
  const noAddon: UwsBuild = { ...trufflesuite, packageName: 'no-addon', addonDirFromEntry: '../nowhere' };
  expect(() => loadUwsBuild([missing, noAddon])).toThrow(UwsLoadError);
  expect(() => loadUwsBuild([missing, noAddon])).toThrow(/missing-uws: not installed; no-addon: no addon for this platform and Node \(uws_linux_x64_\d+\.node not in /);
});

test('both builds are pinned to one exact version with a sha512 integrity', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  const lock = JSON.parse(fs.readFileSync(path.join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, { name?: string; version: string; integrity: string }> };
  expect(pkg.dependencies['uWebSockets.js']).toBe('npm:@trufflesuite/uws-js-unofficial@20.30.0-unofficial.0');
  expect(pkg.dependencies['@btc-vision/uwebsockets.js']).toBe('20.57.0');
  expect(lock.packages['node_modules/uWebSockets.js']).toMatchObject({ name: '@trufflesuite/uws-js-unofficial', version: '20.30.0-unofficial.0' });
  expect(lock.packages['node_modules/@btc-vision/uwebsockets.js']).toMatchObject({ version: '20.57.0' });
  for (const build of UWS_BUILDS) {
    const locked = lock.packages[`node_modules/${build.packageName}`];
    expect(locked.integrity).toMatch(/^sha512-/);
  }
});
