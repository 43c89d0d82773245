// One full garbage collection after the first sync. Listing 100,000 Secrets leaves tens of megabytes of
// garbage (the JSON of every object, the converted forms the store did not keep) that V8 would otherwise
// keep mapped until allocation pressure comes back, which an idle server never brings. Collecting it
// once, right after the sync, lets V8 return those pages to the system.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** Long enough for the informers to let go of their last list page and the first statuses to go out. */
const SETTLE_AFTER_MS = 1000;

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

/** Collects garbage once the sync's work has settled; answers whether it can. */
export function settleMemory(): boolean {
  const gc = collector();
  if (gc === null) return false;
  setTimeout(gc, SETTLE_AFTER_MS).unref();
  return true;
}
