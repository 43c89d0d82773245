// Start-up (module loading, compiling policies) keeps most of what it allocates, and V8 answers by
// growing the young generation, which then stays committed for ~25 s of idling: ~12 MB of RSS with
// file policies. Optimizing for size while starting keeps it small; Checks run with V8's defaults.
import { setFlagsFromString } from 'node:v8';

/** Call before the service's modules load; `startedUp()` once it serves (or failed to start). */
export function startingUp(): void {
  setFlagsFromString('--optimize-for-size');
}

export function startedUp(): void {
  setFlagsFromString('--no-optimize-for-size');
}
