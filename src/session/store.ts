// Where store-backed sessions live. The cookie carries only a signed id (see SessionIdSigner in
// codec.ts); the record stays here. Every implementation passes test/session-store.test.ts.
import { GatehouseError } from '../core/errors.js';
import { isSessionIdShape } from './codec.js';
import type { SessionRecord } from './record.js';

export interface SessionStore {
  readonly kind: 'memory' | 'redis';
  /**
   * Stores (or replaces) the record under `id` for `ttlMs`. Resolves only once the write is
   * durable in the store, so a `get` issued afterwards sees it. Renewal is a `put` of the renewed
   * record under the same id.
   */
  put(id: string, record: SessionRecord, ttlMs: number): Promise<void>;
  /**
   * The live record, or undefined when absent, expired or not a valid record. An id that is not
   * shaped like a minted one is answered without asking the backend.
   */
  get(id: string): Promise<SessionRecord | undefined>;
  /**
   * The record when this store holds it in memory right now (a cache), without I/O; undefined means
   * "ask `get`", never "absent". Optional: a store without one is always asked through `get`.
   */
  peek?(id: string): SessionRecord | undefined;
  /**
   * Compare-and-set: replaces the record under `id` only while the stored one still has revision
   * `expected` (`rev`, 0 when absent), so two replicas renewing or refreshing one session cannot
   * both win, and a session deleted meanwhile (logout) is not brought back. Resolves true when
   * written, false when the record changed or is gone. The caller bumps `record.rev`.
   */
  replace(id: string, expected: number, record: SessionRecord, ttlMs: number): Promise<boolean>;
  /** Removes one session (logout). Absent ids are fine. */
  delete(id: string): Promise<void>;
  /** Removes every session of a consumer under a policy ("log out everywhere"); returns how many. */
  deleteAllFor(aud: string, consumerId: string): Promise<number>;
  /** Releases connections and timers; the store is unusable afterwards. */
  close(): Promise<void>;
}

/** A record's revision for `replace` (0 when it has none). */
export function revisionOf(record: SessionRecord): number {
  return record.rev ?? 0;
}

/** The one failure a store raises: the pipeline maps it to 503 (or fails open if the policy says so). */
export function storeUnavailable(operation: string, cause: unknown): GatehouseError {
  const why = cause instanceof Error ? cause.message : String(cause);
  // The detail names the operation only, never the id: a session id is a credential.
  return new GatehouseError('session_store_unavailable', `session store ${operation} failed: ${why}`, {
    cause,
  });
}

/** Checks put() arguments that would otherwise store something no reader could use. */
export function checkPut(id: string, record: SessionRecord, ttlMs: number): void {
  if (!isSessionIdShape(id)) throw invalidPut('id must be a minted session id (SessionIdSigner.mint)');
  if (!Number.isSafeInteger(ttlMs) || ttlMs <= 0) throw invalidPut('ttlMs must be a positive whole number');
  if (record.aud === '' || record.sub === '') throw invalidPut('record needs aud and sub');
}

function invalidPut(detail: string): GatehouseError {
  return new GatehouseError('session_store_invalid_put', `session store put: ${detail}`);
}
