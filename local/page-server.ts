// Serves the live page of `npm run local` on loopback: the page, its bundle, servers.json, and
// a small API to see pods and gateway links and to cause faults (the same verbs as local/faults.ts).
import { readFileSync } from 'node:fs';
import { IncomingMessage, Server, ServerResponse, createServer } from 'node:http';
import { join } from 'node:path';
import { build } from 'esbuild';
import { LocalDeployment } from './deployment';
import { runFault } from './faults';

export async function bundlePage(): Promise<string> {
  const result = await build({
    entryPoints: [join(__dirname, 'page', 'app.ts')],
    bundle: true,
    write: false,
    platform: 'browser',
    format: 'iife',
    target: 'es2022',
    logLevel: 'silent',
  });
  return result.outputFiles[0].text;
}

export interface PageServer {
  readonly url: string;
  close(): Promise<void>;
}

export async function startPageServer(deployment: LocalDeployment, port = 0): Promise<PageServer> {
  const html = readFileSync(join(__dirname, 'page', 'index.html'), 'utf8');
  const script = await bundlePage();
  const send = (res: ServerResponse, status: number, type: string, body: string) => {
    res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
    res.end(body);
  };
  const relayState = () =>
    deployment.relays.map((r) => ({ id: r.id, region: r.region, url: r.url, running: r.running, clientRttMs: r.clientRttMs, pid: r.pid ?? null }));

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (req.method === 'GET' && url.pathname === '/') return send(res, 200, 'text/html; charset=utf-8', html);
    if (req.method === 'GET' && url.pathname === '/app.js') return send(res, 200, 'text/javascript; charset=utf-8', script);
    if (req.method === 'GET' && url.pathname === '/servers.json') {
      return send(res, 200, 'application/json', JSON.stringify({ servers: deployment.servers() }));
    }
    if (req.method === 'GET' && url.pathname === '/api/relays') return send(res, 200, 'application/json', JSON.stringify(relayState()));
    if (req.method === 'GET' && url.pathname === '/api/pids') return send(res, 200, 'application/json', JSON.stringify(deployment.pids()));
    if (req.method === 'GET' && url.pathname === '/api/cluster') {
      const cluster = deployment.superCluster;
      return send(res, 200, 'application/json', JSON.stringify({
        regions: cluster.topology.regions.map((r) => ({ name: r.name, pods: cluster.regionPods(r.name) })),
        links: await cluster.gatewayLinks(),
        partitions: cluster.partitions(),
      }));
    }
    const action = /^\/api\/relays\/([^/]+)\/(stop|start|kill)$/.exec(url.pathname);
    if (req.method === 'POST' && action) {
      const relay = deployment.relays.find((r) => r.id === decodeURIComponent(action[1]));
      if (!relay) return send(res, 404, 'application/json', JSON.stringify({ error: `no relay ${action[1]}` }));
      await (action[2] === 'stop' ? relay.stop() : action[2] === 'kill' ? relay.kill() : relay.start());
      return send(res, 200, 'application/json', JSON.stringify(relayState()));
    }
    if (req.method === 'POST' && url.pathname === '/api/fault') {
      const words = (url.searchParams.get('do') ?? '').split(/\s+/).filter(Boolean);
      try {
        return send(res, 200, 'application/json', JSON.stringify({ done: await runFault(deployment, words) }));
      } catch (e) {
        return send(res, 400, 'application/json', JSON.stringify({ error: (e as Error).message }));
      }
    }
    return send(res, 404, 'text/plain', 'not found');
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((e) => send(res, 500, 'text/plain', String((e as Error).message)));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const address = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${address.port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
