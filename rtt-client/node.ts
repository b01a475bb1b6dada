// The election module for Node: the same API, with the `ws` package as WebSocket
// (Node 20 has no global WebSocket). Kept out of index.ts so browser bundles never pull in `ws`.
import WebSocket from 'ws';
import { ConnectionManager as CoreConnectionManager, type ConnectionManagerOptions } from './manager';
import type { WebSocketConstructor } from './websocket-transport';

export * from './index';

export class ConnectionManager extends CoreConnectionManager {
  constructor(options: ConnectionManagerOptions) {
    super({ ...options, webSocket: options.webSocket ?? (WebSocket as unknown as WebSocketConstructor) });
  }
}
