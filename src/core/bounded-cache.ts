// The one bounded cache: least recently used goes first when full, an entry may carry an expiry, and
// an eviction can be observed (to keep a side index in step). Map order is recency order: eviction
// takes the front, and a read moves the entry to the end once max/2 insertions have passed since it was
// last placed there, so a hot entry costs one Map probe per read instead of a delete and a re-insert,
// and an entry read at least once per max/2 insertions is never evicted, whatever floods in. A read
// that does not move the entry marks it, and eviction passes over a marked entry once (to the end,
// mark cleared): a caller that also bounds something besides the count (bytes, characters) evicts
// sooner than max/2 insertions, and an entry read at least once per pass through the cache still
// stays. Each mark buys at most one pass-over, so eviction stays O(1) amortized. Caches only ever
// save work: whatever one forgets is computed again, never allowed by default.

export class BoundedCache<K, V> {
  readonly max: number;
  readonly #entries = new Map<K, { value: V; expiresAt: number; placed: number; read: boolean }>();
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
      e.read = false;
    } else e.read = true;
    return e.value;
  }

  /** Stores `value` until `expiresAt` (epoch ms; never by default), evicting the least recent when full. */
  set(key: K, value: V, expiresAt = Number.POSITIVE_INFINITY): void {
    if (this.max === 0) return;
    this.#remove(key);
    this.#entries.set(key, { value, expiresAt, placed: ++this.#inserted, read: false });
    while (this.#entries.size > this.max && this.evictOldest()) {
      // each pass evicts the least recent
    }
  }

  delete(key: K): void {
    this.#remove(key);
  }

  /**
   * Evicts the least recently placed entry not read since it was placed, passing over (to the end) the
   * read ones it meets first (also for a caller bounding something besides the count); false when empty.
   */
  evictOldest(): boolean {
    for (;;) {
      const oldest = this.#entries.entries().next();
      if (oldest.done === true) return false;
      const [key, e] = oldest.value;
      if (!e.read) {
        this.#remove(key);
        return true;
      }
      e.read = false;
      this.#entries.delete(key);
      this.#entries.set(key, e);
      e.placed = this.#inserted;
    }
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
