// In-process session store: for a single replica and for tests. Bounded: when full, the least
// recently used session goes first. Time comes from an injected clock so expiry is testable.
import { isSessionIdShape } from './codec.js';
import type { SessionRecord } from './record.js';
import { checkPut, storeUnavailable, type SessionStore } from './store.js';

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
  // Map order is recency order: a read moves the entry to the end, eviction takes the front.
  readonly #entries = new Map<string, Entry>();
  readonly #byOwner = new Map<string, Set<string>>();
  #closed = false;

  constructor(options: MemoryStoreOptions = {}) {
    const maxEntries = options.maxEntries ?? 10_000;
    if (!Number.isSafeInteger(maxEntries) || maxEntries < 1) {
      throw new RangeError('memory session store: maxEntries must be a positive integer');
    }
    this.maxEntries = maxEntries;
    this.#clock = options.clock ?? Date.now;
  }

  get size(): number {
    return this.#entries.size;
  }

  async put(id: string, record: SessionRecord, ttlMs: number): Promise<void> {
    this.#open('put');
    checkPut(id, record, ttlMs);
    this.#remove(id);
    const owner = ownerKey(record.aud, record.sub);
    this.#entries.set(id, { record: deepFreeze(structuredClone(record)), expiresAt: this.#clock() + ttlMs, owner });
    let ids = this.#byOwner.get(owner);
    if (ids === undefined) this.#byOwner.set(owner, (ids = new Set()));
    ids.add(id);
    while (this.#entries.size > this.maxEntries) {
      const oldest = this.#entries.keys().next();
      if (oldest.done === true) break;
      this.#remove(oldest.value);
    }
  }

  async get(id: string): Promise<SessionRecord | undefined> {
    this.#open('get');
    if (!isSessionIdShape(id)) return undefined;
    const entry = this.#entries.get(id);
    if (entry === undefined) return undefined;
    if (this.#clock() >= entry.expiresAt) {
      this.#remove(id);
      return undefined;
    }
    this.#entries.delete(id);
    this.#entries.set(id, entry);
    return entry.record;
  }

  async delete(id: string): Promise<void> {
    this.#open('delete');
    this.#remove(id);
  }

  async deleteAllFor(aud: string, consumerId: string): Promise<number> {
    this.#open('deleteAllFor');
    const ids = this.#byOwner.get(ownerKey(aud, consumerId));
    if (ids === undefined) return 0;
    const now = this.#clock();
    let live = 0;
    for (const id of [...ids]) {
      const entry = this.#entries.get(id);
      if (entry !== undefined && now < entry.expiresAt) live++;
      this.#remove(id);
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

  #remove(id: string): void {
    const entry = this.#entries.get(id);
    if (entry === undefined) return;
    this.#entries.delete(id);
    const ids = this.#byOwner.get(entry.owner);
    ids?.delete(id);
    if (ids?.size === 0) this.#byOwner.delete(entry.owner);
  }
}

function ownerKey(aud: string, sub: string): string {
  return `${aud}\0${sub}`;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
