// Redis connections for the session store, from one URL. Tuned to fail fast: a Check must never
// wait on a Redis that is down or stalled.
//
// URL forms (`rediss` variants use TLS; `user:password@` is optional everywhere):
//   redis://[user:password@]host[:port][/db]                                 one server (port 6379)
//   redis+sentinel://[user:password@]host[:port][,host[:port]...]/master[/db]   Sentinel (port 26379)
//   redis+cluster://[user:password@]host[:port][,host[:port]...]             Redis Cluster seed nodes
// IPv6 hosts go in brackets: `redis://[::1]:6379`. Credentials in the URL are percent-decoded;
// options.password overrides them (so the password can come from its own Secret key).
import type { ConnectionOptions } from 'node:tls';
import { Cluster, Redis } from 'ioredis';
import { GatehouseError } from '../core/errors.js';

export interface RedisNode {
  readonly host: string;
  readonly port: number;
}

export type RedisTarget =
  | { readonly kind: 'standalone'; readonly node: RedisNode; readonly db: number; readonly tls: boolean }
  | {
      readonly kind: 'sentinel';
      readonly sentinels: readonly RedisNode[];
      readonly masterName: string;
      readonly db: number;
      readonly tls: boolean;
    }
  | { readonly kind: 'cluster'; readonly nodes: readonly RedisNode[]; readonly tls: boolean };

export interface ParsedRedisUrl {
  readonly target: RedisTarget;
  readonly username: string | undefined;
  readonly password: string | undefined;
}

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
  /** Cap of the reconnect backoff. Default 2000. */
  readonly reconnectMaxDelayMs?: number | undefined;
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
  srem(key: string, member: string): Promise<number>;
  smembers(key: string): Promise<string[]>;
  eval(script: string, numKeys: number, ...args: (string | number)[]): Promise<unknown>;
  ping(): Promise<string>;
  quit(): Promise<unknown>;
  disconnect(): void;
  once(event: 'ready', listener: () => void): unknown;
  removeListener(event: 'ready', listener: () => void): unknown;
}

const SCHEMES: Readonly<Record<string, { kind: RedisTarget['kind']; tls: boolean }>> = {
  redis: { kind: 'standalone', tls: false },
  rediss: { kind: 'standalone', tls: true },
  'redis+sentinel': { kind: 'sentinel', tls: false },
  'rediss+sentinel': { kind: 'sentinel', tls: true },
  'redis+cluster': { kind: 'cluster', tls: false },
  'rediss+cluster': { kind: 'cluster', tls: true },
};

/** Parses a Redis URL; errors never repeat the URL, which may hold a password. */
export function parseRedisUrl(url: string): ParsedRedisUrl {
  const bad = (detail: string): GatehouseError =>
    new GatehouseError('session_config_invalid', `session redis url: ${detail}`);
  const m = /^([a-z+]+):\/\/([^/?#]*)(\/[^?#]*)?$/.exec(url);
  if (m === null) throw bad('expected scheme://hosts[/path] with no query or fragment');
  const scheme = SCHEMES[m[1] ?? ''];
  if (scheme === undefined) throw bad(`unknown scheme; use one of ${Object.keys(SCHEMES).join(', ')}`);
  let authority = m[2] ?? '';
  const path = (m[3] ?? '').replace(/^\//, '');
  let username: string | undefined;
  let password: string | undefined;
  const at = authority.lastIndexOf('@');
  if (at !== -1) {
    const userinfo = authority.slice(0, at);
    authority = authority.slice(at + 1);
    const colon = userinfo.indexOf(':');
    username = decode(colon === -1 ? userinfo : userinfo.slice(0, colon), bad) || undefined;
    password = colon === -1 ? undefined : decode(userinfo.slice(colon + 1), bad) || undefined;
  }
  const defaultPort = scheme.kind === 'sentinel' ? 26379 : 6379;
  const nodes = authority.split(',').map((h) => parseNode(h, defaultPort, bad));
  const segments = path === '' ? [] : path.split('/');
  switch (scheme.kind) {
    case 'standalone': {
      const node = nodes[0];
      if (node === undefined || nodes.length !== 1) throw bad('redis:// takes exactly one host');
      if (segments.length > 1) throw bad('path must be /<db>');
      const target = { kind: 'standalone' as const, node, db: parseDb(segments[0], bad), tls: scheme.tls };
      return { target, username, password };
    }
    case 'sentinel': {
      const masterName = segments[0];
      if (masterName === undefined || masterName === '') throw bad('sentinel URL needs /<masterName>');
      if (segments.length > 2) throw bad('path must be /<masterName>[/<db>]');
      const target = {
        kind: 'sentinel' as const,
        sentinels: nodes,
        masterName: decode(masterName, bad),
        db: parseDb(segments[1], bad),
        tls: scheme.tls,
      };
      return { target, username, password };
    }
    case 'cluster':
      if (segments.length > 0) throw bad('cluster URL takes no path (Redis Cluster has only db 0)');
      return { target: { kind: 'cluster', nodes, tls: scheme.tls }, username, password };
    default:
      return assertNever(scheme.kind);
  }
}

function parseNode(text: string, defaultPort: number, bad: (d: string) => GatehouseError): RedisNode {
  const m = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)(?::([0-9]{1,5}))?$/.exec(text);
  if (m === null || m[1] === undefined) throw bad('each host must be host[:port]');
  const port = m[2] === undefined ? defaultPort : Number(m[2]);
  if (port < 1 || port > 65535) throw bad('port out of range');
  return { host: m[1].replace(/^\[(.*)\]$/, '$1'), port };
}

function parseDb(text: string | undefined, bad: (d: string) => GatehouseError): number {
  if (text === undefined || text === '') return 0;
  if (!/^[0-9]{1,3}$/.test(text)) throw bad('db must be a number');
  return Number(text);
}

function decode(text: string, bad: (d: string) => GatehouseError): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw bad('bad percent-encoding');
  }
}

