import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { GatehouseError } from '../src/core/errors.js';
import type { Identity } from '../src/core/identity.js';
import { SessionIdSigner, SessionKeys } from '../src/session/codec.js';
import { MemorySessionStore } from '../src/session/memory-store.js';
import { createSessionRecord, type SessionRecord } from '../src/session/record.js';
import { parseRedisUrl } from '../src/redis/client.js';
import { connectRedisSessionStore, type RedisSessionStore } from '../src/session/redis-store.js';
import type { SessionStore } from '../src/session/store.js';
import { eventually } from './support/eventually.js';
import {
  elapseOnRedis,
  startRedis,
  startRedisCluster,
  startSentinel,
  type RedisGroup,
  type RedisServer,
} from './support/redis.js';

/** Every test ends in bounded time, whatever a dependency does. */
const BOUNDED = { timeout: 20_000 };

const SHOP = 'shop/storefront';
const ADMIN = 'shop/admin';
const SECRET = 'store-test-secret-0123456789abcdef';
const TIMEOUTS = { absoluteMs: 86_400_000, idleMs: 1_800_000, renewBeforeMs: 600_000 };
const COMMAND_TIMEOUT_MS = 300;
const signer = new SessionIdSigner(SessionKeys.derive({ audience: SHOP, secrets: [SECRET] }));

function identity(consumerId: string): Identity {
  return {
    method: 'keys',
    consumerId,
    username: consumerId,
    customId: undefined,
    credential: 'partner-keys/key-1',
    groups: ['partners'],
    anonymous: false,
    claims: {},
    headers: [],
  };
}

function session(consumerId = 'alice', aud = SHOP, now = Date.now()): SessionRecord {
  return createSessionRecord(aud, identity(consumerId), now, TIMEOUTS);
}

function newId(): string {
  return signer.mint().id;
}

async function rejectsUnavailable(p: Promise<unknown>): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof GatehouseError, `expected a GatehouseError, got ${String(e)}`);
    assert.equal(e.code, 'session_store_unavailable');
    assert.equal(e.kind, 'unavailable');
    return true;
  });
}

interface Fixture {
  readonly store: SessionStore;
  /** Lets `ms` of store time pass (a fake clock for memory, the server's own clock for Redis). */
  elapse(ms: number): Promise<void>;
}

