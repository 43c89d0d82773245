// The one bounded cache: least recently used goes first when full, an entry may carry an expiry, and
// an eviction can be observed (to keep a side index in step). Map order is recency order: eviction
// takes the front, and a read moves the entry to the end once max/2 insertions have passed since it was
// last placed there, so a hot entry costs one Map probe per read instead of a delete and a re-insert,
// and an entry read at least once per max/2 insertions is never evicted, whatever floods in. Caches
// only ever save work: whatever one forgets is computed again, never allowed by default.

export class BoundedCache<K, V> {
  readonly max: number;
  readonly #entries = new Map<K, { value: V; expiresAt: number; placed: number }>();
  /** Insertions so far; an entry's `placed` is this count when it last went to the end. */
  #inserted = 0;
  readonly #refreshAfter: number;
  readonly #onEvict: ((key: K, value: V) => void) | undefined;

  /** `max` 0 keeps nothing. */
  constructor(max: number, onEvict?: (key: K, value: V) => void) {
    if (!Number.isSafeInteger(max) || max < 0) throw new RangeError('cache size must be a non-negative integer');
    this.max = max;
    this.#refreshAfter = Math.max(1, max >> 1);
    this.#onEvict = onEvict;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The live value; an entry past its expiry (at `now`) is dropped and reads as absent. */
  get(key: K, now = 0): V | undefined {
    const e = this.#entries.get(key);
    if (e === undefined) return undefined;
    if (now >= e.expiresAt) {
      this.#entries.delete(key);
      this.#onEvict?.(key, e.value);
      return undefined;
    }
    if (this.#inserted - e.placed >= this.#refreshAfter) {
      this.#entries.delete(key);
      this.#entries.set(key, e);
      e.placed = this.#inserted;
    }
    return e.value;
  }

  /** Stores `value` until `expiresAt` (epoch ms; never by default), evicting the least recent when full. */
  set(key: K, value: V, expiresAt = Number.POSITIVE_INFINITY): void {
    if (this.max === 0) return;
    this.#remove(key);
    this.#entries.set(key, { value, expiresAt, placed: ++this.#inserted });
    while (this.#entries.size > this.max && this.evictOldest()) {
      // each pass evicts the least recent
    }
  }

  delete(key: K): void {
    this.#remove(key);
  }

  /** Evicts the least recently placed entry (for a caller bounding something besides the count); false when empty. */
  evictOldest(): boolean {
    const oldest = this.#entries.keys().next();
    if (oldest.done === true) return false;
    this.#remove(oldest.value);
    return true;
  }

  clear(): void {
    this.#entries.clear();
  }

  #remove(key: K): void {
    const e = this.#entries.get(key);
    if (e === undefined) return;
    this.#entries.delete(key);
    this.#onEvict?.(key, e.value);
  }
}