/** Connects (in the background) per the URL. Commands fail at once until the connection is ready. */
export function createRedisClient(options: RedisClientOptions): { connection: RedisConnection; target: RedisTarget } {
  const { target, ...fromUrl } = parseRedisUrl(options.url);
  const username = options.username ?? fromUrl.username;
  const password = options.password ?? fromUrl.password;
  const maxDelay = options.reconnectMaxDelayMs ?? 2000;
  const common = {
    username,
    password,
    commandTimeout: options.commandTimeoutMs ?? 500,
    connectTimeout: options.connectTimeoutMs ?? 2000,
    maxRetriesPerRequest: options.maxRetriesPerRequest ?? 1,
    // Failing at once while disconnected beats queueing requests behind a Redis that is gone.
    enableOfflineQueue: false,
    enableAutoPipelining: true,
    // No RESP3 feature is used; RESP2 also works with Redis < 6 and RESP2-only proxies.
    protocol: 2 as const,
    retryStrategy: (times: number): number => Math.min(50 * 2 ** Math.min(times, 8), maxDelay),
  };
  const tls = target.tls ? { ...options.tls } : undefined;
  const onError = options.onError ?? ((): void => {});
  switch (target.kind) {
    case 'standalone': {
      const client = new Redis({
        ...common,
        host: target.node.host,
        port: target.node.port,
        db: target.db,
        tls: tls === undefined ? undefined : { servername: target.node.host, ...tls },
      });
      client.on('error', onError);
      return { connection: client, target };
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
      client.on('error', onError);
      return { connection: client, target };
    }
    case 'cluster': {
      const { enableOfflineQueue, enableAutoPipelining, retryStrategy, ...redisOptions } = common;
      const client = new Cluster(
        target.nodes.map((n) => ({ host: n.host, port: n.port })),
        {
          enableOfflineQueue,
          enableAutoPipelining,
          clusterRetryStrategy: retryStrategy,
          redisOptions: { ...redisOptions, tls },
        },
      );
      client.on('error', onError);
      return { connection: client, target };
    }
    default:
      return assertNever(target);
  }
}

/** Resolves once the connection accepts commands; rejects with session_store_unavailable after `timeoutMs`. */
export function waitForRedis(connection: RedisConnection, timeoutMs: number): Promise<void> {
  if (connection.status === 'ready') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onReady = (): void => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      connection.removeListener('ready', onReady);
      reject(
        new GatehouseError('session_store_unavailable', `redis not ready after ${timeoutMs} ms`),
      );
    }, timeoutMs);
    connection.once('ready', onReady);
  });
}

function assertNever(x: never): never {
  throw new Error(`unexpected ${JSON.stringify(x)}`);
}
