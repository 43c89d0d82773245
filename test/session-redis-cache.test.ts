// The per-replica cache of Redis session records, against a real redis-server: two stores on one
// Redis stand for two gatehouse replicas. A write on one is refused or seen on the other as soon as
// its invalidation arrives; a cached read sends Redis nothing; a subscriber that lost its connection
// bypasses the cache until it is subscribed again; the max age and the record's expiry bound an entry;
// a flood of ids does not evict the sessions in use.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import type { Identity } from '../src/core/identity.js';
import { SessionIdSigner, SessionKeys } from '../src/session/codec.js';
import { createSessionRecord, type SessionRecord } from '../src/session/record.js';
import { SessionRecordCache, type SessionCacheEvents } from '../src/session/record-cache.js';
import { connectRedisSessionStore, type RedisSessionStore } from '../src/session/redis-store.js';
import { eventually } from './support/eventually.js';
import { info } from './support/redis-process.js';
import { startRedis, type RedisServer } from './support/redis.js';

const BOUNDED = { timeout: 30_000 };
const SHOP = 'shop/storefront';
const TIMEOUTS = { absoluteMs: 86_400_000, idleMs: 1_800_000, renewBeforeMs: 600_000 };
const signer = new SessionIdSigner(SessionKeys.derive({ audience: SHOP, secrets: ['cache-test-secret-0123456789abcdef'] }));

function identity(consumerId: string): Identity {
  return { method: 'keys', consumerId, username: consumerId, customId: undefined, credential: 'partner-keys/key-1', groups: ['partners'], anonymous: false, claims: {}, headers: [] };
}

function session(consumerId: string, now = Date.now()): SessionRecord {
  return createSessionRecord(SHOP, identity(consumerId), now, TIMEOUTS);
}

const newId = (): string => signer.mint().id;

/** What a replica's cache reported, as counts. */
class Seen implements SessionCacheEvents {
  hits = 0;
  misses = 0;
  bypassed = 0;
  heardIds = 0;
  readonly states: boolean[] = [];
  onState: ((live: boolean) => void) | undefined;

  lookup(result: 'hit' | 'miss' | 'bypassed'): void {
    if (result === 'hit') this.hits++;
    else if (result === 'miss') this.misses++;
    else this.bypassed++;
  }

  invalidated(ids: number): void {
    this.heardIds += ids;
  }

  subscribed(live: boolean): void {
    this.states.push(live);
    this.onState?.(live);
  }
}

