// In-process session store: for a single replica and for tests. Bounded: when full, the least
// recently used session goes first. Time comes from an injected clock so expiry is testable.
import { BoundedCache } from '../core/bounded-cache.js';
import { isSessionIdShape } from './codec.js';
import { deepFreeze, type SessionRecord } from './record.js';
import { checkPut, revisionOf, storeUnavailable, type SessionStore } from './store.js';

export interface MemoryStoreOptions {
  /** Most sessions kept; default 10,000. */
  readonly maxEntries?: number | undefined;
  /** Milliseconds since the epoch; default Date.now. */
  readonly clock?: (() => number) | undefined;
}

interface Entry {
  readonly record: SessionRecord;
  readonly expiresAt: number;
  readonly owner: string;
}

export class MemorySessionStore implements SessionStore {
  readonly kind = 'memory';
  readonly maxEntries: number;
  readonly #clock: () => number;
  /** Least recently used first out when full; the owner index follows every eviction. */
  readonly #entries: BoundedCache<string, Entry>;
  readonly #byOwner = new Map<string, Set<string>>();
  #closed = false;

  constructor(options: MemoryStoreOptions = {}) {
    const maxEntries = options.maxEntries ?? 10_000;
    if (!Number.isSafeInteger(maxEntries) || maxEntries < 1) {
      throw new RangeError('memory session store: maxEntries must be a positive integer');
    }
    this.maxEntries = maxEntries;
    this.#clock = options.clock ?? Date.now;
    this.#entries = new BoundedCache(maxEntries, (id, entry) => this.#forget(id, entry.owner));
  }

  get size(): number {
    return this.#entries.size;
  }

  async put(id: string, record: SessionRecord, ttlMs: number): Promise<void> {
    this.#open('put');
    checkPut(id, record, ttlMs);
    this.#write(id, record, ttlMs);
  }

  async replace(id: string, expected: number, record: SessionRecord, ttlMs: number): Promise<boolean> {
    this.#open('replace');
    checkPut(id, record, ttlMs);
    const current = isSessionIdShape(id) ? this.#entries.get(id, this.#clock()) : undefined;
    if (current === undefined || revisionOf(current.record) !== expected) return false;
    this.#write(id, record, ttlMs);
    return true;
  }

  #write(id: string, record: SessionRecord, ttlMs: number): void {
    const owner = ownerKey(record.aud, record.sub);
    const expiresAt = this.#clock() + ttlMs;
    this.#entries.set(id, { record: deepFreeze(structuredClone(record)), expiresAt, owner }, expiresAt);
    let ids = this.#byOwner.get(owner);
    if (ids === undefined) this.#byOwner.set(owner, (ids = new Set()));
    ids.add(id);
  }

  async get(id: string): Promise<SessionRecord | undefined> {
    this.#open('get');
    if (!isSessionIdShape(id)) return undefined;
    return this.#entries.get(id, this.#clock())?.record;
  }

  async delete(id: string): Promise<void> {
    this.#open('delete');
    this.#entries.delete(id);
  }

  async deleteAllFor(aud: string, consumerId: string): Promise<number> {
    this.#open('deleteAllFor');
    const ids = this.#byOwner.get(ownerKey(aud, consumerId));
    if (ids === undefined) return 0;
    let live = 0;
    for (const id of [...ids]) {
      if (this.#entries.get(id, this.#clock()) !== undefined) live++;
      this.#entries.delete(id);
    }
    return live;
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#entries.clear();
    this.#byOwner.clear();
  }

  #open(operation: string): void {
    if (this.#closed) throw storeUnavailable(operation, new Error('store is closed'));
  }

  #forget(id: string, owner: string): void {
    const ids = this.#byOwner.get(owner);
    ids?.delete(id);
    if (ids?.size === 0) this.#byOwner.delete(owner);
  }
}

function ownerKey(aud: string, sub: string): string {
  return `${aud}\0${sub}`;
}
