// One Redis pub/sub channel heard on a connection of its own (a subscribed connection takes no other
// command). `subscribed` is true only from the server's confirmation of SUBSCRIBE until the first
// sign of trouble: the connection closing, or a keepalive PING left unanswered (a stalled or
// half-open link). Whoever must not miss a message (the session cache) relies on it only while true.
// Each connection attempt is a new client, so a Cluster's subscriber can move to another node: in a
// Cluster every node delivers every PUBLISH, whichever node received it.
import type { Redis } from 'ioredis';
import { commonRedisOptions, loadIoRedis, type RedisClientOptions } from './client.js';
import type { RedisTarget } from './url.js';

export interface RedisSubscriberOptions extends RedisClientOptions {
  readonly channel: string;
  /** Each message published on the channel, while subscribed. */
  readonly onMessage: (message: string) => void;
  /** Called on every change of `subscribed`. */
  readonly onState: (subscribed: boolean) => void;
  /** A PING this often checks that the link still carries messages. Default 1000. */
  readonly keepaliveMs?: number | undefined;
}

export interface RedisSubscription {
  readonly subscribed: boolean;
  /** Stops listening and reconnecting; `subscribed` turns false. */
  close(): void;
}

/** Starts listening in the background; `onState(true)` once the server confirmed the subscription. */
export function subscribeRedis(options: RedisSubscriberOptions): RedisSubscription {
  return new Subscription(options);
}

class Subscription implements RedisSubscription {
  readonly #o: RedisSubscriberOptions;
  readonly #settings: ReturnType<typeof commonRedisOptions>;
  #client: Redis | undefined;
  #attempt = 0;
  #subscribed = false;
  #closed = false;
  #retry: NodeJS.Timeout | undefined;
  readonly #keepalive: NodeJS.Timeout;

  constructor(options: RedisSubscriberOptions) {
    this.#o = options;
    this.#settings = commonRedisOptions(options);
    this.#keepalive = setInterval(() => this.#ping(), options.keepaliveMs ?? 1000);
    this.#keepalive.unref();
    this.#connect();
  }

  get subscribed(): boolean {
    return this.#subscribed;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#keepalive);
    clearTimeout(this.#retry);
    const client = this.#client;
    this.#client = undefined;
    this.#setState(false);
    client?.disconnect();
  }

  #connect(): void {
    const client = this.#newClient(this.#attempt);
    this.#client = client;
    const current = (): boolean => this.#client === client && !this.#closed;
    client.on('error', (e: Error) => this.#o.onError?.(e));
    client.on('message', (channel: string, message: string) => {
      if (current() && this.#subscribed && channel === this.#o.channel) this.#o.onMessage(message);
    });
    client.once('ready', () => {
      client.subscribe(this.#o.channel).then(
        () => {
          if (!current()) return;
          this.#attempt = 0;
          this.#setState(true);
        },
        () => client.disconnect(),
      );
    });
    client.on('close', () => {
      if (current()) this.#setState(false);
    });
    client.once('end', () => {
      if (!current()) return;
      this.#setState(false);
      const delay = this.#settings.common.retryStrategy(++this.#attempt);
      this.#retry = setTimeout(() => {
        if (!this.#closed) this.#connect();
      }, delay);
    });
  }

  #ping(): void {
    const client = this.#client;
    if (client === undefined || !this.#subscribed) return;
    // Fails after the command timeout when nothing answers: drop the link, the next client subscribes anew.
    client.ping().catch(() => {
      if (this.#client === client) {
        this.#setState(false);
        client.disconnect();
      }
    });
  }

  #setState(subscribed: boolean): void {
    if (this.#subscribed === subscribed) return;
    this.#subscribed = subscribed;
    this.#o.onState(subscribed);
  }

  /** A client that connects once (no reconnect of its own), to the node this attempt picks. */
  #newClient(attempt: number): Redis {
    const { target, common, tls } = this.#settings;
    const { Redis } = loadIoRedis();
    const { enableAutoPipelining: _p, retryStrategy: _r, ...base } = common;
    const shared = { ...base, retryStrategy: null, autoResubscribe: false, enableOfflineQueue: true };
    const node = pick(target, attempt);
    switch (node.kind) {
      case 'sentinel':
        return new Redis({
          ...shared,
          sentinels: node.target.sentinels.map((n) => ({ host: n.host, port: n.port })),
          name: node.target.masterName,
          sentinelPassword: this.#o.sentinelPassword,
          tls,
          enableTLSForSentinelMode: node.target.tls,
          sentinelRetryStrategy: () => null,
        });
      case 'node':
        return new Redis({ ...shared, host: node.host, port: node.port, tls: tls === undefined ? undefined : { servername: node.host, ...tls } });
      default: {
        const never: never = node;
        throw new Error(`unexpected ${JSON.stringify(never)}`);
      }
    }
  }
}

type Pick =
  | { readonly kind: 'node'; readonly host: string; readonly port: number }
  | { readonly kind: 'sentinel'; readonly target: Extract<RedisTarget, { kind: 'sentinel' }> };

/** A server, a Sentinel-named master, or the Cluster's seed nodes in turn. */
function pick(target: RedisTarget, attempt: number): Pick {
  switch (target.kind) {
    case 'standalone':
      return { kind: 'node', host: target.node.host, port: target.node.port };
    case 'sentinel':
      return { kind: 'sentinel', target };
    case 'cluster': {
      const n = target.nodes[attempt % target.nodes.length] ?? target.nodes[0];
      if (n === undefined) throw new Error('a cluster URL names at least one node');
      return { kind: 'node', host: n.host, port: n.port };
    }
    default: {
      const never: never = target;
      throw new Error(`unexpected ${JSON.stringify(never)}`);
    }
  }
}
