// A bounded cache for long string keys a client sends (sealed session cookies, signed session ids):
// the Map is keyed by the key's last TAIL characters and an entry holds the whole key, compared on
// every hit. A Map probe hashes every character of a string it has not seen before, and each
// request's cookie is such a string: the bench's 448-character cookie, decoded from a CheckRequest,
// cost 1.16 µs to look up whole and 0.22 µs by its tail and one comparison (node 20). The tail of what is
// cached here is a MAC or an authentication tag, so two values that verify share a tail only by
// chance; when they do, the later replaces the earlier (a miss, never the other's value).
// Entries hold their own copy of the key: a slice of a request's header keeps the whole header alive.
import { BoundedCache } from './bounded-cache.js';

/** Characters of a key that go into the Map's key (the rest are only compared). */
export const TAIL = 24;

interface Entry<V> {
  readonly key: string;
  readonly value: V;
}

export class TailKeyedCache<V> {
  readonly #entries: BoundedCache<string, Entry<V>>;

  constructor(max: number) {
    this.#entries = new BoundedCache(max);
  }

  get size(): number {
    return this.#entries.size;
  }

  get(key: string, now = 0): V | undefined {
    const e = this.#entries.get(tailOf(key), now);
    return e !== undefined && e.key === key ? e.value : undefined;
  }

  /** Stores `value` under `key`, replacing whatever shares its tail. */
  set(key: string, value: V, expiresAt?: number): void {
    const own = ownCopy(key);
    this.#entries.set(tailOf(own), { key: own, value }, expiresAt);
  }

  /** Forgets `key` (not another key that shares its tail). */
  delete(key: string): void {
    const tail = tailOf(key);
    if (this.#entries.get(tail)?.key === key) this.#entries.delete(tail);
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
