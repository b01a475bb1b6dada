// Client frames wait here from the moment they are read until the end of the poll phase, and are
// then fanned out together, in the order they came. Pure: the scheduler is injected.
//
// Why wait: uWS corks the socket it is reading from while it hands us that read's messages ("We
// always cork on data", uWebSockets src/WebSocketContext.h), and the cork buffer is one per loop, so
// no other socket can cork meanwhile (AsyncSocket.h canCork). A topic publish is queued per
// subscriber and drained corked in uWS's loop hooks (App.h: addPreHandler/addPostHandler call
// TopicTree::drain; uSockets src/eventing/libuv.c runs them as libuv prepare/check callbacks), but a
// subscriber that reaches 32 queued messages is drained at once (TopicTree.h: "Any one subscriber can
// be part of at most 32 publishes before it needs a drain"), and during a read that drain cannot
// cork: one send() per frame. A client's read often carries more than 32 frames (up to 512 KiB,
// uSockets' LIBUS_RECV_BUFFER_LENGTH), so publishing them from the message handler cost one TCP
// send per delivered frame. Published from setImmediate instead (the check phase right after the
// poll phase that read them), no socket is corked, and uWS writes each subscriber's frames through
// its 16 KiB cork buffer: one send per 16 KiB or per 32 frames. What is left queued in uWS goes out
// in its next prepare or check hook, before the loop waits for I/O again: no timer, no added turn.
// (queueMicrotask would not do: Node runs microtasks when each callback into JavaScript returns, i.e.
// still inside uWS's read, with that socket corked.)

/** Queued bytes above which the queue is fanned out at once (uncoalesced, nothing dropped). */
export const FANOUT_QUEUE_MAX_BYTES = 1024 * 1024;

export class FanOutQueue<T> {
  private items: T[] = [];
  private bytes = 0;
  private scheduled = false;

  /**
   * @param deliver fans one item out; called in queue order
   * @param schedule runs its argument once, later in this loop turn (the server passes its turnEndScheduler)
   * @param maxBytes @default FANOUT_QUEUE_MAX_BYTES
   */
  constructor(
    private readonly deliver: (item: T) => void,
    private readonly schedule: (run: () => void) => void,
    private readonly maxBytes: number = FANOUT_QUEUE_MAX_BYTES,
  ) {}

  /** Bytes held now: at most maxBytes plus one frame. */
  get pendingBytes(): number {
    return this.bytes;
  }

  get pendingItems(): number {
    return this.items.length;
  }

  /** Queues `item` (`bytes` long); over the bound, everything queued goes out now, this item last. */
  push(item: T, bytes: number): void {
    this.items.push(item);
    this.bytes += bytes;
    if (this.bytes > this.maxBytes) {
      this.flush();
      return;
    }
    if (!this.scheduled) {
      this.scheduled = true;
      this.schedule(() => {
        this.scheduled = false;
        this.flush();
      });
    }
  }

  /** Fans out everything queued, in order. Items queued by `deliver` itself go out in this call too. */
  flush(): void {
    while (this.items.length > 0) {
      const batch = this.items;
      this.items = [];
      this.bytes = 0;
      for (const item of batch) this.deliver(item);
    }
  }
}

/**
 * One `setImmediate` a loop turn for everything that waits for the end of the poll phase (the NATS
 * batch, then the fan-out queue, in the order first scheduled): a turn that reads one frame, as at a
 * real call's rate, pays one check-phase hop, not one per waiting part. Runs scheduled while the batch
 * runs go to the next one.
 */
export function turnEndScheduler(immediate: (run: () => void) => void = setImmediate): (run: () => void) => void {
  let pending: Array<() => void> = [];
  const runAll = () => {
    const runs = pending;
    pending = [];
    for (const run of runs) run();
  };
  return (run) => {
    if (pending.push(run) === 1) immediate(runAll);
  };
}