describe('redis session cache across two replicas', () => {
  let redis: RedisServer;
  let raw: Redis;
  let a: RedisSessionStore;
  let b: RedisSessionStore;
  const seenA = new Seen();
  const seenB = new Seen();

  /** GET commands the server has executed so far. */
  const gets = async (): Promise<number> => {
    const line = await info(redis.port, 'commandstats', 'cmdstat_get');
    return line === undefined ? 0 : Number(/calls=(\d+)/.exec(line)?.[1]);
  };
  /** Resolves once replica B has heard `n` more invalidated ids than before `write`. */
  const heardOnB = async (n: number, write: () => Promise<unknown>): Promise<void> => {
    const before = seenB.heardIds;
    await write();
    await eventually(() => seenB.heardIds >= before + n, 5000, `replica B to hear ${n} invalidated ids`);
  };

  before(async () => {
    redis = await startRedis();
    raw = new Redis({ host: '127.0.0.1', port: redis.port, maxRetriesPerRequest: 1 });
    raw.on('error', () => {});
    const replica = (events: SessionCacheEvents): Promise<RedisSessionStore> =>
      connectRedisSessionStore({ url: redis.url, commandTimeoutMs: 2000, reconnectMaxDelayMs: 100, cache: { maxAgeMs: 60_000, events } });
    [a, b] = await Promise.all([replica(seenA), replica(seenB)]);
  }, { timeout: 700_000 });
  beforeEach(async () => {
    await eventually(() => a.cache?.live === true && b.cache?.live === true, 10_000, 'both replicas to be subscribed');
  });
  after(async () => {
    raw?.disconnect();
    await a?.close();
    await b?.close();
    await redis?.stop();
  }, { timeout: 15_000 });

  it('a record read once is served from memory: the next reads send Redis no command', BOUNDED, async () => {
    const id = newId();
    const record = session('alice');
    // Every write is announced, a new session too: a read on B that the announcement overtakes is not kept.
    await heardOnB(1, () => a.put(id, record, 60_000));
    const hits = seenB.hits;
    const before = await gets();
    assert.deepEqual(await b.get(id), record);
    assert.equal(await gets(), before + 1, 'the first read asks Redis');
    for (let i = 0; i < 5; i++) assert.deepEqual(await b.get(id), record);
    assert.equal(await gets(), before + 1, 'cached reads send no GET');
    assert.equal(seenB.hits, hits + 5);
  });

  it('a logout on replica A is refused on replica B as soon as the invalidation arrives', BOUNDED, async () => {
    const id = newId();
    await a.put(id, session('bob'), 60_000);
    assert.equal((await b.get(id))?.sub, 'bob');
    assert.equal((await b.get(id))?.sub, 'bob', 'cached on B');
    await heardOnB(1, () => a.delete(id));
    assert.equal(await b.get(id), undefined);
    assert.equal(await a.get(id), undefined);
  });

  it('a login on replica A is accepted on replica B at once: "no such session" is never kept', BOUNDED, async () => {
    const id = newId();
    assert.equal(await b.get(id), undefined);
    await a.put(id, session('carol'), 60_000);
    assert.equal((await b.get(id))?.sub, 'carol', 'no wait for any message');
  });

  it('log out everywhere on replica A ends every cached session of the consumer on replica B', BOUNDED, async () => {
    const ids = [newId(), newId(), newId()];
    const other = newId();
    for (const id of ids) await a.put(id, session('dave'), 60_000);
    await heardOnB(1, () => a.put(other, session('erin'), 60_000));
    for (const id of [...ids, other]) assert.notEqual(await b.get(id), undefined);
    await heardOnB(3, async () => assert.equal(await a.deleteAllFor(SHOP, 'dave'), 3));
    for (const id of ids) assert.equal(await b.get(id), undefined);
    const before = await gets();
    assert.equal((await b.get(other))?.sub, 'erin', 'another consumer keeps its session');
    assert.equal(await gets(), before, 'and it is still served from memory');
  });

  it('a renewal on replica A is what replica B reads next', BOUNDED, async () => {
    const id = newId();
    const first = session('frank');
    await a.put(id, first, 60_000);
    assert.deepEqual(await b.get(id), first);
    const renewed: SessionRecord = { ...first, rev: 1, lat: first.lat + 60_000, idleExp: first.idleExp + 60_000 };
    await heardOnB(1, async () => assert.equal(await a.replace(id, 0, renewed, 120_000), true));
    assert.deepEqual(await b.get(id), renewed);
  });

  it('a write on replica B itself is seen by its next read, before any message', BOUNDED, async () => {
    const id = newId();
    await b.put(id, session('grace'), 60_000);
    assert.equal((await b.get(id))?.sub, 'grace');
    await b.delete(id);
    assert.equal(await b.get(id), undefined);
  });

  it('an invalidation that overtakes a read under way keeps that read out of the cache', BOUNDED, async () => {
    const id = newId();
    await a.put(id, session('heidi'), 60_000);
    const reading = b.get(id);
    // Heard before the read's answer is handled: the answer is returned, not kept.
    b.heard(id);
    assert.equal((await reading)?.sub, 'heidi');
    const before = await gets();
    assert.equal((await b.get(id))?.sub, 'heidi');
    assert.equal(await gets(), before + 1, 'read from Redis again');
  });

  it('messages that are not session ids are ignored', BOUNDED, async () => {
    const id = newId();
    await heardOnB(1, () => a.put(id, session('ivan'), 60_000));
    await b.get(id);
    const before = seenB.heardIds;
    await raw.publish(b.channel, `../x ${'A'.repeat(44)} *`);
    await heardOnB(1, () => raw.publish(b.channel, newId()));
    assert.equal(seenB.heardIds, before + 1);
    const gets0 = await gets();
    assert.equal((await b.get(id))?.sub, 'ivan');
    assert.equal(await gets(), gets0, 'still cached');
  });

  it('while the subscriber connection is killed the cache is emptied and bypassed, until subscribed again', BOUNDED, async () => {
    const id = newId();
    await heardOnB(1, () => a.put(id, session('judy'), 60_000));
    await b.get(id);
    assert.ok((b.cache?.size ?? 0) > 0);
    let during: { size: number; read: Promise<SessionRecord | undefined> } | undefined;
    const states = seenB.states.length;
    // Checked the moment B learns it lost the channel: nothing held, and reads go to Redis.
    seenB.onState = (live) => {
      if (!live && during === undefined) during = { size: b.cache?.size ?? -1, read: b.get(id) };
    };
    try {
      const bypassed = seenB.bypassed;
      const killed = await raw.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
      assert.equal(killed, 2, 'both replicas\' subscriber connections');
      await eventually(() => seenB.states.length >= states + 2 && b.cache?.live === true, 10_000, 'B to lose and regain its subscription');
      assert.deepEqual(seenB.states.slice(states), [false, true]);
      assert.ok(during !== undefined);
      assert.equal(during.size, 0, 'emptied');
      assert.equal((await during.read)?.sub, 'judy', 'answered from Redis');
      assert.equal(seenB.bypassed, bypassed + 1);
    } finally {
      seenB.onState = undefined;
    }
    const before = await gets();
    assert.equal((await b.get(id))?.sub, 'judy');
    assert.equal((await b.get(id))?.sub, 'judy');
    assert.equal(await gets(), before + 1, 'cached again once subscribed');
    await heardOnB(1, () => a.delete(id));
    assert.equal(await b.get(id), undefined, 'and invalidated again');
  });

  it('a flood of ids that have no session, then of live sessions, does not evict the session in use', { timeout: 120_000 }, async () => {
    const hot = newId();
    await heardOnB(1, () => a.put(hot, session('hot'), 60_000));
    await b.get(hot);
    const size = b.cache?.size ?? 0;
    for (let i = 0; i < 20; i++) {
      const answers = await Promise.all(Array.from({ length: 500 }, () => b.get(newId())));
      assert.ok(answers.every((r) => r === undefined));
    }
    assert.equal(b.cache?.size, size, 'ids without a session are never kept');
    // 25,000 live sessions written straight to Redis, read through B with the hot one read every 1,000.
    const record = JSON.stringify(session('flood'));
    const flood = Array.from({ length: 25_000 }, () => newId());
    for (let i = 0; i < flood.length; i += 5000) {
      const batch = raw.pipeline();
      for (const id of flood.slice(i, i + 5000)) batch.set(`gatehouse:sess:${id}`, record, 'PX', 60_000);
      await batch.exec();
    }
    let hotReads = 0;
    const hits = seenB.hits;
    const misses = seenB.misses;
    for (let i = 0; i < flood.length; i += 500) {
      const got = await Promise.all(flood.slice(i, i + 500).map((id) => b.get(id)));
      assert.ok(got.every((r) => r?.sub === 'flood'));
      if (i % 1000 === 0) {
        assert.equal((await b.get(hot))?.sub, 'hot');
        hotReads++;
      }
    }
    assert.equal(seenB.misses, misses + flood.length, 'each flood id read from Redis once');
    assert.equal(seenB.hits, hits + hotReads, `the hot one (${hotReads} reads) served from memory every time`);
    const cache = b.cache;
    assert.ok(cache !== undefined);
    assert.ok(cache.size <= 10_000, `size ${cache.size}`);
    assert.ok(cache.bytes <= cache.maxBytes, `bytes ${cache.bytes}`);
  });
});

