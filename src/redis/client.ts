// Redis connections for the session store, from one URL (forms in url.ts). Tuned to fail fast: a
// Check must never wait on a Redis that is down or stalled. options.password overrides the URL's
// password (so the password can come from its own Secret key).
import { createRequire } from 'node:module';
import type { ConnectionOptions } from 'node:tls';
import type { Cluster, Redis } from 'ioredis';
import { GatehouseError } from '../core/errors.js';
import { parseRedisUrl, type RedisTarget } from './url.js';

export { parseRedisUrl, type ParsedRedisUrl, type RedisNode, type RedisTarget } from './url.js';

export interface RedisClientOptions {
  readonly url: string;
  readonly username?: string | undefined;
  readonly password?: string | undefined;
  /** Password for the Sentinels themselves, when they require one. */
  readonly sentinelPassword?: string | undefined;
  /** A command without a reply by then fails; bounds how long Redis can hold a Check. Default 500. */
  readonly commandTimeoutMs?: number | undefined;
  /** Default 2000. */
  readonly connectTimeoutMs?: number | undefined;
  /** Reconnections a command in flight survives before failing. Default 1. */
  readonly maxRetriesPerRequest?: number | undefined;
  /** Cap of the reconnect backoff, so a Redis that returns is used again this soon. Default 500. */
  readonly reconnectMaxDelayMs?: number | undefined;
  /**
   * A connection that has commands out and hears nothing for this long is dropped and reconnected:
   * a stalled Redis (paused, half-open link) then fails commands at once instead of piling them up.
   * Default 2000.
   */
  readonly socketTimeoutMs?: number | undefined;
  /** Extra TLS settings (CA bundle, client certificate) for `rediss` URLs. */
  readonly tls?: ConnectionOptions | undefined;
  /** Connection errors (they also surface as failed commands); for logs and metrics. */
  readonly onError?: ((error: Error) => void) | undefined;
}

/** The commands the session store uses; both a single-server client and a Cluster provide them. */
export interface RedisConnection {
  readonly status: string;
  set(key: string, value: string, px: 'PX', milliseconds: number): Promise<unknown>;
  get(key: string): Promise<string | null>;
  getdel(key: string): Promise<string | null>;
  del(key: string): Promise<number>;
  pttl(key: string): Promise<number>;
  srem(key: string, member: string): Promise<number>;
  smembers(key: string): Promise<string[]>;
  eval(script: string, numKeys: number, ...args: (string | number)[]): Promise<unknown>;
  publish(channel: string, message: string): Promise<number>;
  ping(): Promise<string>;
  quit(): Promise<unknown>;
  disconnect(): void;
  once(event: 'ready', listener: () => void): unknown;
  removeListener(event: 'ready', listener: () => void): unknown;
}

/** The queues ioredis keeps per connection; `offlineQueue` is private in its types. */
interface Queues {
  readonly commandQueue?: { readonly length: number };
  readonly offlineQueue?: { readonly length: number };
}

type IoRedis = typeof import('ioredis');
let ioredis: IoRedis | undefined;

// ioredis (CommonJS, ~30 MB resident) is required on the first connection, not at import: a process
// whose policies and flags never name Redis never loads it, and creating a client stays synchronous.
export function loadIoRedis(): IoRedis {
  ioredis ??= createRequire(import.meta.url)('ioredis') as IoRedis;
  return ioredis;
}

// Every connection this process opened and has not closed: for the pending-command count.
const open = new Set<Redis | Cluster>();

// After disconnect() ioredis waits this long for the server's FIN before destroying the socket. Its
// default (2 s) holds the process after shutdown: a stalled Redis never sends the FIN, and for a
// socket that had already closed, ioredis waits for a 'close' event that never comes again.
const DISCONNECT_TIMEOUT_MS = 100;
/** How long close() lets QUIT take by default; less than the composition root's close margin. */
const REDIS_CLOSE_TIMEOUT_MS = 300;

/** The connection settings every topology shares, from the URL and the options. */
export function commonRedisOptions(options: RedisClientOptions) {
  const { target, ...fromUrl } = parseRedisUrl(options.url);
  const username = options.username ?? fromUrl.username;
  const password = options.password ?? fromUrl.password;
  const maxDelay = options.reconnectMaxDelayMs ?? 500;
  const common = {
    username,
    password,
    commandTimeout: options.commandTimeoutMs ?? 500,
    connectTimeout: options.connectTimeoutMs ?? 2000,
    maxRetriesPerRequest: options.maxRetriesPerRequest ?? 1,
    socketTimeout: options.socketTimeoutMs ?? 2000,
    disconnectTimeout: DISCONNECT_TIMEOUT_MS,
    // Failing at once while disconnected beats queueing requests behind a Redis that is gone.
    enableOfflineQueue: false,
    enableAutoPipelining: true,
    // No RESP3 feature is used; RESP2 also works with Redis < 6 and RESP2-only proxies.
    protocol: 2 as const,
    retryStrategy: (times: number): number => Math.min(50 * 2 ** Math.min(times, 8), maxDelay),
  };
  const tls = target.tls ? { ...options.tls } : undefined;
  return { target, common, tls };
}

