// Redis-backed sessions, shared by every replica. Keys (prefix default `gatehouse:sess:`):
//   <prefix><id>                       the record as JSON, with the session's TTL (SET PX)
//   <prefix>idx:<aud b64>.<sub b64>    set of a consumer's session ids, for "log out everywhere"
//   channel <prefix>invalidate        ids a write changed, space separated (see record-cache.ts)
// No command spans two keys, so the layout works unchanged on Redis Cluster. Needs Redis >= 2.6.
import { GatehouseError } from '../core/errors.js';
import { isSessionIdShape } from './codec.js';
import { deepFreeze, parseSessionRecord, type SessionRecord } from './record.js';
import { closeRedis, createRedisClient, waitForRedis, type RedisClientOptions, type RedisConnection } from '../redis/client.js';
import { checkPut, storeUnavailable, type SessionStore } from './store.js';
import { SessionRecordCache, type SessionCacheOptions, type StoredRecord } from './record-cache.js';
import { subscribeRedis, type RedisSubscription } from '../redis/subscriber.js';

const DEFAULT_KEY_PREFIX = 'gatehouse:sess:';

// Adds the id to the consumer's index and stretches the index TTL to cover the newest session.
const INDEX_ADD = `
redis.call('SADD', KEYS[1], ARGV[1])
local ttl = tonumber(ARGV[2])
if redis.call('PTTL', KEYS[1]) < ttl then redis.call('PEXPIRE', KEYS[1], ttl) end
return 1`;

// Compare-and-set on the record's revision (`rev`, 0 when absent); the record key only, so it runs
// unchanged on Redis Cluster. 1 when written, 0 when the record changed or is gone.
const REPLACE = `
local cur = redis.call('GET', KEYS[1])
if not cur then return 0 end
local ok, r = pcall(cjson.decode, cur)
if not ok or type(r) ~= 'table' then return 0 end
local rev = r['rev']
if type(rev) ~= 'number' then rev = 0 end
if rev ~= tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1`;

export interface RedisStoreOptions {
  readonly connection: RedisConnection;
  /** Default `gatehouse:sess:`. */
  readonly keyPrefix?: string | undefined;
  /** close() also closes the connection. Default true. */
  readonly ownsConnection?: boolean | undefined;
  /**
   * Keep records read, for at most `maxAgeMs` (0: not at all), while a connection of its own hears
   * `<prefix>invalidate`. Every write publishes its ids there, cache or not.
   */
  readonly cache?: RedisStoreCacheOptions | undefined;
}

export interface RedisStoreCacheOptions extends SessionCacheOptions {
  /** Where the invalidation subscriber connects: the store's own URL and settings. */
  readonly subscriber: RedisClientOptions;
  /** How often the subscriber's link is checked with a PING. Default 1000. */
  readonly keepaliveMs?: number | undefined;
}

export class RedisSessionStore implements SessionStore {
  readonly kind = 'redis';
  readonly #redis: RedisConnection;
  readonly #prefix: string;
  readonly #ownsConnection: boolean;
  /** The read cache, when on (for metrics and tests). */
  readonly cache: SessionRecordCache | undefined;
  readonly #subscription: RedisSubscription | undefined;
  /** Where writes announce the ids they changed. */
  readonly channel: string;

