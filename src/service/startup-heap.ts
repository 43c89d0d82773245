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
import { setFlagsFromString } from 'node:v8';

/** How far the old generation may grow past what the last full collection kept, while serving. */
export const SERVING_HEAP_GROWTH_PERCENT = 30;

/** Call before the service's modules load; `startedUp()` once it serves (or failed to start). */
export function startingUp(): void {
  setFlagsFromString('--optimize-for-size');
}

export function startedUp(): void {
  setFlagsFromString('--no-optimize-for-size');
  // `node --heap-growing-percent=N dist/src/cli.js serve` chooses otherwise (0: V8's own heuristics).
  if (!process.execArgv.some((a) => /^--heap[-_]growing[-_]percent\b/.test(a))) {
    setFlagsFromString(`--heap-growing-percent=${SERVING_HEAP_GROWTH_PERCENT}`);
  }
}