/** The behaviour every SessionStore promises, run against each implementation. */
function storeContract(name: string, fixture: () => Fixture): void {
  describe(`${name} store contract`, () => {
    it('a stored session reads back exactly', BOUNDED, async () => {
      const { store } = fixture();
      const id = newId();
      const record = session('alice');
      await store.put(id, record, 60_000);
      assert.deepEqual(await store.get(id), record);
    });

    it('an id never stored reads as absent', BOUNDED, async () => {
      assert.equal(await fixture().store.get(newId()), undefined);
    });

    it('ids not shaped like a minted id read as absent, and cannot be written', BOUNDED, async () => {
      const { store } = fixture();
      for (const id of ['', 'x', '../../etc', `${newId()}*`, 'idx:abc', 'A'.repeat(44), `${newId().slice(0, 42)}:`]) {
        assert.equal(await store.get(id), undefined, id);
        await store.delete(id);
      }
      await assert.rejects(store.put('chosen-by-client', session(), 1000), (e: unknown) => {
        return e instanceof GatehouseError && e.code === 'session_store_invalid_put';
      });
      await assert.rejects(store.put(newId(), session(), 0), (e: unknown) => {
        return e instanceof GatehouseError && e.code === 'session_store_invalid_put';
      });
    });

    it('a forged or foreign session cookie is refused before the store is asked', BOUNDED, async () => {
      const { store } = fixture();
      const { id, cookieValue } = signer.mint();
      const record = session();
      await store.put(id, record, 60_000);
      const mac = cookieValue.split('.')[1];
      assert.deepEqual(signer.verify(`${randomBytes(32).toString('base64url')}.${mac}`), { ok: false, reason: 'forged' });
      const admin = new SessionIdSigner(SessionKeys.derive({ audience: ADMIN, secrets: [SECRET] }));
      assert.deepEqual(signer.verify(admin.sign(id)), { ok: false, reason: 'forged' });
      const verified = signer.verify(cookieValue);
      assert.ok(verified.ok);
      assert.deepEqual(await store.get(verified.id), record);
    });

    it('put replaces the record under the same id (renewal)', BOUNDED, async () => {
      const { store } = fixture();
      const id = newId();
      const first = session('alice');
      const renewed = { ...first, lat: first.lat + 1000, idleExp: first.idleExp + 1000 };
      await store.put(id, first, 60_000);
      await store.put(id, renewed, 60_000);
      assert.deepEqual(await store.get(id), renewed);
    });

    it('a login through an OpenID provider keeps its tokens, and they read back exactly', BOUNDED, async () => {
      const { store } = fixture();
      const id = newId();
      const record: SessionRecord = {
        ...session('alice'),
        rev: 3,
        tokens: { at: 'a'.repeat(3000), ate: Date.now() + 60_000, rt: 'refresh-1', it: 'h.p.s', ui: { sub: 'alice', email: 'alice@example.com' } },
      };
      await store.put(id, record, 60_000);
      assert.deepEqual(await store.get(id), record);
    });

    it('compare-and-set writes only over the revision it read, so two writers cannot both win', BOUNDED, async () => {
      const { store } = fixture();
      const id = newId();
      const first = session('alice');
      await store.put(id, first, 60_000);
      const mine = { ...first, rev: 1, tokens: { at: 'mine' } };
      const theirs = { ...first, rev: 1, tokens: { at: 'theirs' } };
      const results = await Promise.all([store.replace(id, 0, mine, 60_000), store.replace(id, 0, theirs, 60_000)]);
      assert.deepEqual([...results].sort(), [false, true], 'exactly one of two concurrent writers wins');
      const winner = results[0] === true ? mine : theirs;
      assert.deepEqual(await store.get(id), winner);
      assert.equal(await store.replace(id, 0, { ...first, rev: 1 }, 60_000), false, 'revision 0 is gone');
      const next = { ...winner, rev: 2, tokens: { at: 'refreshed' } };
      assert.equal(await store.replace(id, 1, next, 60_000), true);
      assert.deepEqual(await store.get(id), next);
    });

    it('compare-and-set never brings back a session that was deleted (logged out) meanwhile', BOUNDED, async () => {
      const { store } = fixture();
      const id = newId();
      const record = session('alice');
      await store.put(id, record, 60_000);
      await store.delete(id);
      assert.equal(await store.replace(id, 0, { ...record, rev: 1 }, 60_000), false);
      assert.equal(await store.get(id), undefined);
      assert.equal(await store.replace(newId(), 0, { ...record, rev: 1 }, 60_000), false, 'never stored');
      await assert.rejects(store.replace('chosen-by-client', 0, record, 1000), (e: unknown) => e instanceof GatehouseError && e.code === 'session_store_invalid_put');
    });

    it('a session replaced by compare-and-set stays in its consumer\'s index for log out everywhere', BOUNDED, async () => {
      const f = fixture();
      const consumer = `heidi-${randomBytes(4).toString('hex')}`;
      const id = newId();
      const record = session(consumer);
      await f.store.put(id, record, 60_000);
      assert.equal(await f.store.replace(id, 0, { ...record, rev: 1, tokens: { at: 'x' } }, 60_000), true);
      assert.equal(await f.store.deleteAllFor(SHOP, consumer), 1);
      assert.equal(await f.store.get(id), undefined);
    });

    it('delete removes one session; deleting an absent one is fine', BOUNDED, async () => {
      const { store } = fixture();
      const keep = newId();
      const drop = newId();
      await store.put(keep, session('alice'), 60_000);
      await store.put(drop, session('alice'), 60_000);
      await store.delete(drop);
      await store.delete(drop);
      await store.delete(newId());
      assert.equal(await store.get(drop), undefined);
      assert.notEqual(await store.get(keep), undefined);
    });

    it('a session is gone once its ttl has passed', BOUNDED, async () => {
      const f = fixture();
      const id = newId();
      await f.store.put(id, session(), 300);
      assert.notEqual(await f.store.get(id), undefined);
      await f.elapse(400);
      assert.equal(await f.store.get(id), undefined);
    });

    it('log out everywhere removes all sessions of one consumer under one policy, and only those', BOUNDED, async () => {
      const f = fixture();
      const consumer = `carol-${randomBytes(4).toString('hex')}`;
      const mine = [newId(), newId(), newId()];
      const others = { bob: newId(), adminCarol: newId(), expired: newId(), deleted: newId() };
      for (const id of mine) await f.store.put(id, session(consumer), 60_000);
      await f.store.put(others.bob, session(`bob-${consumer}`), 60_000);
      await f.store.put(others.adminCarol, session(consumer, ADMIN), 60_000);
      await f.store.put(others.expired, session(consumer), 100);
      await f.store.put(others.deleted, session(consumer), 60_000);
      await f.store.delete(others.deleted);
      await f.elapse(200);
      assert.equal(await f.store.deleteAllFor(SHOP, consumer), 3, 'live sessions only');
      for (const id of mine) assert.equal(await f.store.get(id), undefined);
      assert.notEqual(await f.store.get(others.bob), undefined);
      assert.notEqual(await f.store.get(others.adminCarol), undefined);
      assert.equal(await f.store.deleteAllFor(SHOP, consumer), 0);
      assert.equal(await f.store.deleteAllFor(SHOP, 'nobody'), 0);
      assert.equal(await f.store.deleteAllFor(ADMIN, consumer), 1);
    });

    it('consumer ids with separators do not collide in the per-consumer index', BOUNDED, async () => {
      const f = fixture();
      const a = newId();
      const b = newId();
      await f.store.put(a, session('x.y', 'p:q'), 60_000);
      await f.store.put(b, session('y', 'p:q.x'), 60_000);
      assert.equal(await f.store.deleteAllFor('p:q', 'x.y'), 1);
      assert.notEqual(await f.store.get(b), undefined);
    });
  });
}

