// WebSocket transport: the browser's WebSocket, or in Node the `ws` package handed in by rtt-client/node.ts
// (so `ws` never lands in the browser bundle). Both offer the same event-handler API.
import { CLOSE_ABNORMAL, redactText, type Transport, type TransportHandlers } from './transport';

/** The part of the WebSocket API we use; `ws` and the browser's WebSocket both have it. */
export interface WebSocketLike {
  binaryType: string;
  readonly readyState: number;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: { message?: string; error?: unknown }) => void) | null;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
}

export type WebSocketConstructor = new (url: string) => WebSocketLike;

const OPEN = 1;

/** The environment's WebSocket, if it has one (browsers, Node >= 22). */
export function globalWebSocket(): WebSocketConstructor | undefined {
  return (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
}

export class WebSocketTransport implements Transport {
  private readonly ws: WebSocketLike;
  private done = false;
  private lastError: string | undefined;

  constructor(url: string, private readonly handlers: TransportHandlers, Ctor: WebSocketConstructor | undefined = globalWebSocket()) {
    if (Ctor === undefined) {
      throw new Error('no WebSocket implementation: in Node 20 import rtt-client/node (which uses the `ws` package) or pass `webSocket`');
    }
    this.ws = new Ctor(url);
    this.ws.binaryType = 'arraybuffer';
    this.ws.onopen = () => {
      if (!this.done) handlers.onOpen();
    };
    this.ws.onmessage = (event) => {
      if (this.done) return;
      const frame = toBytes(event.data);
      if (frame !== undefined) handlers.onMessage(frame);
    };
    this.ws.onerror = (event) => {
      const detail = event.message ?? (event.error instanceof Error ? event.error.message : undefined);
      this.lastError = redactText(detail ?? 'WebSocket error');
    };
    this.ws.onclose = (event) => this.finish(event.code, event.reason);
  }

  send(frame: Uint8Array): void {
    if (!this.done && this.ws.readyState === OPEN) this.ws.send(frame);
  }

  sendProbe(frame: Uint8Array): void {
    this.send(frame);
  }

  close(code?: number, reason?: string): void {
    if (this.done) return;
    this.done = true;
    try {
      this.ws.close(code, reason);
    } catch {
      // already closing or a code the implementation refuses: the socket is going away either way
    }
  }

  private finish(code: number | undefined, reason: string | undefined): void {
    if (this.done) return;
    this.done = true;
    this.handlers.onClose({ code: code ?? CLOSE_ABNORMAL, reason: reason ?? '', ...(this.lastError !== undefined ? { error: this.lastError } : {}) });
  }
}

/** Binary frames as bytes; text frames are not protocol frames (undefined). */
function toBytes(data: unknown): Uint8Array | undefined {
  // by tag, not instanceof: an ArrayBuffer from another realm (ws in a jest VM, an iframe) fails instanceof
  if (Object.prototype.toString.call(data) === '[object ArrayBuffer]') return new Uint8Array(data as ArrayBuffer);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return undefined;
}
