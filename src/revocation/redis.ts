// The revocation list in Redis, shared by every replica and the `gatehouse token revoke` CLI.
//   <prefix><scope hash>:j:<jti hash>        "1", expiring with the token (or the logged-out session)
//   <prefix><scope hash>:c:<consumer hash>   ms timestamp: tokens issued before it are revoked
// Every command touches one key, so the layout works on Redis Cluster. Lookups fail closed
// (`revocation_unavailable`); answers are cached for `cacheMs` (a revocation made elsewhere takes
// effect here within that time; one made through this list, at once). Redis bounds memory itself
// (`maxmemory-policy noeviction` makes a full Redis refuse writes), so nothing here is widened.
import { createHash } from 'node:crypto';
import { BoundedCache } from '../core/bounded-cache.js';
import type { RedisConnection } from '../redis/client.js';
import { closeRedis, waitForRedis } from '../redis/client.js';
import {
  checkRevocationArgs,
  checkWidenableArgs,
  consumerWatermark,
  revokedBefore,
  type RevocationHeld,
  type RevocationList,
  type RevocationQuery,
  revocationUnavailable,
  type WidenableRevocation,
} from './revocation.js';

const DEFAULT_REVOCATION_PREFIX = 'gatehouse:jwt-revoked:';

// Moves `before` forward only, and keeps the longest expiry (none beats any).
const CONSUMER_REVOKE = `
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
local v = tonumber(ARGV[1])
if v > cur then cur = v end
local pttl = redis.call('PTTL', KEYS[1])
if ARGV[2] == '' or pttl == -1 then
  redis.call('SET', KEYS[1], tostring(cur))
else
  local ttl = tonumber(ARGV[2])
  if pttl > ttl then ttl = pttl end
  redis.call('SET', KEYS[1], tostring(cur), 'PX', ttl)
end
return tostring(cur)`;

export interface RedisRevocationOptions {
  readonly connection: RedisConnection;
  readonly keyPrefix?: string | undefined;
  /** How long an answer from Redis is reused. 0 asks Redis on every lookup. Default 1000. */
  readonly cacheMs?: number | undefined;
  /** close() also closes the connection. Default true. */
  readonly ownsConnection?: boolean | undefined;
}

const MAX_CACHED = 50_000;

export class RedisRevocationList implements RevocationList {
  readonly kind = 'redis' as const;
  readonly #redis: RedisConnection;
  readonly #prefix: string;
  readonly #cacheMs: number;
  readonly #owns: boolean;
  readonly #cache = new BoundedCache<string, string | null>(MAX_CACHED);

  constructor(options: RedisRevocationOptions) {
    this.#redis = options.connection;
    this.#prefix = options.keyPrefix ?? DEFAULT_REVOCATION_PREFIX;
    this.#cacheMs = options.cacheMs ?? 1000;
    this.#owns = options.ownsConnection ?? true;
  }

  isRevoked(q: RevocationQuery): boolean | Promise<boolean> {
    const jtiKey = q.jti === undefined ? undefined : this.#key(q.scope, 'j', q.jti);
    const consumerKey = this.#key(q.scope, 'c', q.consumer);
    const now = Date.now();
    const jti = jtiKey === undefined ? null : this.#cached(jtiKey, now);
    const consumer = this.#cached(consumerKey, now);
    if (jti !== undefined && consumer !== undefined) return decide(jti, consumer, q.issuedAt);
    return this.#lookup(jtiKey, jti, consumerKey, consumer, q.issuedAt);
  }

  async #lookup(
    jtiKey: string | undefined,
    jtiKnown: string | null | undefined,
    consumerKey: string,
    consumerKnown: string | null | undefined,
    issuedAt: number | undefined,
  ): Promise<boolean> {
    try {
      const [jti, consumer] = await Promise.all([
        jtiKnown !== undefined || jtiKey === undefined ? jtiKnown ?? null : this.#redis.get(jtiKey),
        consumerKnown !== undefined ? consumerKnown : this.#redis.get(consumerKey),
      ]);
      const until = Date.now() + this.#cacheMs;
      if (jtiKey !== undefined) this.#remember(jtiKey, jti, until);
      this.#remember(consumerKey, consumer, until);
      return decide(jti, consumer, issuedAt);
    } catch (e) {
      throw revocationUnavailable(`revocation lookup in redis failed: ${(e as Error).message}`, e);
    }
  }

  async revokeToken(scope: string, jti: string, ttlMs: number): Promise<void> {
    checkRevocationArgs(scope, jti, ttlMs);
    const k = this.#key(scope, 'j', jti);
    await this.#write(() => this.#redis.set(k, '1', 'PX', Math.ceil(ttlMs)));
    this.#remember(k, '1', Date.now() + this.#cacheMs);
  }

  async revokeConsumer(scope: string, consumer: string, beforeMs: number, ttlMs: number | undefined): Promise<void> {
    checkRevocationArgs(scope, consumer, ttlMs);
    const k = this.#key(scope, 'c', consumer);
    const before = consumerWatermark(beforeMs);
    const stored = await this.#write(() => this.#redis.eval(CONSUMER_REVOKE, 1, k, before, ttlMs === undefined ? '' : Math.ceil(ttlMs)));
    this.#remember(k, typeof stored === 'string' ? stored : String(before), Date.now() + this.#cacheMs);
  }

  async revokeOrWiden(r: WidenableRevocation): Promise<RevocationHeld> {
    checkWidenableArgs(r);
    await this.revokeToken(r.scope, r.jti, r.ttlMs);
    return 'token';
  }

  ready(timeoutMs: number): Promise<void> {
    return waitForRedis(this.#redis, timeoutMs).catch((e: unknown) => {
      throw revocationUnavailable(`revocation redis not ready: ${(e as Error).message}`, e);
    });
  }

  async close(): Promise<void> {
    this.#cache.clear();
    // Bounded whatever Redis does: a dead or stalled Redis must not hold shutdown.
    if (this.#owns) await closeRedis(this.#redis);
  }

  async #write<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (e) {
      throw revocationUnavailable(`revocation write to redis failed: ${(e as Error).message}`, e);
    }
  }

  #key(scope: string, kind: 'j' | 'c', id: string): string {
    return `${this.#prefix}${digest(scope)}:${kind}:${digest(id)}`;
  }

  /** undefined = not cached (or stale); null = cached as absent. */
  #cached(k: string, now: number): string | null | undefined {
    return this.#cache.get(k, now);
  }

  #remember(k: string, value: string | null, until: number): void {
    if (this.#cacheMs > 0) this.#cache.set(k, value, until);
  }
}

function decide(jti: string | null, consumer: string | null, issuedAt: number | undefined): boolean {
  if (jti !== null) return true;
  const before = consumer === null ? undefined : Number(consumer);
  // Only revokeConsumer writes these (whole seconds); rounding here too keeps keys older versions
  // wrote in ms meaning what they meant.
  return revokedBefore(before !== undefined && Number.isFinite(before) ? consumerWatermark(before) : undefined, issuedAt);
}

function digest(s: string): string {
  return createHash('sha256').update(s).digest('base64url').slice(0, 32);
}