describe('memory session store', () => {
  let now = Date.now();
  const clock = (): number => now;
  const store = new MemorySessionStore({ clock });
  after(() => store.close());

  storeContract('memory', () => ({
    store,
    elapse: async (ms: number) => {
      now += ms;
    },
  }));

  it('expires at exactly its ttl on the injected clock', BOUNDED, async () => {
    const id = newId();
    await store.put(id, session(), 1000);
    now += 999;
    assert.notEqual(await store.get(id), undefined);
    now += 1;
    assert.equal(await store.get(id), undefined);
  });

  it('is bounded: when full, the least recently used session goes first', BOUNDED, async () => {
    const small = new MemorySessionStore({ maxEntries: 3, clock });
    const [a, b, c, d] = [newId(), newId(), newId(), newId()];
    await small.put(a, session('a'), 60_000);
    await small.put(b, session('b'), 60_000);
    await small.put(c, session('c'), 60_000);
    await small.get(a);
    await small.put(d, session('d'), 60_000);
    assert.equal(small.size, 3);
    assert.equal(await small.get(b), undefined);
    for (const id of [a, c, d]) assert.notEqual(await small.get(id), undefined);
    assert.equal(await small.deleteAllFor(SHOP, 'b'), 0, 'the evicted session left the index too');
  });

  it('hands out records the caller cannot change behind its back', BOUNDED, async () => {
    const id = newId();
    const record = { ...session(), groups: ['partners'] };
    await store.put(id, record, 60_000);
    record.groups.push('admins');
    const stored = await store.get(id);
    assert.deepEqual(stored?.groups, ['partners']);
    assert.throws(() => (stored?.groups as string[]).push('admins'), TypeError);
  });

  it('a closed store answers session_store_unavailable', BOUNDED, async () => {
    const closed = new MemorySessionStore({ clock });
    await closed.close();
    await rejectsUnavailable(closed.get(newId()));
    await rejectsUnavailable(closed.put(newId(), session(), 1000));
    await rejectsUnavailable(closed.replace(newId(), 0, session(), 1000));
  });
});

