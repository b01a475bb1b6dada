// How long to wait before the next election after failed ones (and between standby searches).

export class ReconnectPolicy {
  /**
   * @param baseMs the first delay's upper end
   * @param maxMs the cap of the doubling
   * @param random in [0, 1), for the jitter
   */
  constructor(private readonly baseMs: number, private readonly maxMs: number, private readonly random: () => number) {}

  /**
   * Full jitter on the lower half: [d/2, d) with d = base × 2^(attempt−1), capped at maxMs. The lower
   * half keeps retries spread out (many clients lose the same relay at once) without ever retrying at once.
   */
  nextDelay(attempt: number): number {
    if (!Number.isInteger(attempt) || attempt < 1) throw new RangeError(`attempt must be an integer >= 1, got ${attempt}`);
    const d = Math.min(this.maxMs, this.baseMs * 2 ** Math.min(attempt - 1, 30));
    return d / 2 + (d / 2) * this.random();
  }
}
