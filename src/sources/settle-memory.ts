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
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

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

export interface SettleTimes {
  readonly settleAfterMs: number;
  readonly shrinkAfterMs: number;
  /** Gap between the minor collections of the early attempt; 0 leaves it out. */
  readonly quietGapMs?: number;
}

/** Minor collections in the early attempt: more than V8's record of the last ten. */
const QUIET_COLLECTIONS = 12;
const QUIET_GAP_MS = 100;

/**
 * Collects garbage once the sync's work has settled, and again after a quiet spell. Answers whether it
 * can. The timers do not keep the process alive; `done` (tests) hears each collection.
 */
export function settleMemory(
  done?: (collection: 'settle' | 'shrink') => void,
  times: SettleTimes = { settleAfterMs: SETTLE_AFTER_MS, shrinkAfterMs: SHRINK_AFTER_MS, quietGapMs: QUIET_GAP_MS },
): boolean {
  const gc = collector();
  if (gc === null) return false;
  // V8's resizing is a heuristic: one quiet collection gave the young generation back on Node 20 but
  // only partly (30 to 11.5 MB) on Node 26 under the test runner; another quiet spell finishes it.
  const shrink = (attempt: number): void => {
    allocateALittle();
    gc();
    if (youngBytes() > SHRUNK_BYTES && attempt < SHRINK_ATTEMPTS) setTimeout(() => shrink(attempt + 1), times.shrinkAfterMs).unref();
    else done?.('shrink');
  };
  const later = (): void => void setTimeout(() => shrink(1), times.shrinkAfterMs).unref();
  setTimeout(() => {
    gc();
    done?.('settle');
    const gap = times.quietGapMs ?? 0;
    if (gap > 0) shrinkSoon(gc, gap, (shrunk) => (shrunk ? done?.('shrink') : later()));
    else later();
  }, times.settleAfterMs).unref();
  return true;
}

/** The early attempt: Node 26's last-resort collection, else minor collections of little, then a full one. */
function shrinkSoon(gc: Collect, gapMs: number, then: (shrunk: boolean) => void): void {
  // On node 20 this is a minor collection, which is harmless here.
  gc({ type: 'major', flavor: 'last-resort' });
  if (youngBytes() <= SHRUNK_BYTES) return then(true);
  let step = 0;
  const next = (): void => {
    if (step++ < QUIET_COLLECTIONS) {
      allocateALittle(100);
      gc({ type: 'minor' });
      setTimeout(next, gapMs).unref();
      return;
    }
    allocateALittle(100);
    gc();
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