  constructor(options: RedisStoreOptions) {
    this.#redis = options.connection;
    this.#prefix = options.keyPrefix ?? DEFAULT_KEY_PREFIX;
    this.#ownsConnection = options.ownsConnection ?? true;
    this.channel = `${this.#prefix}invalidate`;
    const c = options.cache;
    if (c === undefined || c.maxAgeMs === 0) return;
    const cache = new SessionRecordCache(c);
    this.cache = cache;
    this.#subscription = subscribeRedis({
      ...c.subscriber,
      channel: this.channel,
      keepaliveMs: c.keepaliveMs,
      onMessage: (m) => this.heard(m),
      onState: (live) => cache.setLive(live),
    });
  }

  async put(id: string, record: SessionRecord, ttlMs: number): Promise<void> {
    checkPut(id, record, ttlMs);
    const json = JSON.stringify(record);
    await this.#run('put', () =>
      // Both writes are awaited: put() resolves only after Redis acknowledged the record.
      Promise.all([
        this.#redis.set(this.#recordKey(id), json, 'PX', ttlMs),
        this.#redis.eval(INDEX_ADD, 1, this.#indexKey(record.aud, record.sub), id, ttlMs),
      ]),
    );
    await this.#changed('put', [id]);
  }

  async replace(id: string, expected: number, record: SessionRecord, ttlMs: number): Promise<boolean> {
    checkPut(id, record, ttlMs);
    const json = JSON.stringify(record);
    const written = await this.#run('replace', () => this.#redis.eval(REPLACE, 1, this.#recordKey(id), expected, json, ttlMs));
    if (written !== 1) {
      // Another writer won (and announced it); what this replica holds is older than that anyway.
      this.cache?.invalidate([id]);
      return false;
    }
    await this.#changed('replace', [id]);
    // The index is another key (another slot on a Cluster): stretched after the record is written.
    await this.#run('replace', () => this.#redis.eval(INDEX_ADD, 1, this.#indexKey(record.aud, record.sub), id, ttlMs));
    return true;
  }

  async get(id: string): Promise<SessionRecord | undefined> {
    if (!isSessionIdShape(id)) return undefined;
    if (this.cache !== undefined) return this.cache.get(id, () => this.#readKept(id));
    const raw = await this.#run('get', () => this.#redis.get(this.#recordKey(id)));
    return raw === null ? undefined : parseStored(raw);
  }

  peek(id: string): SessionRecord | undefined {
    return this.cache?.peek(id);
  }

  /** A read for the cache: the key's remaining life comes along (same round trip). */
  async #readKept(id: string): Promise<StoredRecord | undefined> {
    const key = this.#recordKey(id);
    const [raw, ttlMs] = await this.#run('get', () => Promise.all([this.#redis.get(key), this.#redis.pttl(key)]));
    if (raw === null) return undefined;
    const record = parseStored(raw);
    // Frozen: a cached record is shared by every Check that reads it.
    return record === undefined ? undefined : { record: deepFreeze(record), bytes: raw.length, ttlMs: ttlMs === -1 ? Number.POSITIVE_INFINITY : ttlMs };
  }

  async delete(id: string): Promise<void> {
    if (!isSessionIdShape(id)) return;
    const key = this.#recordKey(id);
    // GET and DEL go out together on one connection, so GET sees the record DEL then removes.
    const [raw] = await this.#run('delete', () => Promise.all([this.#redis.get(key), this.#redis.del(key)]));
    const record = raw === null ? undefined : parseStored(raw);
    if (record !== undefined) {
      await this.#run('delete', () => this.#redis.srem(this.#indexKey(record.aud, record.sub), id));
    }
    await this.#changed('delete', [id]);
  }

  async deleteAllFor(aud: string, consumerId: string): Promise<number> {
    const indexKey = this.#indexKey(aud, consumerId);
    const ids = await this.#run('deleteAllFor', () => this.#redis.smembers(indexKey));
    const valid = ids.filter(isSessionIdShape);
    // DEL answers 0 for sessions that already expired, so the count is of live sessions.
    const deleted = await this.#run('deleteAllFor', () =>
      Promise.all(valid.map((id) => this.#redis.del(this.#recordKey(id)))),
    );
    // Only the ids read are dropped from the index (Redis deletes an emptied set): a session created
    // meanwhile stays listed, so the next "log out everywhere" still reaches it.
    await this.#run('deleteAllFor', () => Promise.all(ids.map((id) => this.#redis.srem(indexKey, id))));
    if (valid.length > 0) await this.#changed('deleteAllFor', valid);
    return deleted.reduce((a, b) => a + b, 0);
  }

  /** An invalidation heard on the channel: the ids in it (anything else is ignored). */
  heard(message: string): void {
    this.cache?.heard(message.split(' ').filter(isSessionIdShape));
  }

  /** After a write is acknowledged: forgotten here at once, announced to every replica. */
  async #changed(operation: string, ids: readonly string[]): Promise<void> {
    const announce = this.#redis.publish(this.channel, ids.join(' '));
    if (this.cache === undefined) {
      // This replica caches nothing (max age 0, perhaps for a Redis user without pub/sub rights):
      // announced for replicas that do, and a failure does not fail the write.
      await announce.catch(() => undefined);
      return;
    }
    this.cache.invalidate(ids);
    // A write whose announcement fails is reported failed: other replicas could keep the old record
    // for up to their cache's max age, and the caller's retry (a logout again) announces it again.
    await this.#run(operation, () => announce);
  }

  async close(): Promise<void> {
    this.#subscription?.close();
    if (this.#ownsConnection) await closeRedis(this.#redis);
  }

  #recordKey(id: string): string {
    return this.#prefix + id;
  }

  #indexKey(aud: string, sub: string): string {
    const enc = (s: string): string => Buffer.from(s, 'utf8').toString('base64url');
    return `${this.#prefix}idx:${enc(aud)}.${enc(sub)}`;
  }

  async #run<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof GatehouseError) throw err;
      throw storeUnavailable(operation, err);
    }
  }
}

function parseStored(raw: string): SessionRecord | undefined {
  try {
    return parseSessionRecord(JSON.parse(raw));
  } catch {
    return undefined;
  }
}

export interface RedisStoreConnectOptions extends RedisClientOptions {
  readonly keyPrefix?: string | undefined;
  /** The read cache (its subscriber connects with these same settings); off by default. */
  readonly cache?: SessionCacheOptions | undefined;
  /** Wait this long for the first connection; 0 returns at once (commands fail until ready). */
  readonly readyTimeoutMs?: number | undefined;
}

/** A store on its own connection from a URL (forms documented in redis-client.ts). */
export async function connectRedisSessionStore(options: RedisStoreConnectOptions): Promise<RedisSessionStore> {
  const { connection } = createRedisClient(options);
  const cache = options.cache === undefined ? undefined : { ...options.cache, subscriber: options };
  const store = new RedisSessionStore({ connection, keyPrefix: options.keyPrefix, ownsConnection: true, cache });
  const readyTimeoutMs = options.readyTimeoutMs ?? 5000;
  if (readyTimeoutMs > 0) {
    try {
      await waitForRedis(connection, readyTimeoutMs);
    } catch (err) {
      await store.close();
      throw err;
    }
  }
  return store;
}
