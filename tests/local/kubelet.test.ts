// A pod of the emulation probed as kubelet probes it, around a real process: a small HTTP server
// whose /startup, /ready and /live answers are read from files in its (persistent) directory.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmulatedPod } from '../../local/kubelet';
import { ContainerSpec } from '../../local/manifests';
import { ManagedProcess, freePort } from '../../local/processes';

jest.setTimeout(60_000);

const SERVER = `
const fs = require('fs'), http = require('http'), path = require('path');
const dir = process.env.DIR;
fs.appendFileSync(path.join(dir, 'starts'), 'x');
http.createServer((req, res) => {
  const name = req.url.slice(1);
  res.statusCode = fs.existsSync(path.join(dir, name + '.fail')) ? 503 : 200;
  res.end();
}).listen(Number(process.env.PORT), '127.0.0.1');
`;

const probe = (path: string, periodSeconds: number, failureThreshold: number) => ({
  path, port: 'http', initialDelaySeconds: 0, periodSeconds, timeoutSeconds: 1, failureThreshold, successThreshold: 1,
});

describe('EmulatedPod', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vcg-kubelet-'));
  let pod: EmulatedPod | undefined;
  afterAll(async () => {
    await pod?.delete('kill');
    rmSync(dir, { recursive: true, force: true });
  });

  const until = async (check: () => boolean, what: string, ms = 15_000) => {
    const end = Date.now() + ms;
    while (!check()) {
      if (Date.now() > end) throw new Error(`not within ${ms} ms: ${what} (${JSON.stringify(pod?.status)})`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  it('is Ready only after its startup probe passed, drops Ready after failureThreshold, and restarts on liveness failure keeping its directory', async () => {
    const port = await freePort();
    const container: ContainerSpec = {
      name: 'app',
      ports: [{ name: 'http', containerPort: 80 }],
      env: [],
      // Manifest seconds at timeScale 0.05: a 1 s period is 50 ms.
      startupProbe: probe('/startup', 1, 100),
      readinessProbe: probe('/ready', 1, 3),
      livenessProbe: probe('/live', 2, 3),
    };
    writeFileSync(join(dir, 'startup.fail'), '');
    pod = new EmulatedPod({
      name: 'app-0',
      container,
      hostPort: () => port,
      launch: () => new ManagedProcess('app-0', process.execPath, ['-e', SERVER], { env: { DIR: dir, PORT: String(port) } }),
      timeScale: 0.05,
      terminationGracePeriodSeconds: 1,
    });
    pod.start();
    await until(() => pod!.status.running, 'running');
    await new Promise((r) => setTimeout(r, 500));
    expect(pod.status).toMatchObject({ running: true, started: false, ready: false });

    rmSync(join(dir, 'startup.fail'));
    await until(() => pod!.status.ready, 'Ready once the startup probe passes');
    expect(pod.status.started).toBe(true);

    writeFileSync(join(dir, 'ready.fail'), '');
    await until(() => !pod!.status.ready, 'not Ready after 3 failed readiness probes');
    expect(pod.status.restarts).toBe(0);
    rmSync(join(dir, 'ready.fail'));
    await until(() => pod!.status.ready, 'Ready again');

    writeFileSync(join(dir, 'live.fail'), '');
    await until(() => pod!.status.restarts === 1, 'restarted after 3 failed liveness probes');
    expect(pod.status.lastRestartReason).toMatch(/liveness probe \/live failed 3 times/);
    rmSync(join(dir, 'live.fail'));
    await until(() => pod!.status.ready, 'Ready after the restart');
    // The same directory (its volume) across the restart: both starts are recorded in it.
    expect(existsSync(join(dir, 'starts'))).toBe(true);
    expect(readFileSync(join(dir, 'starts'), 'utf8')).toBe('xx');
  });
});
