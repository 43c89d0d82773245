// Process-wide parts the `jwt` method compiles against: remote key caches, the revocation list and
// the verified-token cache. Created once by the composition root; compile falls back to one
// process-local instance (in-memory revocation) when none is given.
import { createRedisClient } from '../../redis/client.js';
import { silentLogger, type Logger } from '../../telemetry/log.js';
import { JwksRegistry, type JwksOptions } from './jwks-cache.js';
import { TokenCache } from './token-cache.js';
import { MemoryRevocationList, type MemoryRevocationOptions, type RevocationList } from '../../revocation/revocation.js';
import { RedisRevocationList } from '../../revocation/redis.js';

export interface JwtServices {
  readonly jwks: JwksRegistry;
  readonly revocation: RevocationList;
  readonly tokens: TokenCache;
  /** Where `secretFromEnv` reads from. */
  readonly env: Readonly<Record<string, string | undefined>>;
  close(): Promise<void>;
}

export interface JwtServicesOptions {
  /** Revocation kept in Redis when set (the same URL forms as sessions); in memory otherwise. */
  readonly redisUrl?: string | undefined;
  readonly logger?: Logger | undefined;
  readonly env?: Readonly<Record<string, string | undefined>> | undefined;
  /** Verified tokens held (LRU). Default 10000; 0 disables the cache. */
  readonly tokenCacheSize?: number | undefined;
  /** How long a Redis revocation answer is reused, in ms. Default 1000. */
  readonly revocationCacheMs?: number | undefined;
  readonly jwks?: Partial<JwksOptions> | undefined;
  /** Supplies the revocation list instead of building one. */
  readonly revocation?: RevocationList | undefined;
  /** The clock of an in-memory revocation list (the engine's, so expiries agree). Default Date.now. */
  readonly clock?: (() => number) | undefined;
  /** Counts logouts an in-memory revocation list had to hold as wider watermarks. */
  readonly onRevocationWidened?: MemoryRevocationOptions['onWidened'];
}

export function createJwtServices(options: JwtServicesOptions = {}): JwtServices {
  const logger = options.logger ?? silentLogger;
  const jwks = new JwksRegistry({ logger, ...options.jwks });
  const revocation = options.revocation ?? revocationFor(options, logger);
  const tokens = new TokenCache(options.tokenCacheSize ?? 10_000);
  return {
    jwks,
    revocation,
    tokens,
    env: options.env ?? process.env,
    close: async () => {
      jwks.close();
      tokens.clear();
      await revocation.close();
    },
  };
}

function revocationFor(options: JwtServicesOptions, logger: Logger): RevocationList {
  if (options.redisUrl === undefined || options.redisUrl === '') {
    return new MemoryRevocationList({ clock: options.clock, logger, onWidened: options.onRevocationWidened });
  }
  const { connection } = createRedisClient({
    url: options.redisUrl,
    onError: (e) => logger.warn('revocation redis error', { error: e.message }),
  });
  return new RedisRevocationList({ connection, cacheMs: options.revocationCacheMs });
}

let processDefault: JwtServices | undefined;

/** The process-local services used when the compile environment brings none. */
export function defaultJwtServices(): JwtServices {
  processDefault ??= createJwtServices();
  return processDefault;
}
