// Warnings that a client can cause once per request (a 503 under a flood, Redis down) are logged once
// per key and window: the first in full, the rest counted, and that count carried by the key's next
// line once the window has closed. Metrics still count every request; only the log is thinned.
import type { Fields } from './log.js';

/** How long after a logged line the same key is only counted. */
export const LOG_WINDOW_MS = 10_000;
/** Keys tracked at most; past it the key whose window opened first is forgotten (its count with it). */
export const LOG_MAX_KEYS = 1000;

export interface LogLimiterOptions {
  readonly windowMs?: number;
  readonly maxKeys?: number;
  /** Milliseconds, monotonic; default performance.now. */
  readonly clock?: () => number;
}

interface Window {
  readonly start: number;
  suppressed: number;
}

export class LogLimiter {
  readonly #windowMs: number;
  readonly #maxKeys: number;
  readonly #clock: () => number;
  /** In the order the windows opened: the first entry is the oldest. */
  readonly #windows = new Map<string, Window>();

  constructor(options: LogLimiterOptions = {}) {
    const windowMs = options.windowMs ?? LOG_WINDOW_MS;
    const maxKeys = options.maxKeys ?? LOG_MAX_KEYS;
    if (!(windowMs >= 0) || !Number.isFinite(windowMs)) throw new RangeError(`log window must be a finite number of milliseconds >= 0, not ${windowMs}`);
    if (!Number.isInteger(maxKeys) || maxKeys < 1) throw new RangeError(`log limiter keys must be a whole number >= 1, not ${maxKeys}`);
    this.#windowMs = windowMs;
    this.#maxKeys = maxKeys;
    this.#clock = options.clock ?? (() => performance.now());
  }

  /**
   * One occurrence of `key`: undefined when it falls in the key's open window (counted, not to be
   * logged); else a new window opens and the answer is how many were not logged in the last one.
   */
  admit(key: string): number | undefined {
    const now = this.#clock();
    const open = this.#windows.get(key);
    if (open !== undefined) {
      const elapsed = now - open.start;
      // A clock that went backwards closes the window rather than holding it open.
      if (elapsed >= 0 && elapsed < this.#windowMs) {
        open.suppressed++;
        return undefined;
      }
      this.#windows.delete(key);
    } else if (this.#windows.size >= this.#maxKeys) {
      const oldest = this.#windows.keys().next();
      if (oldest.done !== true) this.#windows.delete(oldest.value);
    }
    this.#windows.set(key, { start: now, suppressed: 0 });
    return open?.suppressed ?? 0;
  }

  /** Keys tracked now (at most maxKeys). */
  get size(): number {
    return this.#windows.size;
  }
}

export interface WarnLogger {
  warn(msg: string, fields?: Fields): void;
}

/**
 * A logger whose warnings go through `limiter`, keyed by `keyOf` (message and fields); a line after
 * suppressed ones carries `suppressed: <count>`.
 */
export function limitWarnings(logger: WarnLogger, limiter: LogLimiter, keyOf: (msg: string, fields: Fields | undefined) => string): WarnLogger {
  return {
    warn(msg, fields) {
      const suppressed = limiter.admit(keyOf(msg, fields));
      if (suppressed === undefined) return;
      logger.warn(msg, suppressed > 0 ? { ...fields, suppressed } : fields);
    },
  };
}
