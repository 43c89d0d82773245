// Tokens already verified, by the compiled method that verified them, so a repeated token costs one
// Map probe by its tail (its signature) and one comparison of the whole token with the entry's copy
// (TailKeyedCache): a SHA-256 of the token, the key before, cost 0.7 µs per Check (node 20, a
// 258-character ES256 token), the tail and comparison 0.18 µs. Only a token that verified is stored,
// so a forged token that copies a cached one's signature is a miss and replaces nothing. Bounded LRU,
// by count and by the tokens' characters (MAX_KEY_CHARS); an entry lives until the token expires.
// Hits are re-checked by the caller (time, key, revocation).
import { TailKeyedCache } from '../../core/tail-keyed-cache.js';
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
  readonly #entries: TailKeyedCache<VerifiedToken>;
  #hits = 0;
  #misses = 0;

  constructor(max = 10_000) {
    this.#entries = new TailKeyedCache(max, { scoped: true });
    this.max = max;
  }

  /** `owner`: the compiled method's number (not 0). */
  get(owner: number, token: string, now: number): VerifiedToken | undefined {
    const e = this.#entries.get(token, now, owner);
    if (e === undefined) this.#misses++;
    else this.#hits++;
    return e;
  }

  set(owner: number, token: string, entry: VerifiedToken): void {
    this.#entries.set(token, entry, entry.evictAt, owner);
  }

  delete(owner: number, token: string): void {
    this.#entries.delete(token, owner);
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
