// Token refresh for sessions whose method keeps provider tokens: once per session however many
// requests arrive together. In a process, callers for one session share one promise. Across replicas
// sharing a store, a refresh is leased on the record by compare-and-set first (SessionStore.replace),
// so one replica asks the provider while the others keep serving the current tokens (still valid
// within the leeway) or wait, bounded, for the new record. Cookie-stored sessions have no shared
// record: a refreshed record is remembered for a while, so a cookie already in flight with the old
// tokens does not refresh (with a rotated, now spent, refresh token) a second time.
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { BoundedCache } from '../core/bounded-cache.js';
import { GatehouseError } from '../core/errors.js';
import type { SessionCompanion } from './companion.js';
import { SID_CLAIM } from './logouts.js';
import { sessionTtlMs, type SessionRecord, type SessionTokens } from './record.js';
import { revisionOf, type SessionStore } from './store.js';

/** How long one replica holds the right to refresh a session (a provider call and two writes). */
export const REFRESH_LEASE_MS = 15_000;
/** How long a request whose tokens are unusable waits for another replica's refresh. */
const WAIT_MS = 10_000;
const POLL_MS = 50;
/** Compare-and-set rounds lost to other writers before giving up. */
const MAX_ROUNDS = 5;
/** How long a cookie session's refreshed record stands in for the cookies still carrying the old one. */
const RECENT_MS = 60_000;

export class TokenRefresher {
  readonly #pending = new Map<string, Promise<SessionRecord | undefined>>();
  readonly #recent = new BoundedCache<string, SessionRecord>(10_000);

  /** Refreshes requests pending, for tests and gauges. */
  get pending(): number {
    return this.#pending.size;
  }

  /**
   * A store-backed session: the record with fresh tokens (written to the store), or undefined when
   * the session ended (deleted). `key` names the session process-wide (policy and id).
   */
  stored(key: string, store: SessionStore, id: string, record: SessionRecord, companion: SessionCompanion, now: number): Promise<SessionRecord | undefined> {
    return this.#once(key, () => refreshStored(store, id, record, companion, now));
  }

  /** A cookie-stored session: the record with fresh tokens (to be sealed again), or undefined when it must end. */
  sealed(key: string, record: SessionRecord, companion: SessionCompanion, now: number): Promise<SessionRecord | undefined> {
    const recent = this.#recent.get(key, now);
    if (recent !== undefined && companion.freshness(recent, now) === 'fresh') return Promise.resolve(recent);
    return this.#once(key, async () => {
      const refreshed = await companion.refresh(record, now);
      if (refreshed === undefined) return undefined;
      const next = keepSessionId(record, refreshed);
      this.#recent.set(key, next, now + RECENT_MS);
      return next;
    });
  }

  #once(key: string, run: () => Promise<SessionRecord | undefined>): Promise<SessionRecord | undefined> {
    const pending = this.#pending.get(key);
    if (pending !== undefined) return pending;
    const p = run().finally(() => this.#pending.delete(key));
    this.#pending.set(key, p);
    return p;
  }
}

async function refreshStored(store: SessionStore, id: string, read: SessionRecord, companion: SessionCompanion, now: number): Promise<SessionRecord | undefined> {
  const deadline = performance.now() + WAIT_MS;
  let current = read;
  for (let round = 0; round < MAX_ROUNDS; ) {
    const freshness = companion.freshness(current, now);
    if (freshness === 'fresh') return current;
    const lease = current.tokens?.lease;
    if (lease !== undefined && lease > now) {
      // Another replica is refreshing: the current tokens serve while they can, else wait for its record.
      if (freshness === 'due') return current;
      if (performance.now() > deadline) throw waitedTooLong();
      await sleep(POLL_MS);
      const again = await store.get(id);
      if (again === undefined) return undefined;
      current = again;
      continue;
    }
    const rev = revisionOf(current);
    const leased = withTokens(current, { ...tokensOf(current), lease: now + REFRESH_LEASE_MS }, rev + 1);
    if (!(await store.replace(id, rev, leased, ttlOf(leased, now)))) {
      round++;
      const again = await store.get(id);
      if (again === undefined) return undefined;
      current = again;
      continue;
    }
    const refreshed = await companion.refresh(leased, now);
    if (refreshed === undefined) {
      await store.delete(id);
      return undefined;
    }
    const { lease: _held, ...tokens } = tokensOf(refreshed);
    const next = withTokens(keepSessionId(leased, refreshed), tokens, rev + 2);
    if (await store.replace(id, rev + 1, next, ttlOf(next, now))) return next;
    // Changed while we refreshed (a logout, or our lease ran out and another replica refreshed): theirs stands.
    return store.get(id);
  }
  throw waitedTooLong();
}

/**
 * The session's own id (cookie storage: a reserved claim) survives whatever claims the provider sends
 * with new tokens, so a logout still reaches every cookie of the session.
 */
function keepSessionId(before: SessionRecord, after: SessionRecord): SessionRecord {
  const sid = before.claims?.[SID_CLAIM];
  if (sid === undefined && after.claims?.[SID_CLAIM] === undefined) return after;
  const claims: Record<string, unknown> = { ...after.claims };
  if (sid === undefined) delete claims[SID_CLAIM];
  else claims[SID_CLAIM] = sid;
  return { ...after, claims };
}

function tokensOf(r: SessionRecord): SessionTokens {
  if (r.tokens === undefined) throw new GatehouseError('internal_error', 'refresh of a session without tokens');
  return r.tokens;
}

function withTokens(r: SessionRecord, tokens: SessionTokens, rev: number): SessionRecord {
  return { ...r, tokens, rev };
}

/** A store entry lives as long as its session; never less than a millisecond (a put needs a positive TTL). */
function ttlOf(r: SessionRecord, now: number): number {
  return Math.max(1, sessionTtlMs(r, now));
}

function waitedTooLong(): GatehouseError {
  return new GatehouseError('session_refresh_timeout', 'session tokens are being refreshed elsewhere and did not arrive in time');
}