describe('redis session store', () => {
  let redis: RedisServer;
  let store: RedisSessionStore;
  let raw: Redis;

  before(async () => {
    redis = await startRedis();
    store = await connectRedisSessionStore({
      url: redis.url,
      commandTimeoutMs: COMMAND_TIMEOUT_MS,
      reconnectMaxDelayMs: 100,
    });
    raw = new Redis({ host: '127.0.0.1', port: redis.port, lazyConnect: true, maxRetriesPerRequest: 1 });
    raw.on('error', () => {});
  }, { timeout: 700_000 }); // the first run may install redis-server through apt
  after(async () => {
    raw?.disconnect();
    await store?.close();
    await redis?.stop();
  }, { timeout: 15_000 });

  storeContract('redis', () => ({ store, elapse: (ms: number) => elapseOnRedis(redis.port, ms) }));

  it('writes the record under gatehouse:sess:<id> with its ttl, and a per-consumer index', BOUNDED, async () => {
    const id = newId();
    const record = session('dave');
    await store.put(id, record, 5000);
    const pttl = await raw.pttl(`gatehouse:sess:${id}`);
    assert.ok(pttl > 4000 && pttl <= 5000, `pttl ${pttl}`);
    assert.equal(await raw.get(`gatehouse:sess:${id}`), JSON.stringify(record));
    const indexKey = `gatehouse:sess:idx:${Buffer.from(SHOP).toString('base64url')}.${Buffer.from('dave').toString('base64url')}`;
    assert.deepEqual(await raw.smembers(indexKey), [id]);
    const indexTtl = await raw.pttl(indexKey);
    assert.ok(indexTtl > 4000 && indexTtl <= 5000, `index pttl ${indexTtl}`);
    await store.put(newId(), session('dave'), 1000);
    assert.ok((await raw.pttl(indexKey)) > 4000, 'a shorter session does not shorten the index');
  });

  it('a stored entry that is not a valid record reads as absent', BOUNDED, async () => {
    const id = newId();
    await raw.set(`gatehouse:sess:${id}`, '{"v":1,"aud":"x"}');
    assert.equal(await store.get(id), undefined);
    await raw.set(`gatehouse:sess:${id}`, 'not json');
    assert.equal(await store.get(id), undefined);
    assert.equal(await store.replace(id, 0, { ...session(), rev: 1 }, 60_000), false, 'compare-and-set over garbage writes nothing');
    assert.equal(await raw.get(`gatehouse:sess:${id}`), 'not json');
  });

  it('1,000 put-then-get in a row never miss', BOUNDED, async () => {
    for (let i = 0; i < 1000; i++) {
      const id = newId();
      const record = session(`user-${i}`);
      await store.put(id, record, 60_000);
      const got = await store.get(id);
      assert.equal(got?.sub, `user-${i}`, `miss at ${i}`);
    }
  });

  it('a stalled Redis fails commands within the command timeout, then recovers', BOUNDED, async () => {
    const id = newId();
    await store.put(id, session(), 60_000);
    redis.pause();
    try {
      const started = performance.now();
      await rejectsUnavailable(store.get(id));
      const took = performance.now() - started;
      assert.ok(took >= COMMAND_TIMEOUT_MS - 20 && took < 1000, `took ${took.toFixed(0)} ms`);
    } finally {
      redis.resume();
    }
    await waitForStore(store);
    assert.equal((await store.get(id))?.sub, 'alice');
  });

  it('a killed Redis fails every operation fast with session_store_unavailable; after restart it works again', BOUNDED, async () => {
    const id = newId();
    await store.put(id, session(), 60_000);
    await redis.kill();
    for (const op of [
      () => store.get(id),
      () => store.put(newId(), session(), 60_000),
      () => store.delete(id),
      () => store.replace(id, 0, { ...session(), rev: 1 }, 60_000),
      () => store.deleteAllFor(SHOP, 'alice'),
    ]) {
      const started = performance.now();
      await rejectsUnavailable(op());
      const took = performance.now() - started;
      assert.ok(took < 1000, `took ${took.toFixed(0)} ms`);
    }
    await redis.restart();
    await waitForStore(store);
    assert.equal(await store.get(id), undefined, 'the restarted server is empty (no persistence)');
    const fresh = newId();
    await store.put(fresh, session('erin'), 60_000);
    assert.equal((await store.get(fresh))?.sub, 'erin');
  });

  it('connecting to a port where nothing listens fails with session_store_unavailable', BOUNDED, async () => {
    const started = performance.now();
    await rejectsUnavailable(
      connectRedisSessionStore({ url: 'redis://127.0.0.1:1', readyTimeoutMs: 300, reconnectMaxDelayMs: 100 }),
    );
    assert.ok(performance.now() - started < 1000);
  });
});

