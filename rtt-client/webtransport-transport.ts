// WebTransport transport (browsers): one protocol frame per unidirectional stream, read to its end,
// in both directions; RTT probes go as datagrams when they fit (a late probe is worth nothing, so it
// need not be retransmitted), and every inbound datagram is one frame too.
import { redactText, type Transport, type TransportHandlers } from './transport';

/** The part of the browser's WebTransport API we use (a fake implements it in the unit tests). */
export interface WebTransportLike {
  readonly ready: Promise<unknown>;
  readonly closed: Promise<{ closeCode?: number; reason?: string }>;
  readonly datagrams: {
    readonly readable: ReadableStream<Uint8Array>;
    readonly writable: WritableStream<Uint8Array>;
    readonly maxDatagramSize?: number;
  };
  readonly incomingUnidirectionalStreams: ReadableStream<ReadableStream<Uint8Array>>;
  createUnidirectionalStream(): Promise<WritableStream<Uint8Array>>;
  close(info?: { closeCode?: number; reason?: string }): void;
}

export type WebTransportConstructor = new (url: string) => WebTransportLike;

/** Reported when WebTransport ends without a close code (failed to connect, or aborted). */
export const WEBTRANSPORT_ABORTED = 0;

export function globalWebTransport(): WebTransportConstructor | undefined {
  return (globalThis as { WebTransport?: WebTransportConstructor }).WebTransport;
}

export class WebTransportTransport implements Transport {
  private readonly wt: WebTransportLike;
  private open = false;
  private done = false;
  private readonly datagramWriter: WritableStreamDefaultWriter<Uint8Array>;

  constructor(url: string, private readonly handlers: TransportHandlers, Ctor: WebTransportConstructor | undefined = globalWebTransport()) {
    if (Ctor === undefined) throw new Error('WebTransport is not available in this environment');
    this.wt = new Ctor(url);
    this.datagramWriter = this.wt.datagrams.writable.getWriter();
    // a rejected write after close must not surface as an unhandled rejection
    this.datagramWriter.closed.catch(() => undefined);
    this.wt.ready.then(
      () => {
        if (this.done) return;
        this.open = true;
        handlers.onOpen();
        void this.readDatagrams();
        void this.readStreams();
      },
      () => undefined, // `closed` rejects as well and reports it
    );
    this.wt.closed.then(
      (info) => this.finish(info?.closeCode ?? WEBTRANSPORT_ABORTED, info?.reason ?? ''),
      (err: unknown) => this.finish(WEBTRANSPORT_ABORTED, '', redactText(err instanceof Error ? err.message : String(err))),
    );
  }

  send(frame: Uint8Array): void {
    if (!this.open || this.done) return;
    this.wt.createUnidirectionalStream().then(
      async (stream) => {
        const writer = stream.getWriter();
        await writer.write(frame);
        await writer.close();
      },
    ).catch((err: unknown) => this.fail(err));
  }

  sendProbe(frame: Uint8Array): void {
    if (!this.open || this.done) return;
    const max = this.wt.datagrams.maxDatagramSize;
    if (max !== undefined && frame.byteLength > max) {
      this.send(frame);
      return;
    }
    // a dropped datagram is a lost probe, which the manager counts; nothing to do here
    this.datagramWriter.write(frame).catch(() => undefined);
  }

  close(code?: number, reason?: string): void {
    if (this.done) return;
    this.done = true;
    try {
      this.wt.close({ closeCode: code, reason });
    } catch {
      // already closed
    }
  }

  private async readDatagrams(): Promise<void> {
    const reader = this.wt.datagrams.readable.getReader();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done || this.done) return;
        this.handlers.onMessage(value);
      }
    } catch {
      // the session ended; `closed` reports why
    }
  }

  private async readStreams(): Promise<void> {
    const reader = this.wt.incomingUnidirectionalStreams.getReader();
    try {
      for (;;) {
        const { value: stream, done } = await reader.read();
        if (done || this.done) return;
        void this.readFrame(stream);
      }
    } catch {
      // the session ended; `closed` reports why
    }
  }

  private async readFrame(stream: ReadableStream<Uint8Array>): Promise<void> {
    const reader = stream.getReader();
    const parts: Uint8Array[] = [];
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        parts.push(value);
      }
    } catch {
      return; // a reset stream carries no complete frame
    }
    if (this.done) return;
    const frame = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
    let off = 0;
    for (const p of parts) {
      frame.set(p, off);
      off += p.byteLength;
    }
    this.handlers.onMessage(frame);
  }

  private fail(err: unknown): void {
    if (this.done) return;
    const message = redactText(err instanceof Error ? err.message : String(err));
    this.close();
    this.handlers.onClose({ code: WEBTRANSPORT_ABORTED, reason: '', error: message });
  }

  private finish(code: number, reason: string, error?: string): void {
    if (this.done) return;
    this.done = true;
    this.handlers.onClose({ code, reason, ...(error !== undefined ? { error } : {}) });
  }
}
