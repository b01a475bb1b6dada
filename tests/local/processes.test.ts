import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProcessGroup, freePort, httpOk, ownedTempDir, startProcess, waitUntilReady } from '../../local/processes';

describe('freePort', () => {
  it('hands out distinct, bindable ports below the kernel ephemeral range', async () => {
    const [low] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    const ports = [];
    for (let i = 0; i < 50; i++) ports.push(await freePort());
    expect(new Set(ports).size).toBe(ports.length);
    for (const port of ports) expect(port).toBeLessThan(low);
    // each one can really be listened on by whoever gets it
    const servers = await Promise.all(
      ports.slice(0, 5).map(
        (port) =>
          new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
            const srv = createServer();
            srv.once('error', reject);
            srv.listen(port, '127.0.0.1', () => resolve(srv));
          }),
      ),
    );
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  });
});

describe('waitUntilReady', () => {
  it('fails at once, with the output, when the process exits before it is ready', async () => {
    const proc = startProcess('doomed', process.execPath, ['-e', 'console.error("listen EADDRINUSE"); process.exit(3)']);
    const started = Date.now();
    await expect(waitUntilReady(proc, async () => false, 20_000, 'it answered')).rejects.toThrow(
      /doomed exited \(code 3, signal null\) before it was ready:\nlisten EADDRINUSE/,
    );
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('resolves when the check passes and times out with the output when it never does', async () => {
    const port = await freePort();
    const proc = startProcess('server', process.execPath, [
      '-e',
      `console.log("up"); require("node:http").createServer((q, s) => s.end("ok")).listen(${port}, "127.0.0.1")`,
    ]);
    try {
      await waitUntilReady(proc, () => httpOk(`http://127.0.0.1:${port}/`), 10_000, 'it answered');
      await expect(waitUntilReady(proc, async () => false, 300, 'never')).rejects.toThrow(/timed out after 300 ms: server: never not seen:\nup/);
    } finally {
      await proc.stop();
    }
  });
});

describe('ownedTempDir', () => {
  it('removes directories of its prefix left by a dead owner, keeps a live owner\'s, and marks its own', () => {
    const prefix = `vcg-owned-test-${process.pid}-`;
    const deadPid = spawnSync(process.execPath, ['-e', '']).pid!;
    const stale = mkdtempSync(join(tmpdir(), prefix));
    writeFileSync(join(stale, '.owner-pid'), String(deadPid));
    const live = mkdtempSync(join(tmpdir(), prefix));
    writeFileSync(join(live, '.owner-pid'), String(process.pid));
    const mine = ownedTempDir(prefix);
    try {
      expect(existsSync(stale)).toBe(false);
      expect(existsSync(live)).toBe(true);
      expect(readFileSync(join(mine, '.owner-pid'), 'utf8')).toBe(String(process.pid));
    } finally {
      for (const d of [stale, live, mine]) rmSync(d, { recursive: true, force: true });
    }
  });
});

describe('ProcessGroup', () => {
  test('stops its controllers before its members, so nothing is restarted while it stops', async () => {
    const group = new ProcessGroup();
    let stopped = false;
    const restarted: number[] = [];
    // A controller like the emulated kubelet: it restarts its member whenever it exits.
    const supervise = (): void => {
      const p = group.add(startProcess('sleeper', 'sleep', ['30']));
      void p.exited.then(() => {
        if (stopped) return;
        restarted.push(p.pid ?? -1);
        supervise();
      });
    };
    supervise();
    group.addController(async () => {
      stopped = true;
    });
    await group.stopAll(2_000);
    await new Promise((r) => setTimeout(r, 100));
    expect(restarted).toEqual([]);
    expect(group.running()).toEqual([]);
  });
});
