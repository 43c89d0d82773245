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
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** Long enough for the informers to let go of their last list page and the first statuses to go out. */
const SETTLE_AFTER_MS = 1000;
/** Well past the window (5 s) over which V8 measures the allocation rate. */
const SHRINK_AFTER_MS = 8000;

let collect: (() => void) | null | undefined;

/** V8's full collection (`gc()` without options; with any, node 20's V8 runs a minor one), made reachable once. */
function collector(): (() => void) | null {
  if (collect !== undefined) return collect;
  try {
    setFlagsFromString('--expose-gc');
    const gc: unknown = runInNewContext('gc');
    collect = typeof gc === 'function' ? () => void Reflect.apply(gc, undefined, []) : null;
  } catch {
    collect = null;
  }
  return collect;
}

export interface SettleTimes {
  readonly settleAfterMs: number;
  readonly shrinkAfterMs: number;
}

/**
 * Collects garbage once the sync's work has settled, and again after a quiet spell. Answers whether it
 * can. The timers do not keep the process alive; `done` (tests) hears each collection.
 */
export function settleMemory(done?: (collection: 'settle' | 'shrink') => void, times: SettleTimes = { settleAfterMs: SETTLE_AFTER_MS, shrinkAfterMs: SHRINK_AFTER_MS }): boolean {
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
  setTimeout(() => {
    gc();
    done?.('settle');
    setTimeout(() => shrink(1), times.shrinkAfterMs).unref();
  }, times.settleAfterMs).unref();
  return true;
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
function allocateALittle(): void {
  const some: Array<{ readonly i: number }> = [];
  for (let i = 0; i < 1000; i++) some.push({ i });
  sink = some.length;
}

let sink = 0;
