// Tokens already verified, keyed by a SHA-256 of the token (never the token itself) and the compiled
// method that verified them, so a repeated token costs one hash and one Map probe. Bounded LRU; an
// entry lives until the token expires. Hits are re-checked by the caller (time, key, revocation).
import { hash } from 'node:crypto';
import { BoundedCache } from '../../core/bounded-cache.js';
import type { Identity } from '../../core/identity.js';
import type { TokenTimes } from './claims.js';

export interface VerifiedToken {
  readonly identity: Identity;
  readonly times: TokenTimes;
  /** Fingerprint of the key that verified it: a hit whose key left the set is verified again. */
  readonly keyId: string;
  /** Wall-clock ms after which the entry is dropped unread. */
  readonly evictAt: number;
}

/** Entries of tokens without exp are re-verified this often. */
export const NO_EXP_CACHE_MS = 300_000;

export class TokenCache {
  readonly max: number;
  readonly #entries: BoundedCache<string, VerifiedToken>;
  #hits = 0;
  #misses = 0;

  constructor(max = 10_000) {
    this.#entries = new BoundedCache(max);
    this.max = max;
  }

  /** Cache key of a token for one compiled method. */
  static key(owner: number, token: string): string {
    return `${owner}:${hash('sha256', token, 'base64url')}`;
  }

  get(key: string, now: number): VerifiedToken | undefined {
    const e = this.#entries.get(key, now);
    if (e === undefined) this.#misses++;
    else this.#hits++;
    return e;
  }

  set(key: string, entry: VerifiedToken): void {
    this.#entries.set(key, entry, entry.evictAt);
  }

  delete(key: string): void {
    this.#entries.delete(key);
  }

  clear(): void {
    this.#entries.clear();
  }

  get size(): number {
    return this.#entries.size;
  }

  get stats(): { readonly hits: number; readonly misses: number } {
    return { hits: this.#hits, misses: this.#misses };
  }
}