describe('redis session store with the replica cache', () => {
  let redis: RedisServer;
  let store: RedisSessionStore;

  before(async () => {
    redis = await startRedis();
    store = await connectRedisSessionStore({ url: redis.url, commandTimeoutMs: COMMAND_TIMEOUT_MS, cache: { maxAgeMs: 60_000 } });
    await eventually(() => store.cache?.live === true, 10_000, 'the invalidation channel to be subscribed');
  }, { timeout: 700_000 });
  after(async () => {
    await store?.close();
    await redis?.stop();
  }, { timeout: 15_000 });

  storeContract('redis, cached', () => ({ store, elapse: (ms: number) => elapseOnRedis(redis.port, ms) }));

  it('served the contract from its cache: records were kept while subscribed', BOUNDED, async () => {
    const id = newId();
    await store.put(id, session('ivan'), 60_000);
    assert.equal((await store.get(id))?.sub, 'ivan');
    assert.equal(store.cache?.live, true);
    assert.ok((store.cache?.size ?? 0) >= 1, `size ${store.cache?.size}`);
  });
});

describe('redis session store through Sentinel', () => {
  let master: RedisServer;
  let sentinel: RedisGroup;
  let store: RedisSessionStore;

  before(async () => {
    master = await startRedis();
    sentinel = await startSentinel(master);
    store = await connectRedisSessionStore({ url: sentinel.url, commandTimeoutMs: COMMAND_TIMEOUT_MS });
  }, { timeout: 700_000 });
  after(async () => {
    await store?.close();
    await sentinel?.stop();
    await master?.stop();
  }, { timeout: 15_000 });

  storeContract('redis+sentinel', () => ({ store, elapse: (ms: number) => elapseOnRedis(master.port, ms) }));

  it('a cached store subscribes through the master the Sentinel names', BOUNDED, async () => {
    const cached = await connectRedisSessionStore({ url: sentinel.url, commandTimeoutMs: COMMAND_TIMEOUT_MS, cache: { maxAgeMs: 60_000 } });
    try {
      await eventually(() => cached.cache?.live === true, 10_000, 'the subscription');
      const id = newId();
      await store.put(id, session('olga'), 60_000);
      assert.equal((await cached.get(id))?.sub, 'olga');
      await store.delete(id);
      await eventually(async () => (await cached.get(id)) === undefined, 5000, 'the logout through the other store to be heard');
    } finally {
      await cached.close();
    }
  });

  it('writes land on the master the Sentinel names', BOUNDED, async () => {
    const raw = new Redis({ host: '127.0.0.1', port: master.port, maxRetriesPerRequest: 1 });
    try {
      const id = newId();
      await store.put(id, session('frank'), 60_000);
      assert.equal(JSON.parse((await raw.get(`gatehouse:sess:${id}`)) ?? '{}').sub, 'frank');
    } finally {
      raw.disconnect();
    }
  });
});

describe('redis session store on a 3-node Redis Cluster', () => {
  let cluster: RedisGroup;
  let store: RedisSessionStore;

  before(async () => {
    cluster = await startRedisCluster();
    store = await connectRedisSessionStore({ url: cluster.url, commandTimeoutMs: COMMAND_TIMEOUT_MS });
  }, { timeout: 700_000 });
  after(async () => {
    await store?.close();
    await cluster?.stop();
  }, { timeout: 15_000 });

  // Every node runs on this machine, so any node's clock is the cluster's.
  storeContract('redis+cluster', () => ({ store, elapse: (ms: number) => elapseOnRedis(cluster.ports[0] ?? 0, ms) }));

  it('log out everywhere reaches sessions spread over every slot', BOUNDED, async () => {
    const ids = Array.from({ length: 30 }, () => newId());
    for (const id of ids) await store.put(id, session('grace'), 60_000);
    for (const id of ids) assert.equal((await store.get(id))?.sub, 'grace');
    assert.equal(await store.deleteAllFor(SHOP, 'grace'), 30);
    for (const id of ids) assert.equal(await store.get(id), undefined);
  });

  it('two cached stores: each hears the writes the other makes on every node, and serves the rest from memory', BOUNDED, async () => {
    let heard = 0;
    let hits = 0;
    const events = { lookup: (r: string) => void (r === 'hit' && hits++), invalidated: (n: number) => void (heard += n), subscribed: () => {} };
    // A key prefix (and so a channel) of their own: what earlier tests published may still be crossing
    // the cluster bus, and must not be counted here.
    const cached = { url: cluster.url, commandTimeoutMs: 2000, keyPrefix: `gatehouse:t${randomBytes(4).toString('hex')}:` };
    const [a, b] = await Promise.all([
      connectRedisSessionStore({ ...cached, cache: { maxAgeMs: 60_000 } }),
      connectRedisSessionStore({ ...cached, cache: { maxAgeMs: 60_000, events } }),
    ]);
    try {
      await eventually(() => a.cache?.live === true && b.cache?.live === true, 10_000, 'both subscribed');
      const ids = Array.from({ length: 30 }, () => newId());
      for (const id of ids) await a.put(id, session('judy'), 60_000);
      await eventually(() => heard >= ids.length, 5000, 'B to hear every put');
      for (const id of ids) assert.equal((await b.get(id))?.sub, 'judy');
      for (const id of ids) assert.equal((await b.get(id))?.sub, 'judy');
      assert.equal(hits, ids.length, 'the second reads came from memory');
      assert.equal(await a.deleteAllFor(SHOP, 'judy'), 30);
      await eventually(() => heard >= 2 * ids.length, 5000, 'B to hear the logout everywhere');
      for (const id of ids) assert.equal(await b.get(id), undefined);
    } finally {
      await a.close();
      await b.close();
    }
  });
});

