// Cookie-stored sessions have no server record to delete, so a logout is remembered instead: the
// session's id goes into the process's revocation list (Redis when configured: every replica, across
// restarts) under the policy's own scope, until the session would have expired anyway. A full
// in-memory list holds a wider watermark rather than forget (see MemoryRevocationList).
import type { RevocationHeld, RevocationList } from '../revocation/revocation.js';
import { CLOCK_SKEW_MS, type SessionRecord, type SessionTimeouts } from './record.js';
import { storeUnavailable } from './store.js';

/**
 * A cookie-stored session has no server-side id, so one rides in the record under a reserved claim:
 * logout revokes it, and renewals (which keep it) stay revoked. Never shown to authorization rules.
 */
export const SID_CLAIM = 'gatehouse.dev/sid';

/** The id a cookie-stored session is logged out (and single-flighted) by. */
export function sessionIdOf(record: SessionRecord): string {
  const sid = record.claims?.[SID_CLAIM];
  // Records without one (none are minted so) fall back to consumer + creation time.
  return typeof sid === 'string' ? sid : `${record.sub}\0${record.iat}`;
}

/** Where one policy's cookie-session logouts are kept. */
export interface CookieLogouts {
  readonly list: RevocationList;
  /** `session:<namespace>/<name>`: JWT scopes are issuers or `<namespace>/<name>/<method>`. */
  readonly scope: string;
}

export function cookieLogouts(list: RevocationList, policyId: string): CookieLogouts {
  return { list, scope: `session:${policyId}` };
}

/**
 * Whether the session was logged out; synchronous when the list answers from memory. A list that
 * cannot answer rejects with `session_store_unavailable` (a 503, never an allow).
 */
export function isLoggedOut(l: CookieLogouts, record: SessionRecord): boolean | Promise<boolean> {
  const answer = l.list.isRevoked({ scope: l.scope, jti: sessionIdOf(record), consumer: record.sub, issuedAt: record.iat });
  if (typeof answer === 'boolean') return answer;
  return answer.catch((e: unknown) => {
    throw storeUnavailable('logout lookup', e);
  });
}

/**
 * Ends the session for as long as its cookie could be accepted anywhere (its absolute expiry, plus
 * the clock difference replicas may have). Undefined when it has expired everywhere already.
 */
export async function logOut(l: CookieLogouts, record: SessionRecord, timeouts: SessionTimeouts, now: number): Promise<RevocationHeld | undefined> {
  const ttlMs = record.exp + CLOCK_SKEW_MS - now;
  if (ttlMs <= 0) return undefined;
  try {
    return await l.list.revokeOrWiden({
      scope: l.scope,
      jti: sessionIdOf(record),
      consumer: record.sub,
      issuedAt: record.iat,
      ttlMs,
      // A session of this policy lives at most its absolute timeout (a record may carry a longer one).
      maxLifetimeMs: Math.max(timeouts.absoluteMs, record.exp - record.iat) + CLOCK_SKEW_MS,
    });
  } catch (e) {
    throw storeUnavailable('logout', e);
  }
}
