// Process-wide session backends: one memory store per policy (so a recompile keeps its sessions),
// one Redis connection per URL shared by every policy, all created on first use, closed on stop.
// Cookie-session logouts live in the process's revocation list (CompileEnv.jwt); this only holds the
// stand-in used when a policy is compiled without one.
import { MemoryRevocationList, type RevocationList } from '../revocation/revocation.js';
import { GatehouseError } from '../core/errors.js';
import { MemorySessionStore } from './memory-store.js';
import { closeRedis, createRedisClient, waitForRedis, type RedisClientOptions, type RedisConnection } from '../redis/client.js';
import { RedisSessionStore } from './redis-store.js';
import type { SessionCacheEvents } from './record-cache.js';
import { TokenRefresher } from './refresh.js';
import type { SessionStore } from './store.js';

/** Why a presented session cookie was not accepted. */
export type SessionRejectReason =
  | 'malformed'
  | 'unsupported_version'
  | 'unsupported_algorithm'
  | 'wrong_audience'
  | 'unknown_key'
  | 'tampered'
  | 'invalid_record'
  | 'forged'
  | 'not_found'
  | 'expired_idle'
  | 'expired_absolute'
  | 'not_yet_valid'
  | 'logged_out'
  /** The provider refused to refresh the session's tokens, or could not be reached: the session ended. */
  | 'refresh_failed';

/** Connect to a metric; called once per refused session cookie. */
export interface SessionRejectCounter {
  onReject(reason: SessionRejectReason, policy: string): void;
}

export interface SessionServicesOptions {
  /** `--redis-url`; without it `storage: redis` is a compile problem. */
  readonly redisUrl?: string | undefined;
  /** Extra connection settings (password, timeouts, TLS). */
  readonly redis?: Omit<RedisClientOptions, 'url'> | undefined;
  readonly onReject?: SessionRejectCounter['onReject'] | undefined;
  /**
   * How long a record read from Redis is reused on this replica (`--redis-session-cache-max-age`). Default
   * 0 (off). Writes are announced on `gatehouse:sess:invalidate`; see record-cache.ts.
   */
  readonly redisCacheMs?: number | undefined;
  /** Cache hits, misses, invalidations and subscription state, for metrics. */
  readonly onCache?: SessionCacheEvents | undefined;
  /** The engine's clock, which the Redis cache compares record expiries with. Default Date.now. */
  readonly clock?: (() => number) | undefined;
  /** Most sessions per memory store. */
  readonly memoryMaxEntries?: number | undefined;
  /**
   * For `gatehouse validate`: `storage: redis` compiles against a store that never connects (and
   * refuses every call), so policies can be checked without a Redis server.
   */
  readonly offline?: boolean | undefined;
}

/** Stands in for Redis when validating: compiles, never connects, refuses every call. */
const OFFLINE_STORE: SessionStore = Object.freeze({
  kind: 'redis' as const,
  put: () => Promise.reject(offline()),
  get: () => Promise.reject(offline()),
  replace: () => Promise.reject(offline()),
  delete: () => Promise.reject(offline()),
  deleteAllFor: () => Promise.reject(offline()),
  close: () => Promise.resolve(),
});

function offline(): GatehouseError {
  return new GatehouseError('session_store_unavailable', 'offline session services (validation only)');
}

export class SessionServices implements SessionRejectCounter {
  readonly redisUrl: string | undefined;
  /** Token refreshes in flight, process-wide: a recompiled policy still joins the refresh under way. */
  readonly refresher = new TokenRefresher();
  readonly #options: SessionServicesOptions;
  readonly #memory = new Map<string, MemorySessionStore>();
  #logouts: MemoryRevocationList | undefined;
  #redis: RedisConnection | undefined;
  #redisStore: RedisSessionStore | undefined;
  readonly #alongside: (() => void)[] = [];
  #closed = false;

  constructor(options: SessionServicesOptions = {}) {
    this.#options = options;
    this.redisUrl = options.redisUrl;
  }

  onReject(reason: SessionRejectReason, policy: string): void {
    this.#options.onReject?.(reason, policy);
  }

  /** The memory store of one policy; its clock is the first caller's (the injected clock). */
  memory(policyId: string, clock: () => number): SessionStore {
    let store = this.#memory.get(policyId);
    if (store === undefined) {
      store = new MemorySessionStore({ clock, maxEntries: this.#options.memoryMaxEntries });
      this.#memory.set(policyId, store);
    }
    return store;
  }

  /** The shared Redis store, or undefined when no URL is configured. Connects lazily. */
  redis(): SessionStore | undefined {
    if (this.#options.offline === true) return OFFLINE_STORE;
    const url = this.redisUrl;
    if (url === undefined || this.#closed) return undefined;
    if (this.#redisStore === undefined) {
      const client = { ...this.#options.redis, url };
      const { connection } = createRedisClient(client);
      this.#redis = connection;
      const cacheMs = this.#options.redisCacheMs ?? 0;
      const cache = cacheMs === 0 ? undefined : { maxAgeMs: cacheMs, subscriber: client, events: this.#options.onCache, clock: this.#options.clock };
      // Ids are random and signed per policy, and records carry their policy: one key space suffices.
      this.#redisStore = new RedisSessionStore({ connection, ownsConnection: false, cache });
    }
    return this.#redisStore;
  }

  /**
   * Connects to Redis now (when configured) and waits until it answers: commands are not queued
   * while disconnected, so call it at startup before reporting ready. Rejects after `timeoutMs`.
   */
  async ready(timeoutMs = 5000): Promise<void> {
    if (this.redis() === undefined || this.#redis === undefined) return;
    await waitForRedis(this.#redis, timeoutMs);
  }

  /** The logout list of cookie sessions compiled without process services: in memory, on `clock`. */
  localLogouts(clock: () => number): RevocationList {
    this.#logouts ??= new MemoryRevocationList({ clock });
    return this.#logouts;
  }

  /**
   * Registers what serves these sessions and must stop with them: the identity providers that
   * refresh their tokens (background discovery, requests under way). Closed first by close().
   */
  closeAlongside(stop: () => void): void {
    if (this.#closed) stop();
    else this.#alongside.push(stop);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const stop of this.#alongside.splice(0)) stop();
    const stores = [...this.#memory.values()];
    this.#memory.clear();
    await Promise.all(stores.map((s) => s.close()));
    await this.#logouts?.close();
    const redis = this.#redis;
    const redisStore = this.#redisStore;
    this.#redis = undefined;
    this.#redisStore = undefined;
    // Stops the invalidation subscriber; the shared connection is closed below.
    await redisStore?.close();
    // Bounded whatever Redis does: a dead or stalled Redis must not hold shutdown.
    if (redis !== undefined) await closeRedis(redis);
  }
}

export function createSessionServices(options: SessionServicesOptions = {}): SessionServices {
  return new SessionServices(options);
}
