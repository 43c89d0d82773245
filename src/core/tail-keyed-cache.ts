// A bounded cache for long string keys a client sends (sealed session cookies, signed session ids,
// verified JWTs): the Map is keyed by the key's last TAIL characters and an entry holds the whole key,
// compared on every hit. A Map probe hashes every character of a string it has not seen before, and
// each request's cookie is such a string: the bench's 448-character cookie, decoded from a
// CheckRequest, cost 1.16 µs to look up whole and 0.22 µs by its tail and one comparison (node 20).
// The tail of what is cached here is a MAC, an authentication tag or a signature, so two values that
// verify share a tail only by chance; when they do, the later replaces the earlier (a miss, never the
// other's value). Entries hold their own copy of the key: a slice of a request's header keeps the
// whole header alive. The comparison on a hit is not constant-time: reaching it takes the tail, the
// MAC, tag or signature only the value's holder has, and what its time could tell is the rest of
// that same value.
import { BoundedCache } from './bounded-cache.js';

/** Characters of a key that go into the Map's key (the rest are only compared). */
export const TAIL = 24;

/**
 * Characters of the keys held, all entries together, by default: the keys are the cache's bulk (a
 * JWT may be 8 KiB, a sealed cookie 4 KiB), and 10,000 of them would otherwise be tens of MB.
 */
export const MAX_KEY_CHARS = 4 << 20;

export interface TailKeyedOptions {
  /**
   * Keys come with a scope, a number that is part of the key (the compiled method a token was
   * verified by); an unscoped cache takes scope 0 only and saves building the scope into the Map's key.
   */
  readonly scoped?: boolean;
  /** Least recent entries go while the keys held exceed this many characters (default MAX_KEY_CHARS). */
  readonly maxChars?: number;
}

interface Entry<V> {
  readonly key: string;
  readonly scope: number;
  readonly value: V;
}

export class TailKeyedCache<V> {
  readonly #entries: BoundedCache<string, Entry<V>>;
  readonly #scoped: boolean;
  readonly #maxChars: number;
  /** Characters of the keys held. */
  #chars = 0;

  /** At most `max` entries. */
  constructor(max: number, options: TailKeyedOptions = {}) {
    // Every way out of the bounded cache (replaced, deleted, expired, evicted) passes here.
    this.#entries = new BoundedCache(max, (_tail, e) => {
      this.#chars -= e.key.length;
    });
    this.#scoped = options.scoped ?? false;
    this.#maxChars = options.maxChars ?? MAX_KEY_CHARS;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Characters of the keys held. */
  get chars(): number {
    return this.#chars;
  }

  get(key: string, now = 0, scope = 0): V | undefined {
    const e = this.#entries.get(this.#mapKey(key, scope), now);
    return e !== undefined && e.key === key && e.scope === scope ? e.value : undefined;
  }

  /** Stores `value` under `key`, replacing whatever shares its tail (and scope). */
  set(key: string, value: V, expiresAt?: number, scope = 0): void {
    if (this.#entries.max === 0 || key.length > this.#maxChars) return;
    const own = ownCopy(key);
    const mapKey = this.#mapKey(own, scope);
    this.#entries.set(mapKey, { key: own, scope, value }, expiresAt);
    this.#chars += own.length;
    while (this.#chars > this.#maxChars && this.#entries.evictOldest()) {
      // each pass evicts the least recent
    }
  }

  /** Forgets `key` (not another key that shares its tail). */
  delete(key: string, scope = 0): void {
    const k = this.#mapKey(key, scope);
    const e = this.#entries.get(k);
    if (e !== undefined && e.key === key && e.scope === scope) this.#entries.delete(k);
  }

  clear(): void {
    this.#entries.clear();
    this.#chars = 0;
  }

  /** In a scoped cache the scope's digits end at the first colon, so no two scopes share a Map key. */
  #mapKey(key: string, scope: number): string {
    if (this.#scoped) return `${scope}:${tailOf(key)}`;
    if (scope !== 0) throw new RangeError('an unscoped cache takes scope 0 only');
    return tailOf(key);
  }
}

function tailOf(key: string): string {
  return key.length <= TAIL ? key : key.slice(key.length - TAIL);
}

/**
 * The same text in a string of its own. V8 keeps a cut of 13 characters or more from a longer string
 * as a view that holds the whole string alive; equal to `s`, only a heap profile tells them apart.
 */
export function ownCopy(s: string): string {
  return JSON.parse(JSON.stringify(s)) as string;
}
