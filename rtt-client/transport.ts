// What the election core needs from a connection, whatever carries it.

/** One entry of dist/servers.json: the type synth writes (topology/server-entry.ts). */
import type { ServerEntry, Transport as TransportKind } from '../topology/server-entry';

export type { ServerEntry, TransportKind };

export interface TransportClose {
  /** WebSocket close code (1001: the relay is draining; 1006: dropped) or WebTransport closeCode */
  code: number;
  reason: string;
  /** set when the connection ended because of an error */
  error?: string;
}

export interface TransportHandlers {
  onOpen(): void;
  /** one inbound binary frame (text frames are not frames of the protocol and are dropped) */
  onMessage(frame: Uint8Array): void;
  /** called once, whether the connection closed, failed to open or errored */
  onClose(info: TransportClose): void;
}

export interface Transport {
  /** a protocol frame on the reliable path; dropped when the connection is not open */
  send(frame: Uint8Array): void;
  /** an RTT probe: on the unreliable path (datagrams) when the transport has one and it fits */
  sendProbe(frame: Uint8Array): void;
  /** closes without calling onClose */
  close(code?: number, reason?: string): void;
}

/** Opens `url` (the server's URL with the manager's path) and reports through `handlers`. */
export type TransportFactory = (server: ServerEntry, url: string, handlers: TransportHandlers) => Transport;

/** Normal closure, for candidates we let go. */
export const CLOSE_NORMAL = 1000;
/** "Going away": what a draining relay sends. */
export const CLOSE_GOING_AWAY = 1001;
/** No close frame: the connection dropped. */
export const CLOSE_ABNORMAL = 1006;

/** The URL without credentials, query string or fragment: what may appear in diagnostics. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return url.replace(/[?#].*$/s, '').replace(/\/\/[^/@]*@/, '//');
  }
}

/** A message with any query string it quotes removed (errors may quote the URL they failed on). */
export function redactText(text: string): string {
  return text.replace(/\?[^\s"'`]*/g, '');
}
