// Session records read from Redis, kept on this replica for at most `maxAgeMs` (and never past the
// record's own idle or absolute expiry), so a hot session costs no Redis round trip per Check. It is
// correct across replicas only while its invalidation channel is heard: every write anywhere
// publishes the ids it changed, and the cache is emptied and bypassed whenever the subscription is
// not confirmed. Only records are kept, never "no such session": a login on another replica is seen
// at once. Concurrent misses of one id share one read; a read that an invalidation (or a change of
// the subscription) overtook is answered but not kept.
import { BoundedCache } from '../core/bounded-cache.js';
import type { SessionRecord } from './record.js';

/** Counted per lookup and per invalidated id; connect to metrics. */
export interface SessionCacheEvents {
  /** `bypassed`: the subscription is not confirmed, Redis was asked and nothing kept. */
  lookup(result: 'hit' | 'miss' | 'bypassed'): void;
  invalidated(ids: number): void;
  subscribed(live: boolean): void;
}

export interface SessionCacheOptions {
  /** Longest a record is reused without asking Redis; 0 turns the cache off. */
  readonly maxAgeMs: number;
  /** Default 10,000. */
  readonly maxEntries?: number | undefined;
  /** Stored JSON held at most, summed over entries. Default 4 MiB. */
  readonly maxBytes?: number | undefined;
  readonly clock?: (() => number) | undefined;
  readonly events?: SessionCacheEvents | undefined;
}

/** A record as read from the store, with the size of its stored form and the key's time to live. */
export interface StoredRecord {
  readonly record: SessionRecord;
  readonly bytes: number;
  /** Ms the stored key has left (a put may give a shorter life than the record's own expiry). */
  readonly ttlMs: number;
}

interface Entry {
  readonly record: SessionRecord;
  readonly bytes: number;
}

interface Flight {
  readonly promise: Promise<SessionRecord | undefined>;
  /** Set when an invalidation or a subscription change overtook the read. */
  stale: boolean;
}

const DEFAULT_MAX_ENTRIES = 10_000;
const DEFAULT_MAX_BYTES = 4 << 20;

export class SessionRecordCache {
  readonly maxAgeMs: number;
  readonly maxBytes: number;
  readonly #entries: BoundedCache<string, Entry>;
  readonly #flights = new Map<string, Flight>();
  readonly #clock: () => number;
  readonly #events: SessionCacheEvents | undefined;
  #bytes = 0;
  #live = false;

  constructor(options: SessionCacheOptions) {
    if (!Number.isSafeInteger(options.maxAgeMs) || options.maxAgeMs <= 0) throw new RangeError('session cache max age must be a positive whole number of ms');
    this.maxAgeMs = options.maxAgeMs;
    this.maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
    this.#entries = new BoundedCache(options.maxEntries ?? DEFAULT_MAX_ENTRIES, (_id, e) => {
      this.#bytes -= e.bytes;
    });
    this.#clock = options.clock ?? Date.now;
    this.#events = options.events;
  }

  /** True while the invalidation channel is confirmed subscribed: only then is anything kept or served. */
  get live(): boolean {
    return this.#live;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Stored JSON held, summed. */
  get bytes(): number {
    return this.#bytes;
  }

  /** The record held for `id`, counted as a hit; undefined (uncounted) when `get` must be asked. */
  peek(id: string): SessionRecord | undefined {
    if (!this.#live) return undefined;
    const hit = this.#entries.get(id, this.#clock());
    if (hit !== undefined) this.#events?.lookup('hit');
    return hit?.record;
  }

  /** The record for `id`, from the cache or from `read` (whose answer is kept when nothing overtook it). */
  get(id: string, read: () => Promise<StoredRecord | undefined>): Promise<SessionRecord | undefined> {
    if (!this.#live) {
      this.#events?.lookup('bypassed');
      return read().then(recordOf);
    }
    const now = this.#clock();
    const hit = this.#entries.get(id, now);
    if (hit !== undefined) {
      this.#events?.lookup('hit');
      return Promise.resolve(hit.record);
    }
    this.#events?.lookup('miss');
    const joined = this.#flights.get(id);
    if (joined !== undefined) return joined.promise;
    const flight: Flight = { promise: read().then((stored) => this.#landed(id, flight, stored), (e: unknown) => this.#failed(id, flight, e)), stale: false };
    this.#flights.set(id, flight);
    return flight.promise;
  }

  /** Forgets these ids here (the caller also publishes them); reads of them under way are not kept. */
  invalidate(ids: readonly string[]): void {
    for (const id of ids) {
      this.#entries.delete(id);
      const flight = this.#flights.get(id);
      if (flight !== undefined) {
        flight.stale = true;
        this.#flights.delete(id);
      }
    }
  }

  /** Ids heard on the channel: forgotten, and counted. */
  heard(ids: readonly string[]): void {
    this.invalidate(ids);
    this.#events?.invalidated(ids.length);
  }

  /** The subscription was confirmed (true) or lost (false): either way, what is held may have missed a message. */
  setLive(live: boolean): void {
    this.#entries.clear();
    this.#bytes = 0;
    for (const flight of this.#flights.values()) flight.stale = true;
    this.#flights.clear();
    if (this.#live !== live) {
      this.#live = live;
      this.#events?.subscribed(live);
    }
  }

  #landed(id: string, flight: Flight, stored: StoredRecord | undefined): SessionRecord | undefined {
    if (this.#flights.get(id) === flight) this.#flights.delete(id);
    if (stored === undefined || flight.stale || !this.#live || stored.bytes > this.maxBytes || !(stored.ttlMs > 0)) return stored?.record;
    const { record, bytes, ttlMs } = stored;
    const now = this.#clock();
    const expiresAt = Math.min(now + Math.min(this.maxAgeMs, ttlMs), record.idleExp, record.exp);
    this.#entries.set(id, { record, bytes }, expiresAt);
    this.#bytes += bytes;
    while (this.#bytes > this.maxBytes && this.#entries.evictOldest()) {
      // each eviction lowers #bytes through the eviction callback
    }
    return record;
  }

  #failed(id: string, flight: Flight, e: unknown): never {
    if (this.#flights.get(id) === flight) this.#flights.delete(id);
    throw e;
  }
}

function recordOf(stored: StoredRecord | undefined): SessionRecord | undefined {
  return stored?.record;
}
