// The process-wide services policies compile against, created once by the composition root. The
// method table (methods.ts) hands each method the ones it needs.
import type { JwtServices } from '../authn/jwt/services.js';
import type { SessionServices } from '../session/services.js';

export interface CompileEnv {
  readonly clock: () => number;
  /** Session stores and counters; without it only `storage: cookie|memory` sessions compile. */
  readonly sessions?: SessionServices | undefined;
  /**
   * JWKS caches, revocation list and verified-token cache; a process-local default when absent. The
   * revocation list also holds cookie-session logouts (a per-session-services memory list when absent).
   */
  readonly jwt?: JwtServices | undefined;
}
