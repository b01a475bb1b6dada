// The relay refuses to run on uWebSockets.js's JS fallback.
import path from 'node:path';
import { UwsLoadError, assertNative, nativeBinaryPath } from '../../relay/uws';
import { spawnProcess } from '../support/processes';

const root = path.resolve(__dirname, '..', '..');

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
