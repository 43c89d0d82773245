// Redis-backed sessions, shared by every replica. Keys (prefix default `gatehouse:sess:`):
//   <prefix><id>                       the record as JSON, with the session's TTL (SET PX)
//   <prefix>idx:<aud b64>.<sub b64>    set of a consumer's session ids, for "log out everywhere"
// No command spans two keys, so the layout works unchanged on Redis Cluster. Needs Redis >= 2.6.
import { GatehouseError } from '../core/errors.js';
import { isSessionIdShape } from './codec.js';
import { parseSessionRecord, type SessionRecord } from './record.js';
import { closeRedis, createRedisClient, waitForRedis, type RedisClientOptions, type RedisConnection } from '../redis/client.js';
import { checkPut, storeUnavailable, type SessionStore } from './store.js';

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
}

export class RedisSessionStore implements SessionStore {
  readonly kind = 'redis';
  readonly #redis: RedisConnection;
  readonly #prefix: string;
  readonly #ownsConnection: boolean;

  constructor(options: RedisStoreOptions) {
    this.#redis = options.connection;
    this.#prefix = options.keyPrefix ?? DEFAULT_KEY_PREFIX;
    this.#ownsConnection = options.ownsConnection ?? true;
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
  }

  async replace(id: string, expected: number, record: SessionRecord, ttlMs: number): Promise<boolean> {
    checkPut(id, record, ttlMs);
    const json = JSON.stringify(record);
    const written = await this.#run('replace', () => this.#redis.eval(REPLACE, 1, this.#recordKey(id), expected, json, ttlMs));
    if (written !== 1) return false;
    // The index is another key (another slot on a Cluster): stretched after the record is written.
    await this.#run('replace', () => this.#redis.eval(INDEX_ADD, 1, this.#indexKey(record.aud, record.sub), id, ttlMs));
    return true;
  }

  async get(id: string): Promise<SessionRecord | undefined> {
    if (!isSessionIdShape(id)) return undefined;
    const raw = await this.#run('get', () => this.#redis.get(this.#recordKey(id)));
    return raw === null ? undefined : parseStored(raw);
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
    return deleted.reduce((a, b) => a + b, 0);
  }

  async close(): Promise<void> {
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
  /** Wait this long for the first connection; 0 returns at once (commands fail until ready). */
  readonly readyTimeoutMs?: number | undefined;
}

/** A store on its own connection from a URL (forms documented in redis-client.ts). */
export async function connectRedisSessionStore(options: RedisStoreConnectOptions): Promise<RedisSessionStore> {
  const { connection } = createRedisClient(options);
  const store = new RedisSessionStore({ connection, keyPrefix: options.keyPrefix, ownsConnection: true });
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