describe('redis session cache: age and expiry on an injected clock', () => {
  let redis: RedisServer;
  let store: RedisSessionStore;
  let now = Date.now();
  const gets = async (): Promise<number> => Number(/calls=(\d+)/.exec((await info(redis.port, 'commandstats', 'cmdstat_get')) ?? '')?.[1] ?? 0);

  before(async () => {
    redis = await startRedis();
    store = await connectRedisSessionStore({ url: redis.url, cache: { maxAgeMs: 1000, clock: () => now } });
    await eventually(() => store.cache?.live === true, 10_000, 'the subscription');
  }, { timeout: 700_000 });
  after(async () => {
    await store?.close();
    await redis?.stop();
  }, { timeout: 15_000 });

  it('an entry is reused for exactly its max age, then read again', BOUNDED, async () => {
    const id = newId();
    await store.put(id, session('kim', now), 60_000);
    const g0 = await gets();
    await store.get(id);
    now += 999;
    await store.get(id);
    assert.equal(await gets(), g0 + 1, 'reused within the max age');
    now += 1;
    await store.get(id);
    assert.equal(await gets(), g0 + 2, 'read again at the max age');
  });

  it('an entry never outlives the record\'s own idle expiry', BOUNDED, async () => {
    const id = newId();
    const record = { ...session('leo', now), idleExp: now + 300 };
    await store.put(id, record, 60_000);
    const g0 = await gets();
    await store.get(id);
    now += 299;
    await store.get(id);
    assert.equal(await gets(), g0 + 1);
    now += 1;
    await store.get(id);
    assert.equal(await gets(), g0 + 2, 'read again at the record\'s expiry');
  });
});