/** Polls until the store answers again (reconnect backoff), bounded at 10 s. */
async function waitForStore(store: SessionStore): Promise<void> {
  const answers = (): Promise<boolean> => store.get(newId()).then(() => true, () => false);
  await eventually(answers, 10_000, 'the store to answer again');
}

describe('redis URLs', () => {
  it('accepts one server, Sentinel and Cluster forms, with TLS and credentials', BOUNDED, () => {
    assert.deepEqual(parseRedisUrl('redis://cache:6380/2'), {
      target: { kind: 'standalone', node: { host: 'cache', port: 6380 }, db: 2, tls: false },
      username: undefined,
      password: undefined,
    });
    assert.deepEqual(parseRedisUrl('rediss://app:p%40ss@[::1]'), {
      target: { kind: 'standalone', node: { host: '::1', port: 6379 }, db: 0, tls: true },
      username: 'app',
      password: 'p@ss',
    });
    assert.deepEqual(parseRedisUrl('redis+sentinel://:pw@s1,s2:26380,10.0.0.3:5000/mymaster/1'), {
      target: {
        kind: 'sentinel',
        sentinels: [
          { host: 's1', port: 26379 },
          { host: 's2', port: 26380 },
          { host: '10.0.0.3', port: 5000 },
        ],
        masterName: 'mymaster',
        db: 1,
        tls: false,
      },
      username: undefined,
      password: 'pw',
    });
    assert.deepEqual(parseRedisUrl('rediss+cluster://n1:7000,n2:7001'), {
      target: {
        kind: 'cluster',
        nodes: [
          { host: 'n1', port: 7000 },
          { host: 'n2', port: 7001 },
        ],
        tls: true,
      },
      username: undefined,
      password: undefined,
    });
  });

  it('refuses malformed URLs without repeating the password', BOUNDED, () => {
    const cases: [string, string][] = [
      ['http://u:hunter2@cache', 'unknown scheme; use one of redis, rediss, redis+sentinel, rediss+sentinel, redis+cluster, rediss+cluster'],
      ['redis://u:hunter2@a,b', 'redis:// takes exactly one host'],
      ['redis://u:hunter2@cache/x', 'db must be a number'],
      ['redis://u:hunter2@cache:99999', 'port out of range'],
      ['redis+sentinel://u:hunter2@s1', 'sentinel URL needs /<masterName>'],
      ['redis+cluster://u:hunter2@n1/0', 'cluster URL takes no path (Redis Cluster has only db 0)'],
      ['redis://u:hunter2@cache?tls=true', 'expected scheme://hosts[/path] with no query or fragment'],
      ['redis://u:hunter2@ca che', 'each host must be host[:port]'],
    ];
    for (const [url, why] of cases) {
      assert.throws(
        () => parseRedisUrl(url),
        (e: unknown) => {
          assert.ok(e instanceof GatehouseError);
          assert.equal(e.code, 'session_config_invalid');
          assert.equal(e.message, `session redis url: ${why}`);
          assert.ok(!e.message.includes('hunter2'));
          return true;
        },
        url,
      );
    }
  });
});
