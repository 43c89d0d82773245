// Warnings that a client can cause once per request (a 503 under a flood, Redis down) are logged once
// per key and window: the first in full, the rest counted, and that count carried by the key's next
// line once the window has closed; a window that closes without a next line is reported by sweep().
// Metrics still count every request; only the log is thinned.
import type { Fields } from './log.js';

/** How long after a logged line the same key is only counted. */
export const LOG_WINDOW_MS = 10_000;
/** Keys tracked at most; past it the key whose window opened first is forgotten (its count with it). */
export const LOG_MAX_KEYS = 1000;
/** The longest delay a Node timer takes. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface LogLimiterOptions {
  readonly windowMs?: number;
  readonly maxKeys?: number;
  /** Milliseconds, monotonic; default performance.now. */
  readonly clock?: () => number;
  /** How often reportSuppressed() sweeps, in real milliseconds; default the window, at least 1 s. */
  readonly sweepEveryMs?: number;
}

interface Window {
  readonly start: number;
  suppressed: number;
  readonly summary: Summary | undefined;
}

/** What a window's lines were, without what differs per request: logged with the count by sweep(). */
export interface Summary {
  readonly msg: string;
  readonly fields: Fields;
}

export class LogLimiter {
  readonly #windowMs: number;
  readonly #maxKeys: number;
  readonly #clock: () => number;
  readonly #sweepEveryMs: number;
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
    const sweepEveryMs = options.sweepEveryMs ?? Math.min(MAX_TIMER_MS, Math.max(1000, Math.ceil(windowMs)));
    if (!Number.isInteger(sweepEveryMs) || sweepEveryMs < 1 || sweepEveryMs > MAX_TIMER_MS) throw new RangeError(`log sweep interval must be a whole number of milliseconds from 1 to ${MAX_TIMER_MS}, not ${sweepEveryMs}`);
    this.#sweepEveryMs = sweepEveryMs;
  }

  /**
   * One occurrence of `key`: undefined when it falls in the key's open window (counted, not to be
   * logged); else a new window opens and the answer is how many were not logged in the last one.
   * `summary` (asked only when a window opens) is what sweep() reports the window as.
   */
  admit(key: string, summary?: () => Summary): number | undefined {
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
    this.#windows.set(key, { start: now, suppressed: 0, summary: summary?.() });
    return open?.suppressed ?? 0;
  }

  /**
   * Forgets the windows that have closed; those with a summary and occurrences not logged are
   * returned with their count, so that a flood that stopped is still reported once.
   */
  sweep(): { readonly summary: Summary; readonly suppressed: number }[] {
    const now = this.#clock();
    const out: { readonly summary: Summary; readonly suppressed: number }[] = [];
    for (const [key, w] of this.#windows) {
      const elapsed = now - w.start;
      if (elapsed >= 0 && elapsed < this.#windowMs) continue;
      this.#windows.delete(key);
      if (w.summary !== undefined && w.suppressed > 0) out.push({ summary: w.summary, suppressed: w.suppressed });
    }
    return out;
  }

  /** How often reportSuppressed() sweeps, in milliseconds. */
  get sweepEveryMs(): number {
    return this.#sweepEveryMs;
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
export function limitWarnings(
  logger: WarnLogger,
  limiter: LogLimiter,
  keyOf: (msg: string, fields: Fields | undefined) => string,
  summaryOf?: (msg: string, fields: Fields | undefined) => Summary,
): WarnLogger {
  return {
    warn(msg, fields) {
      const suppressed = limiter.admit(keyOf(msg, fields), summaryOf === undefined ? undefined : () => summaryOf(msg, fields));
      if (suppressed === undefined) return;
      logger.warn(msg, suppressed > 0 ? { ...fields, suppressed } : fields);
    },
  };
}

/**
 * Logs, every window, the windows that closed with occurrences not logged (`suppressed: <count>`),
 * until the returned function is called.
 */
export function reportSuppressed(logger: WarnLogger, limiter: LogLimiter): () => void {
  const timer = setInterval(() => {
    for (const { summary, suppressed } of limiter.sweep()) logger.warn(summary.msg, { ...summary.fields, suppressed });
  }, limiter.sweepEveryMs);
  timer.unref();
  return () => clearInterval(timer);
}