describe('redis session cache: a Redis user without pub/sub rights', () => {
  let redis: RedisServer;
  let admin: Redis;

  before(async () => {
    redis = await startRedis();
    admin = new Redis({ host: '127.0.0.1', port: redis.port, maxRetriesPerRequest: 1 });
    // Every key and command, no channel (what Redis 7 gives a new ACL user by default).
    await admin.call('ACL', 'SETUSER', 'sessions', 'on', '>sessions-pw', '~*', '+@all', 'resetchannels');
  }, { timeout: 700_000 });
  after(async () => {
    admin?.disconnect();
    await redis?.stop();
  }, { timeout: 15_000 });

  const url = (): string => `redis://sessions:sessions-pw@127.0.0.1:${redis.port}`;

  it('with the cache on, the cache never goes live and a write whose announcement is refused fails', BOUNDED, async () => {
    const store = await connectRedisSessionStore({ url: url(), cache: { maxAgeMs: 60_000 } });
    try {
      const id = newId();
      await assert.rejects(store.put(id, session('oscar'), 60_000), (e: unknown) => e instanceof Error && 'code' in e && e.code === 'session_store_unavailable');
      assert.equal((await store.get(id))?.sub, 'oscar', 'the record itself was written');
      assert.equal(store.cache?.live, false);
    } finally {
      await store.close();
    }
  });

  it('with the cache off (max age 0), writes succeed: the announcement is best effort', BOUNDED, async () => {
    const store = await connectRedisSessionStore({ url: url() });
    try {
      const id = newId();
      await store.put(id, session('peggy'), 60_000);
      assert.equal((await store.get(id))?.sub, 'peggy');
      await store.delete(id);
      assert.equal(await store.get(id), undefined);
    } finally {
      await store.close();
    }
  });
});

describe('redis session cache: a stalled Redis', () => {
  let redis: RedisServer;
  let store: RedisSessionStore;
  const seen = new Seen();

  before(async () => {
    redis = await startRedis();
    store = await connectRedisSessionStore({ url: redis.url, commandTimeoutMs: 300, reconnectMaxDelayMs: 100, cache: { maxAgeMs: 60_000, events: seen } });
    await eventually(() => store.cache?.live === true, 10_000, 'the subscription');
  }, { timeout: 700_000 });
  after(async () => {
    redis?.resume();
    await store?.close();
    await redis?.stop();
  }, { timeout: 15_000 });

  it('is noticed by the keepalive PING: the cache is emptied and bypassed until Redis answers again', BOUNDED, async () => {
    const id = newId();
    await store.put(id, session('nina'), 60_000);
    await eventually(() => seen.heardIds >= 1, 5000, 'the put to be heard');
    await store.get(id);
    assert.equal(store.cache?.size, 1);
    redis.pause();
    try {
      // A stalled server closes nothing: only the unanswered PING tells.
      await eventually(() => store.cache?.live === false, 5000, 'the cache to notice the stall');
      assert.equal(store.cache?.size, 0);
      await assert.rejects(store.get(id), (e: unknown) => e instanceof Error && 'code' in e && e.code === 'session_store_unavailable');
    } finally {
      redis.resume();
    }
    await eventually(() => store.cache?.live === true, 10_000, 'the subscription to come back');
    assert.equal((await store.get(id))?.sub, 'nina');
    assert.deepEqual(seen.states, [true, false, true]);
  });
});

describe('session record cache bounds', () => {
  const record = session('mia');
  const stored = (bytes: number) => async () => ({ record, bytes, ttlMs: 60_000 });

  it('holds at most its byte budget: the least recent entries go first', async () => {
    const cache = new SessionRecordCache({ maxAgeMs: 60_000, maxBytes: 10_000 });
    cache.setLive(true);
    const ids = Array.from({ length: 30 }, () => newId());
    for (const id of ids) await cache.get(id, stored(1000));
    assert.equal(cache.size, 10);
    assert.equal(cache.bytes, 10_000);
    let reads = 0;
    const counted = async () => {
      reads++;
      return { record, bytes: 1000, ttlMs: 60_000 };
    };
    for (const id of ids.slice(20)) await cache.get(id, counted);
    assert.equal(reads, 0, 'the 10 most recent are held');
    await cache.get(ids[0] ?? '', counted);
    assert.equal(reads, 1, 'the oldest went');
  });

  it('keeps nothing larger than its budget, and nothing while not subscribed', async () => {
    const cache = new SessionRecordCache({ maxAgeMs: 60_000, maxBytes: 500 });
    await cache.get(newId(), stored(100));
    assert.equal(cache.size, 0, 'not live yet');
    cache.setLive(true);
    await cache.get(newId(), stored(501));
    assert.equal(cache.size, 0, 'too large');
    await cache.get(newId(), stored(500));
    assert.equal(cache.size, 1);
    cache.setLive(false);
    assert.deepEqual([cache.size, cache.bytes], [0, 0]);
  });

  it('concurrent misses of one id share one read', async () => {
    const cache = new SessionRecordCache({ maxAgeMs: 60_000 });
    cache.setLive(true);
    let reads = 0;
    const id = newId();
    const read = async () => {
      reads++;
      return { record, bytes: 100, ttlMs: 60_000 };
    };
    const answers = await Promise.all([cache.get(id, read), cache.get(id, read), cache.get(id, read)]);
    assert.equal(reads, 1);
    assert.ok(answers.every((r) => r === record));
  });

  it('a max age of 0 or less is refused', () => {
    assert.throws(() => new SessionRecordCache({ maxAgeMs: 0 }), /positive whole number/);
  });
});
