// The test helpers other suites rely on: free ports, managed processes, a real nats-server.
import net from 'node:net';
import type { Msg } from '@nats-io/transport-node';
import { connect } from '@nats-io/transport-node';
import { startNatsServer } from '../support/nats';
import { freePort } from '../support/ports';
import { eventually, spawnProcess, waitForPort } from '../support/processes';

test('freePort returns a port that can be bound on 127.0.0.1', async () => {
  const port = await freePort();
  expect(port).toBeGreaterThan(0);
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, '127.0.0.1', resolve));
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

test('a managed process captures output and stop() ends it even when it ignores SIGTERM', async () => {
  const p = spawnProcess(process.execPath, ['-e', "process.on('SIGTERM', () => console.log('ignored')); console.log('hello'); setInterval(() => {}, 1000)"]);
  await eventually(() => p.output().includes('hello'), { what: 'output' });
  const exit = await p.stop(500);
  expect(exit.signal).toBe('SIGKILL');
  expect(p.output()).toContain('ignored');
});

test('waitUntil reports the output of a process that died before it was ready', async () => {
  const p = spawnProcess(process.execPath, ['-e', "console.error('boom'); process.exit(3)"], { name: 'dies' });
  const port = await freePort();
  await expect(p.waitUntil((signal) => waitForPort(port, '127.0.0.1', { timeoutMs: 10_000, signal }))).rejects.toThrow(/dies exited \(code 3.*boom/s);
});

test('nats-server starts, survives a kill/restart on the same port, and delivers messages', async () => {
  const nats = await startNatsServer();
  try {
    const nc = await connect({ servers: nats.url, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
    const got: string[] = [];
    nc.subscribe('t.>', { callback: (_err: Error | null, msg: Msg) => void got.push(msg.string()) });
    await nc.flush();
    await nats.kill();
    await nats.restart();
    await eventually(async () => {
      nc.publish('t.x', 'after');
      await nc.flush();
      return got.includes('after');
    }, { what: 'delivery after restart', intervalMs: 200 });
    await nc.close();
  } finally {
    await nats.stop();
  }
});
