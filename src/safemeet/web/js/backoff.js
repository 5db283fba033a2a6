/**
 * Waits between rounds of attempts to reach a node: exponential backoff with full jitter. The
 * n-th wait (n = 0, 1, ...) is uniform in [0, min(cap, base * 2^n)), so the pages of a node that
 * restarts spread over the whole window instead of all knocking at the same instant.
 * @module backoff
 */

/** The first wait after losing the node is at most this long, in ms. */
export const BACKOFF_BASE_MS = 250;
/** No wait is longer than this, however long the nodes stay down, in ms. */
export const BACKOFF_CAP_MS = 10000;

/** Full-jitter exponential backoff; `reset()` once a connection proved stable. */
export class Backoff {
  /**
   * @param {{baseMs?: number, capMs?: number, random?: () => number}} [options]
   *   `random` returns a number in [0, 1) (Math.random by default; tests pass their own)
   */
  constructor({ baseMs = BACKOFF_BASE_MS, capMs = BACKOFF_CAP_MS, random = Math.random } = {}) {
    if (!(baseMs > 0 && baseMs <= capMs)) throw new RangeError('backoff needs 0 < baseMs <= capMs');
    this.baseMs = baseMs;
    this.capMs = capMs;
    this.random = random;
    /** How many waits were handed out since the last reset. */
    this.rounds = 0;
  }

  /** @returns {number} the longest the next wait can be, in ms */
  ceiling() {
    return Math.min(this.capMs, this.baseMs * 2 ** Math.min(this.rounds, 60));
  }

  /** @returns {number} the next wait in ms; each call doubles the following ceiling (up to the cap) */
  next() {
    const delay = this.random() * this.ceiling();
    this.rounds += 1;
    return delay;
  }

  reset() {
    this.rounds = 0;
  }
}
