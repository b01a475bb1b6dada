// One entry of dist/servers.json: written by synth (topology), read by the client (rtt-client).
// Dependency-free so the browser bundle can import it.

export type Transport = 'websocket' | 'webtransport';

export interface ServerEntry {
  url: string;
  region: string;
  transport: Transport;
}
