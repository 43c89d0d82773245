// One full garbage collection after the first sync. Listing 100,000 Secrets leaves tens of megabytes of
// garbage (the JSON of every object, the converted forms the store did not keep) that V8 would otherwise
// keep mapped until allocation pressure comes back, which an idle server never brings. Collecting it
// once, right after the sync, lets V8 return those pages to the system.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

let collect: (() => void) | null | undefined;

/** V8's full collection, made reachable once (a context created after --expose-gc has `gc`). */
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

/** Collects garbage on the next turn (after the work the caller is finishing); answers whether it can. */
export function settleMemory(): boolean {
  const gc = collector();
  if (gc === null) return false;
  setImmediate(gc).unref();
  return true;
}
