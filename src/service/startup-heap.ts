// V8's heap settings for the two phases of a gatehouse process.
// - Start-up (module loading, compiling policies) keeps most of what it allocates, and V8 answers by
//   growing the young generation, which then stays committed for ~25 s of idling: ~12 MB of RSS with
//   file policies. Optimizing for size while starting keeps it small.
// - Serving: under load grpc-js and HTTP/2 leave objects that outlive two scavenges and die in the old
//   generation, and V8 lets that generation grow up to 4 times what its last full collection kept
//   before collecting again, on a machine with memory to spare: at 10,000 policies (~86 MB live) the
//   RSS after load was ~350 MB. A sidecar is paid for in every pod, so while serving the old generation
//   may grow by 30% (plus V8's minimum step) before a full collection; the RSS after the same load was
//   ~225 MB, for more frequent full collections (bench/README.md has the figures).
// - Serving after idling: V8 pretenures an allocation site (allocates its objects straight in the old
//   generation) once most of what it allocates survives a scavenge. A server that idled (its young
//   generation shrunk, see sources/settle-memory.ts) and then takes load sees grpc-js's per-stream
//   objects survive and pretenures them; from then on they die in the old generation, and every
//   scavenge walks the old-to-new pointers they leave. Measured after 15 s of idling (Node 20),
//   scavenges took 12-26 µs per Check instead of 6-9 µs, and a Check 71-147 µs of CPU instead of
//   54-97 (Node 26: scavenges 11 against 5-6 µs). So while serving, V8 does not pretenure; the young
//   generation grows back instead (RSS after load ~8 MB higher at 1 policy, ~23 MB at 10,000).
import { setFlagsFromString } from 'node:v8';

/** How far the old generation may grow past what the last full collection kept, while serving. */
export const SERVING_HEAP_GROWTH_PERCENT = 30;

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
  unlessGiven('heap-growing-percent', `--heap-growing-percent=${SERVING_HEAP_GROWTH_PERCENT}`);
  // `node --allocation-site-pretenuring dist/src/cli.js serve` keeps V8's default.
  unlessGiven('allocation-site-pretenuring', '--no-allocation-site-pretenuring');
}

/**
 * Sets a V8 flag unless node's command line gives the same flag (`--name`, `--no-name`, `--name=...`,
 * with `-` or `_`): what an operator chose wins.
 */
function unlessGiven(name: string, flag: string): void {
  const spelled = new RegExp(`^--(no[-_])?${name.replaceAll('-', '[-_]')}(=|$)`);
  if (!process.execArgv.some((a) => spelled.test(a))) setFlagsFromString(flag);
}
