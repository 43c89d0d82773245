// V8's heap settings for the two phases of a gatehouse process.
// - Start-up (module loading, compiling policies) keeps most of what it allocates, and V8 answers by
//   growing the young generation, which then stays committed for ~25 s of idling: ~12 MB of RSS with
//   file policies. Optimizing for size while starting keeps it small.
// - Serving: under load grpc-js and HTTP/2 leave objects that outlive two scavenges and die in the old
//   generation, and V8 lets that generation grow up to 4 times what its last full collection kept
//   before collecting again, on a machine with memory to spare: at 10,000 policies (~86 MB live) the
//   RSS after load was ~350 MB. A sidecar is paid for in every pod, so while serving the old generation
//   may grow by 30% of what the last full collection kept (~225 MB after the same load), but by no less
//   than 32 MB: with 30% of a small heap (~16 MB live with the example API-key policy) the next
//   collection was always due, incremental marking ran all the time, and it made every scavenge dearer
//   too. Measured in one process at 64 in flight, switching the setting between windows (Node 20,
//   medians of four runs): 4-28 full collections in 1.5 s and 56-69 µs of CPU per Check with 30%,
//   5-12 and 54-60 µs with 100% (16 MB), 0-2 and 44-49 µs with 150-200%, 0-4 and 42-51 µs with V8's
//   own heuristics (bench/README.md, "Heap growth that follows the live heap").
// - Serving after idling: V8 pretenures an allocation site (allocates its objects straight in the old
//   generation) once most of what it allocates survives a scavenge. A server that idled (its young
//   generation shrunk, see sources/settle-memory.ts) and then takes load sees grpc-js's per-stream
//   objects survive and pretenures them; from then on they die in the old generation, and every
//   scavenge walks the old-to-new pointers they leave. Measured after 15 s of idling (Node 20),
//   scavenges took 12-26 µs per Check instead of 6-9 µs, and a Check 71-147 µs of CPU instead of
//   54-97 (Node 26: scavenges 11 against 5-6 µs). So while serving, V8 does not pretenure; the young
//   generation grows back instead (RSS after load ~8 MB higher at 1 policy, ~23 MB at 10,000).
import { constants, PerformanceObserver } from 'node:perf_hooks';
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';

/** How far the old generation may grow past what the last full collection kept, while serving... */
export const SERVING_HEAP_GROWTH_PERCENT = 30;
/** ...but by no less than this. */
export const SERVING_HEAP_HEADROOM_BYTES = 32 * 1024 * 1024;
/** The most it is let grow by, for an (all but) empty heap: V8's minimum step covers the rest. */
const MAX_GROWTH_PERCENT = 800;
/** The setting moves in steps, not with every kilobyte the live heap gains or loses. */
const GROWTH_STEP_PERCENT = 10;

/**
 * V8's `--heap-growing-percent` for an old generation that holds `liveBytes` after a full collection:
 * 30%, or enough for 32 MB of headroom, whichever is more, in steps of 10%.
 */
export function servingGrowthPercent(liveBytes: number): number {
  if (!(liveBytes > 0)) return MAX_GROWTH_PERCENT;
  const wanted = Math.max(SERVING_HEAP_GROWTH_PERCENT, (100 * SERVING_HEAP_HEADROOM_BYTES) / liveBytes);
  return Math.min(MAX_GROWTH_PERCENT, Math.ceil(wanted / GROWTH_STEP_PERCENT) * GROWTH_STEP_PERCENT);
}

/** Call before the service's modules load; `startedUp()` once it serves (or failed to start). */
export function startingUp(): void {
  setFlagsFromString('--optimize-for-size');
}

/**
 * node's flags for `gatehouse serve`, as the image's entrypoint and `npm start` give them: two of V8's
 * JIT tiers off, Sparkplug and Maglev, between the interpreter and TurboFan, set before node runs any
 * JavaScript; and one V8 worker thread instead of four (a sidecar gets a core or less). TurboFan still
 * optimizes what is hot. Node 26 idles with the example policies at 78-79 MB with them, 84-85 MB with
 * Maglev turned off from the code alone (node's loader has warmed the compilers' pages of the binary
 * by then), 88-92 MB with neither (bench/README.md, "Idle memory on Node 26").
 */
export const SERVING_NODE_FLAGS: readonly string[] = Object.freeze(['--no-maglev', '--no-sparkplug', '--v8-pool-size=1']);

/**
 * Before anything else of a serving process runs (src/commands/jit-tiers.ts, cli.ts's first import): Maglev
 * off, V8's tier between Sparkplug and TurboFan (node 20's V8 has it off, later ones on), for
 * `node dist/src/cli.js serve` run without SERVING_NODE_FLAGS. TurboFan still optimizes what is hot;
 * under load neither CPU per Check nor RSS after it was worse. Sparkplug is left to the command line:
 * node 26 goes on compiling with it when told otherwise once running.
 */
export function servingJitTiers(): void {
  unlessGiven('maglev', '--no-maglev');
}

export function startedUp(): void {
  setFlagsFromString('--no-optimize-for-size');
  // `node --heap-growing-percent=N dist/src/cli.js serve` chooses otherwise (0: V8's own heuristics).
  if (!given('heap-growing-percent')) followLiveHeap();
  // `node --allocation-site-pretenuring dist/src/cli.js serve` keeps V8's default.
  unlessGiven('allocation-site-pretenuring', '--no-allocation-site-pretenuring');
}

/**
 * Sets a V8 flag unless node's command line gives the same flag (`--name`, `--no-name`, `--name=...`,
 * with `-` or `_`): what an operator chose wins.
 */
function unlessGiven(name: string, flag: string): void {
  if (!given(name)) setFlagsFromString(flag);
}

function given(name: string): boolean {
  const spelled = new RegExp(`^--(no[-_])?${name.replaceAll('-', '[-_]')}(=|$)`);
  return process.execArgv.some((a) => spelled.test(a));
}

/** Bytes the old generation holds (every space but the young generation's and the read-only one). */
export function oldGenerationBytes(): number {
  let bytes = 0;
  for (const space of getHeapSpaceStatistics()) {
    if (space.space_name !== 'new_space' && space.space_name !== 'new_large_object_space' && space.space_name !== 'read_only_space') bytes += space.space_used_size;
  }
  return bytes;
}

let following: PerformanceObserver | undefined;
let growthPercent = 0;

/**
 * Sets the growth for what the old generation holds now, and again after every full collection (the
 * limit V8 sets at the end of one collection uses the setting from the one before: a step behind, which
 * a live heap that changes slowly does not notice). The observer does not keep the process alive.
 */
function followLiveHeap(): void {
  const follow = (): void => {
    const percent = servingGrowthPercent(oldGenerationBytes());
    if (percent === growthPercent) return;
    growthPercent = percent;
    setFlagsFromString(`--heap-growing-percent=${percent}`);
  };
  follow();
  if (following !== undefined) return;
  following = new PerformanceObserver((list) => {
    if (list.getEntries().some((e) => gcKind('detail' in e ? e.detail : undefined) === constants.NODE_PERFORMANCE_GC_MAJOR)) follow();
  });
  following.observe({ entryTypes: ['gc'] });
}

function gcKind(detail: unknown): unknown {
  return typeof detail === 'object' && detail !== null && 'kind' in detail ? detail.kind : undefined;
}