/** Connects (in the background) per the URL. Commands fail at once until the connection is ready. */
export function createRedisClient(options: RedisClientOptions): { connection: RedisConnection; target: RedisTarget } {
  const { target, common, tls } = commonRedisOptions(options);
  const onError = options.onError ?? ((): void => {});
  const { Cluster, Redis } = loadIoRedis();
  switch (target.kind) {
    case 'standalone': {
      const client = new Redis({
        ...common,
        host: target.node.host,
        port: target.node.port,
        db: target.db,
        tls: tls === undefined ? undefined : { servername: target.node.host, ...tls },
      });
      return { connection: track(client, onError), target };
    }
    case 'sentinel': {
      const client = new Redis({
        ...common,
        sentinels: target.sentinels.map((n) => ({ host: n.host, port: n.port })),
        name: target.masterName,
        db: target.db,
        sentinelPassword: options.sentinelPassword,
        tls,
        enableTLSForSentinelMode: target.tls,
        sentinelRetryStrategy: common.retryStrategy,
      });
      return { connection: track(client, onError), target };
    }
    case 'cluster': {
      const { enableOfflineQueue, enableAutoPipelining: _, retryStrategy, ...redisOptions } = common;
      const client = new Cluster(
        target.nodes.map((n) => ({ host: n.host, port: n.port })),
        {
          enableOfflineQueue,
          // ioredis resends a pipeline that met MOVED, and learns the slot's new master, only when
          // every error in it is the same: after a failover an automatic pipeline holding two slots
          // (a revocation lookup's two GETs) failed every time. Single commands follow each MOVED.
          enableAutoPipelining: false,
          clusterRetryStrategy: retryStrategy,
          redisOptions: { ...redisOptions, tls },
        },
      );
      return { connection: track(client, onError), target };
    }
    default:
      return assertNever(target);
  }
}

function track<C extends Redis | Cluster>(client: C, onError: (error: Error) => void): C {
  client.on('error', onError);
  open.add(client);
  client.once('end', () => open.delete(client));
  return client;
}

// Startup waits still running per connection; closing the connection ends them (and their timers).
const waits = new WeakMap<RedisConnection, Set<(reason: string) => void>>();

/** Resolves once the connection accepts commands; rejects with session_store_unavailable after `timeoutMs` or on close. */
export function waitForRedis(connection: RedisConnection, timeoutMs: number): Promise<void> {
  if (connection.status === 'ready') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const pending = waits.get(connection) ?? new Set<(reason: string) => void>();
    waits.set(connection, pending);
    const settle = (failure: string | undefined): void => {
      clearTimeout(timer);
      connection.removeListener('ready', onReady);
      pending.delete(fail);
      if (failure === undefined) resolve();
      else reject(new GatehouseError('session_store_unavailable', failure));
    };
    const onReady = (): void => settle(undefined);
    const fail = (reason: string): void => settle(reason);
    const timer = setTimeout(() => fail(`redis not ready after ${timeoutMs} ms`), timeoutMs);
    pending.add(fail);
    connection.once('ready', onReady);
  });
}

/**
 * Closes a connection within about `timeoutMs` whatever Redis does: QUIT while it answers (so
 * replies in flight still arrive), then disconnect, which also cancels a pending reconnect; startup
 * waits on it end. Nothing of it then holds the event loop beyond DISCONNECT_TIMEOUT_MS.
 */
export async function closeRedis(connection: RedisConnection, timeoutMs = REDIS_CLOSE_TIMEOUT_MS): Promise<void> {
  for (const fail of waits.get(connection) ?? []) fail('redis connection closed');
  if (connection.status === 'ready') {
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
    });
    await Promise.race([connection.quit().then(noop, noop), bound]);
    clearTimeout(timer);
  }
  if (connection.status !== 'end') connection.disconnect();
  open.delete(connection as Redis | Cluster);
}

/**
 * Commands this process has handed to Redis connections and not yet seen answered (sent, or queued
 * while offline), over every open connection; bounded while Redis is down or stalled.
 */
export function pendingRedisCommands(): number {
  let total = 0;
  if (open.size === 0) return total;
  const { Cluster } = loadIoRedis();
  for (const client of open) {
    const nodes = client instanceof Cluster ? [client, ...client.nodes('all')] : [client];
    for (const n of nodes) {
      const q = n as unknown as Queues;
      total += (q.commandQueue?.length ?? 0) + (q.offlineQueue?.length ?? 0);
    }
  }
  return total;
}

function noop(): void {}

function assertNever(x: never): never {
  throw new Error(`unexpected ${JSON.stringify(x)}`);
}
