// The election module for Node: the same API, with the `ws` package as WebSocket on every Node
// version (Node 22+ also has a global WebSocket that index.ts would use; older Node has none).
// Kept out of index.ts so browser bundles never pull in `ws`.
import WebSocket from 'ws';
import { ConnectionManager as CoreConnectionManager, type ConnectionManagerOptions } from './manager';
import type { WebSocketConstructor } from './websocket-transport';

export * from './index';

export class ConnectionManager extends CoreConnectionManager {
  constructor(options: ConnectionManagerOptions) {
    super({ ...options, webSocket: options.webSocket ?? (WebSocket as unknown as WebSocketConstructor) });
  }
}
