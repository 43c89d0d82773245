// Two full garbage collections after the first sync. Listing 100,000 Secrets leaves tens of megabytes
// of garbage (the JSON of every object, the converted forms the store did not keep) and a young
// generation grown to its maximum (32 MB) by the burst, which V8 would otherwise keep mapped until
// allocation pressure comes back, which an idle server never brings.
// - The first collection, once the sync's work has settled, frees that garbage.
// - V8 shrinks the young generation (and compacts the old) at a full collection that finds the
//   allocation rate since the one before low but not zero (it looks back ~5 s); right after the sync
//   it is not, so a second collection follows a quiet spell. Under load the rate is high and V8 keeps
//   its young generation, as it should. Measured on Node 20 at 10,000 AuthPolicies and 100,000
//   Secrets (bench/kubernetes.ts): young generation 32 to 1 MB, and ~10 MB of old-generation pages
//   given back.
// - The quiet spell need not last seconds: V8 takes the rate over its last ten collections, or back
//   ~5 s, whichever covers less. A dozen minor collections of an almost empty young generation, 100 ms
//   apart, show it a low rate, and the full collection after them gives the young generation back
//   about 1.3 s after the first (Node 20; 20 ms apart, the work a server still does after its first
//   load, such as a failed discovery, kept the rate above V8's threshold of ~1 MB/s). Node 26's V8 has a last-resort collection that shrinks it at
//   once. When neither has given it back (allocation went on meanwhile), the quiet spell of seconds
//   follows as before.
// - Never while the server is serving. A forced full collection stops the process for its whole
//   length: 62, 63 and 146 ms at 10,000 policies (`--trace-gc`, Node 20), taken while Checks came in at
//   10,000 a second in the first 20 s of serving. A serving process needs none (V8 collects as it
//   allocates and keeps the young generation it uses), so each forced collection waits for an event
//   loop that was busy under 5% of the time since the last look, and the attempts end after a minute
//   of load.
import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Logger } from '../telemetry/log.js';

/** Long enough for the informers to let go of their last list page and the first statuses to go out. */
const SETTLE_AFTER_MS = 1000;
/** Well past the window (5 s) over which V8 measures the allocation rate. */
const SHRINK_AFTER_MS = 8000;

type Collect = (options?: { readonly type: string; readonly flavor?: string }) => void;

let collect: Collect | null | undefined;

/**
 * V8's `gc()`, made reachable once. Without options it is a full collection; node 20's V8 reads any
 * options as a minor one, node 26's reads `type` and `flavor`.
 */
function collector(): Collect | null {
  if (collect !== undefined) return collect;
  try {
    setFlagsFromString('--expose-gc');
    const gc: unknown = runInNewContext('gc');
    collect = typeof gc === 'function' ? (options) => void Reflect.apply(gc, undefined, options === undefined ? [] : [options]) : null;
  } catch {
    collect = null;
  }
  return collect;
}

/**
 * Whether the process was busy serving since the last look; each look starts a new span. The
 * default watches the event loop's utilization.
 */
export type Busy = () => boolean;

/** Busy: the event loop ran this share of the time or more since the last look. */
const BUSY_UTILIZATION = 0.05;
/** While busy, the first collection is tried again this often... */
const BUSY_RETRY_MS = 1000;
/** ...this many times at most. */
const BUSY_TRIES = 60;

/** The event loop's utilization since the last look (node's `performance.eventLoopUtilization`). */
export function loopBusy(): Busy {
  let last: EventLoopUtilization = performance.eventLoopUtilization();
  return () => {
    const now = performance.eventLoopUtilization();
    const busy = performance.eventLoopUtilization(now, last).utilization >= BUSY_UTILIZATION;
    last = now;
    return busy;
  };
}

export interface SettleTimes {
  readonly settleAfterMs: number;
  readonly shrinkAfterMs: number;
  /** Gap between the minor collections of the early attempt; 0 leaves it out. */
  readonly quietGapMs?: number;
  /** While busy, the first collection is tried again after this long (default 1 s)... */
  readonly busyRetryMs?: number;
  /** ...this many times at most (default 60). */
  readonly busyTries?: number;
}

/** Minor collections in the early attempt: more than V8's record of the last ten. */
const QUIET_COLLECTIONS = 12;
const QUIET_GAP_MS = 100;

/**
 * Collects garbage once the sync's work has settled, and again after a quiet spell, each time only
 * while the server is not busy. Answers whether it can. The timers do not keep the process alive;
 * `done` (tests) hears each collection, and 'busy' when the server stayed busy and it gave up.
 */
export function settleMemory(
  done?: (collection: 'settle' | 'shrink' | 'busy') => void,
  times: SettleTimes = { settleAfterMs: SETTLE_AFTER_MS, shrinkAfterMs: SHRINK_AFTER_MS, quietGapMs: QUIET_GAP_MS },
  busy: Busy = loopBusy(),
): boolean {
  const gc = collector();
  if (gc === null) return false;
  // A collection's own pause is not the server's work: the next span starts after it.
  const quietly: Quietly = (options) => {
    if (busy()) return false;
    gc(options);
    busy();
    return true;
  };
  // V8's resizing is a heuristic: one quiet collection gave the young generation back on Node 20 but
  // only partly (30 to 11.5 MB) on Node 26 under the test runner; another quiet spell finishes it.
  const shrink = (attempt: number): void => {
    allocateALittle();
    const ran = quietly();
    if ((!ran || youngBytes() > SHRUNK_BYTES) && attempt < SHRINK_ATTEMPTS) setTimeout(() => shrink(attempt + 1), times.shrinkAfterMs).unref();
    else done?.(ran ? 'shrink' : 'busy');
  };
  const later = (): void => void setTimeout(() => shrink(1), times.shrinkAfterMs).unref();
  let tries = 0;
  const settle = (): void => {
    if (!quietly()) {
      if (++tries < (times.busyTries ?? BUSY_TRIES)) setTimeout(settle, times.busyRetryMs ?? BUSY_RETRY_MS).unref();
      else done?.('busy');
      return;
    }
    done?.('settle');
    const gap = times.quietGapMs ?? 0;
    if (gap > 0) shrinkSoon(gc, quietly, busy, gap, (shrunk) => (shrunk ? done?.('shrink') : later()));
    else later();
  };
  setTimeout(settle, times.settleAfterMs).unref();
  return true;
}

/**
 * settleMemory for a source after its first `load` ('load', 'sync'), saying in the log how it ended:
 * settled, with the RSS, or left to V8 because the server stayed busy.
 */
export function settleMemoryLogged(load: string, logger: Pick<Logger, 'info'>, times?: SettleTimes, busy?: Busy): boolean {
  const rssMb = (): number => Math.round(process.memoryUsage.rss() / 1048576);
  return settleMemory(
    (collection) => {
      if (collection === 'shrink') logger.info(`memory settled after the first ${load}`, { rssMb: rssMb() });
      else if (collection === 'busy') logger.info(`memory left to V8 after the first ${load}: the server stayed busy, no forced collection`, { rssMb: rssMb() });
    },
    times,
    busy,
  );
}

/** A collection unless the server was busy; whether it ran. */
type Quietly = (options?: Parameters<Collect>[0]) => boolean;

/**
 * The early attempt, right after the first collection: Node 26's last-resort collection, else minor
 * collections of little, then a full one if the server stayed quiet meanwhile (over the whole ~1.2 s,
 * so that a moment's work does not count; the minor collections' own time is in it, ~1% when idle).
 */
function shrinkSoon(now: Collect, quietly: Quietly, busy: Busy, gapMs: number, then: (shrunk: boolean) => void): void {
  // On node 20 this is a minor collection, which is harmless here.
  now({ type: 'major', flavor: 'last-resort' });
  if (youngBytes() <= SHRUNK_BYTES) return then(true);
  busy();
  let step = 0;
  const next = (): void => {
    if (step++ < QUIET_COLLECTIONS) {
      allocateALittle(100);
      now({ type: 'minor' });
      setTimeout(next, gapMs).unref();
      return;
    }
    allocateALittle(100);
    if (!quietly()) return then(false);
    then(youngBytes() <= SHRUNK_BYTES);
  };
  setTimeout(next, gapMs).unref();
}

/** A young generation at most this large counts as given back. */
const SHRUNK_BYTES = 2 * 1024 * 1024;
/** Quiet collections tried at most. */
const SHRINK_ATTEMPTS = 3;

function youngBytes(): number {
  return getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.space_size ?? 0;
}

/**
 * V8 reads an allocation rate of exactly zero as "unknown", not "low", and then keeps the young
 * generation: a quiet server may have allocated nothing at all since the first collection.
 */
function allocateALittle(objects = 1000): void {
  const some: Array<{ readonly i: number }> = [];
  for (let i = 0; i < objects; i++) some.push({ i });
  sink = some.length;
}

let sink = 0;
