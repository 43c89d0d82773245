// Revocation: one contract run against the in-memory list and against a real redis-server, then the
// jwt method denying revoked tokens and consumers, and failing closed when Redis cannot answer.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SignJWT } from 'jose';
import { createJwtServices } from '../src/authn/jwt/services.js';
import { MemoryRevocationList, type RevocationList } from '../src/revocation/revocation.js';
import { RedisRevocationList } from '../src/revocation/redis.js';
import { GatehouseError } from '../src/core/errors.js';
import { createLogger } from '../src/telemetry/log.js';
import { createRedisClient } from '../src/redis/client.js';
import { authenticate, bearer, mustCompile, outcome, S0, secret, T0 } from './support/jwt-policy.js';
import { elapseOnRedis, startRedis, type RedisServer } from './support/redis.js';

const HMAC = 'hs256-shared-secret-0123456789abcdef';
const hsSecret = secret('jwt-hmac', { secret: HMAC });
const hs = (payload: Record<string, unknown>): Promise<string> => new SignJWT(payload).setProtectedHeader({ alg: 'HS256' }).sign(Buffer.from(HMAC));

let redis: RedisServer;
const opened: RevocationList[] = [];
before(async () => {
  redis = await startRedis();
});
after(async () => {
  for (const l of opened) await l.close();
  await redis.stop();
});

function redisList(cacheMs = 0): RedisRevocationList {
  const { connection } = createRedisClient({ url: redis.url });
  const list = new RedisRevocationList({ connection, cacheMs, keyPrefix: `test:${Math.random().toString(36).slice(2)}:` });
  opened.push(list);
  return list;
}

interface Fixture {
  readonly l: RevocationList;
  /** Lets `ms` of list time pass: an injected clock in memory, the server's own clock in Redis. */
  elapse(ms: number): Promise<void>;
}

const IMPLEMENTATIONS: [string, () => Promise<Fixture>][] = [
  [
    'memory',
    async () => {
      let now = Date.now();
      return { l: new MemoryRevocationList({ clock: () => now }), elapse: async (ms) => void (now += ms) };
    },
  ],
  [
    'redis',
    async () => {
      const l = redisList();
      await l.ready(5000);
      return { l, elapse: (ms) => elapseOnRedis(redis.port, ms) };
    },
  ],
];

for (const [name, make] of IMPLEMENTATIONS) {
  describe(`revocation list contract: ${name}`, { timeout: 30_000 }, () => {
    const NOW = Date.now();
    const q = (over: Partial<{ scope: string; jti: string | undefined; consumer: string; issuedAt: number | undefined }> = {}) => ({
      scope: 'https://id.example.com',
      jti: 'jti-1',
      consumer: 'alice',
      issuedAt: NOW - 60_000,
      ...over,
    });

    test('nothing is revoked in a fresh list', async () => {
      const { l } = await make();
      assert.equal(await l.isRevoked(q()), false);
      assert.equal(await l.isRevoked(q({ jti: undefined, issuedAt: undefined })), false);
    });

    test('a revoked jti is denied in its scope only, until its ttl', async () => {
      const { l, elapse } = await make();
      await l.revokeToken('https://id.example.com', 'jti-1', 400);
      assert.equal(await l.isRevoked(q()), true);
      assert.equal(await l.isRevoked(q({ jti: 'jti-2' })), false);
      assert.equal(await l.isRevoked(q({ scope: 'https://other.example.com' })), false);
      await elapse(400);
      assert.equal(await l.isRevoked(q()), false);
    });

    test('a revoked consumer loses tokens issued before T (to the second), and those without iat', async () => {
      const { l } = await make();
      const T = Math.floor(NOW / 1000) * 1000 + 500;
      await l.revokeConsumer('https://id.example.com', 'alice', T, undefined);
      assert.equal(await l.isRevoked(q({ jti: undefined, issuedAt: T - 1500 })), true);
      assert.equal(await l.isRevoked(q({ jti: 'fresh', issuedAt: T - 500 })), false, 'issued in the same second');
      assert.equal(await l.isRevoked(q({ jti: 'fresh', issuedAt: T + 1000 })), false);
      assert.equal(await l.isRevoked(q({ jti: 'x', issuedAt: undefined })), true);
      assert.equal(await l.isRevoked(q({ consumer: 'bob' })), false);
      // An earlier T cannot move the line back.
      await l.revokeConsumer('https://id.example.com', 'alice', T - 600_000, 1000);
      assert.equal(await l.isRevoked(q({ jti: undefined, issuedAt: T - 1500 })), true);
    });

    test('a session logout with room is held as that session alone: the consumer keeps its others', async () => {
      const { l } = await make();
      const logout = { scope: 'session:shop/web', jti: 'sid-1', consumer: 'alice', issuedAt: NOW - 1000, ttlMs: 60_000, maxLifetimeMs: 120_000 };
      assert.equal(await l.revokeOrWiden(logout), 'token');
      assert.equal(await l.isRevoked({ scope: 'session:shop/web', jti: 'sid-1', consumer: 'alice', issuedAt: NOW - 1000 }), true);
      assert.equal(await l.isRevoked({ scope: 'session:shop/web', jti: 'sid-0', consumer: 'alice', issuedAt: NOW - 2000 }), false);
      assert.equal(await l.isRevoked({ scope: 'session:shop/other', jti: 'sid-1', consumer: 'alice', issuedAt: NOW - 1000 }), false);
      await assert.rejects(l.revokeOrWiden({ ...logout, consumer: '' }), /scope and an id/);
      await assert.rejects(l.revokeOrWiden({ ...logout, ttlMs: 0 }), /positive/);
    });

    test('empty ids and non-positive ttls are refused', async () => {
      const { l } = await make();
      await assert.rejects(l.revokeToken('s', '', 1000), /scope and an id/);
      await assert.rejects(l.revokeToken('s', 'j', 0), /positive/);
      await assert.rejects(l.revokeConsumer('', 'c', 1, undefined), /scope and an id/);
    });
  });
}

describe('bounded in-memory revocation list', () => {
  const T = Date.UTC(2026, 0, 1, 12, 0, 0);
  const S = 'session:shop/web';
  const session = (jti: string, consumer: string, issuedAt: number) => ({ scope: S, jti, consumer, issuedAt });
  const logout = (jti: string, consumer: string, issuedAt: number, ttlMs = 60_000) => ({ ...session(jti, consumer, issuedAt), ttlMs, maxLifetimeMs: 120_000 });
  const isFull = (e: unknown): boolean => e instanceof GatehouseError && e.code === 'revocation_full' && e.kind === 'unavailable';
  const bounded = (maxTokens: number, maxConsumers: number) => {
    const world = { now: T, widened: [] as string[], lines: [] as string[] };
    const list = new MemoryRevocationList({
      clock: () => world.now,
      maxTokens,
      maxConsumers,
      onWidened: (to) => void world.widened.push(to),
      logger: createLogger('warn', (line) => void world.lines.push(line)),
    });
    return { world, list };
  };

  test('full of live tokens, a new JWT revocation is refused loudly and no live entry is evicted', async () => {
    const { world, list } = bounded(3, 1);
    for (const j of ['a', 'b', 'c']) await list.revokeToken('iss', j, 1000);
    await assert.rejects(list.revokeToken('iss', 'd', 1000), isFull);
    await list.revokeToken('iss', 'a', 5000); // an entry already held can still be extended
    assert.deepEqual(['a', 'b', 'c', 'd'].map((j) => list.isRevoked({ scope: 'iss', jti: j, consumer: 'x', issuedAt: T })), [true, true, true, false]);
    await list.revokeConsumer('iss', 'alice', T, undefined);
    await assert.rejects(list.revokeConsumer('iss', 'bob', T, undefined), isFull);
    await list.revokeConsumer('iss', 'alice', T + 5000, 1000); // raising a held watermark needs no room
    assert.deepEqual(list.counts(), { tokens: 3, consumers: 1, scopes: 0 });
    assert.deepEqual(world.widened, [], 'JWT revocations are never widened');
    // Once b and c have expired there is room again; a (extended) is still held.
    world.now = T + 1000;
    await list.revokeToken('iss', 'd', 1000);
    assert.deepEqual(list.counts(), { tokens: 2, consumers: 1, scopes: 0 });
    assert.equal(list.isRevoked({ scope: 'iss', jti: 'a', consumer: 'x', issuedAt: T }), true);
  });

  test("full of tokens, a session logout becomes its consumer's watermark: older sessions out, newer ones and others untouched", async () => {
    const { world, list } = bounded(1, 10);
    assert.equal(await list.revokeOrWiden(logout('s1', 'alice', T - 50)), 'token');
    assert.equal(await list.revokeOrWiden(logout('s2', 'alice', T - 10)), 'consumer');
    assert.deepEqual(world.widened, ['consumer']);
    const q = (jti: string, consumer: string, issuedAt: number): boolean => list.isRevoked(session(jti, consumer, issuedAt)) as boolean;
    assert.equal(q('s2', 'alice', T - 10), true, 'the logged-out session itself');
    assert.equal(q('s0', 'alice', T - 30), true, 'an older session of alice');
    assert.equal(q('s3', 'alice', T - 9), false, 'a session issued 1 ms later');
    assert.equal(q('s4', 'bob', T - 30), false, 'another consumer');
    assert.equal(list.isRevoked({ scope: 'session:shop/other', jti: 's0', consumer: 'alice', issuedAt: T - 30 }), false, 'another policy');
    // The watermark never moves back, and lives until every session it covers has expired.
    assert.equal(await list.revokeOrWiden(logout('s0', 'alice', T - 30, 1000)), 'consumer');
    assert.equal(q('s5', 'alice', T - 10), true);
    world.now = T - 10 + 120_000 - 1;
    assert.deepEqual(list.counts(), { tokens: 0, consumers: 1, scopes: 0 });
    world.now = T - 10 + 120_000;
    assert.deepEqual(list.counts(), { tokens: 0, consumers: 0, scopes: 0 });
    assert.equal(q('s2', 'alice', T - 10), false);
  });

  test("with the consumers' watermarks full as well, a session logout becomes the scope's watermark", async () => {
    const { world, list } = bounded(1, 1);
    await list.revokeOrWiden(logout('s1', 'alice', T - 50));
    await list.revokeOrWiden(logout('s2', 'alice', T - 40));
    assert.equal(await list.revokeOrWiden(logout('s3', 'bob', T - 30)), 'scope');
    assert.deepEqual(world.widened, ['consumer', 'scope']);
    assert.equal(list.isRevoked(session('x', 'carol', T - 30)), true, 'everyone in the policy issued at or before it');
    assert.equal(list.isRevoked(session('y', 'carol', T - 29)), false, 'but not after');
    assert.equal(list.isRevoked({ scope: 'iss', jti: 'z', consumer: 'carol', issuedAt: T - 100 }), false, 'nor in another scope');
    assert.deepEqual(list.counts(), { tokens: 1, consumers: 1, scopes: 1 });
  });

  test('widening is counted each time and warned at most once a minute, naming no session and no consumer', async () => {
    const { world, list } = bounded(1, 1);
    await list.revokeOrWiden(logout('secret-sid-0', 'alice', T, 600_000));
    for (let i = 1; i <= 50; i++) await list.revokeOrWiden(logout(`secret-sid-${i}`, 'alice', T + i));
    world.now = T + 60_000;
    await list.revokeOrWiden(logout('secret-sid-51', 'alice', T + 51));
    assert.equal(world.widened.length, 51);
    assert.equal(world.lines.length, 2);
    const [first, second] = world.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual({ ...first, time: undefined }, {
      time: undefined,
      level: 'warn',
      msg: 'revocation list full: logouts held as wider watermarks (other sessions are ended too)',
      widenedTo: 'consumer',
      scope: S,
      widened: 1,
      maxTokens: 1,
      maxConsumers: 1,
    });
    assert.equal(second?.['widened'], 50);
    assert.ok(!world.lines.some((l) => l.includes('secret-sid') || l.includes('alice')));
  });

  test('the process list (createJwtServices without Redis) holds 100,000 logouts one by one, then widens and says so', async () => {
    let now = T;
    const widened: string[] = [];
    const services = createJwtServices({ clock: () => now, onRevocationWidened: (to) => void widened.push(to) });
    after(() => services.close());
    for (let i = 0; i < 100_000; i++) assert.equal(await services.revocation.revokeOrWiden(logout(`s${i}`, `c${i % 7}`, T)), 'token');
    now = T + 1;
    assert.equal(await services.revocation.revokeOrWiden(logout('one-more', 'c1', T + 1)), 'consumer');
    assert.deepEqual(widened, ['consumer']);
    assert.equal(services.revocation.isRevoked(session('s0', 'c0', T)), true, 'the first logout is still held');
  });

  test('thousands of entries with mixed lifetimes leave exactly when they expire, and not before', async () => {
    const { world, list } = bounded(5000, 1);
    const until = new Map<string, number>();
    let seed = 7;
    const random = (n: number): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
    for (let i = 0; i < 4000; i++) {
      const jti = `t${random(3000)}`; // repeats extend entries (stale heap nodes)
      const ttl = 1 + random(10_000);
      await list.revokeToken('iss', jti, ttl);
      until.set(jti, Math.max(until.get(jti) ?? 0, world.now + ttl));
      world.now += random(3);
    }
    const end = world.now + 10_000;
    for (let t = world.now; t <= end; t += 250) {
      world.now = t;
      const live = [...until].filter(([, u]) => u > t);
      assert.equal(list.counts().tokens, live.length, `at +${t - T}`);
      for (const [jti, u] of until) assert.equal(list.isRevoked({ scope: 'iss', jti, consumer: 'x', issuedAt: 0 }), u > t, `${jti} at +${t - T}`);
    }
    assert.deepEqual(list.counts(), { tokens: 0, consumers: 0, scopes: 0 });
  });
});

describe('redis revocation across replicas and failures', { timeout: 30_000 }, () => {
  test('a revocation written by one replica is seen by another', async () => {
    const prefix = `test:${Math.random().toString(36).slice(2)}:`;
    const writer = new RedisRevocationList({ connection: createRedisClient({ url: redis.url }).connection, cacheMs: 0, keyPrefix: prefix });
    const reader = new RedisRevocationList({ connection: createRedisClient({ url: redis.url }).connection, cacheMs: 0, keyPrefix: prefix });
    opened.push(writer, reader);
    await Promise.all([writer.ready(5000), reader.ready(5000)]);
    const query = { scope: 'scope', jti: 'j-9', consumer: 'c', issuedAt: 0 };
    assert.equal(await reader.isRevoked(query), false);
    await writer.revokeToken('scope', 'j-9', 10_000);
    assert.equal(await reader.isRevoked(query), true);
  });

  test('answers are reused for cacheMs: the second lookup is synchronous', async () => {
    const l = redisList(5000);
    await l.ready(5000);
    const query = { scope: 's', jti: 'j', consumer: 'c', issuedAt: Date.now() };
    const first = l.isRevoked(query);
    assert.ok(first instanceof Promise);
    assert.equal(await first, false);
    const second = l.isRevoked(query);
    assert.equal(second, false, 'answered from memory');
    await l.revokeToken('s', 'j', 10_000);
    assert.equal(l.isRevoked(query), true, 'a revocation through this list takes effect at once');
  });

  test('a stalled or dead Redis fails closed with revocation_unavailable', async () => {
    const l = redisList();
    await l.ready(5000);
    const query = { scope: 's', jti: 'j', consumer: 'c', issuedAt: 0 };
    redis.pause();
    try {
      const started = Date.now();
      await assert.rejects(Promise.resolve(l.isRevoked(query)), (e: unknown) => e instanceof GatehouseError && e.code === 'revocation_unavailable' && e.kind === 'unavailable');
      assert.ok(Date.now() - started < 3000, 'bounded by the command timeout');
    } finally {
      redis.resume();
    }
    await redis.kill();
    await assert.rejects(Promise.resolve(l.isRevoked(query)), (e: unknown) => e instanceof GatehouseError && e.code === 'revocation_unavailable');
    await assert.rejects(l.revokeToken('s', 'j', 1000), (e: unknown) => e instanceof GatehouseError && e.code === 'revocation_unavailable');
    await redis.restart();
  });
});

describe('jwt method with revocation: true', { timeout: 30_000 }, () => {
  test('in memory: revoked jti and consumer are denied, on the cached synchronous path too', async () => {
    const services = createJwtServices();
    after(() => services.close());
    const m = mustCompile({ algorithms: ['HS256'], secretRef: { name: 'jwt-hmac', key: 'secret' }, issuer: 'https://id.example.com', revocation: true }, { services, secrets: [hsSecret] });
    const t1 = await hs({ sub: 'alice', iss: 'https://id.example.com', jti: 't-1', iat: S0, exp: S0 + 600 });
    const t2 = await hs({ sub: 'alice', iss: 'https://id.example.com', jti: 't-2', iat: S0, exp: S0 + 600 });
    const later = await hs({ sub: 'alice', iss: 'https://id.example.com', jti: 't-3', iat: S0 + 120, exp: S0 + 600 });
    assert.equal(outcome(await authenticate(m, bearer(t1))), 'success');
    const cached = m.authenticate(bearer(t1), { now: T0, policy: 'shop/api', path: '/' });
    assert.ok(!(cached instanceof Promise), 'memory revocation keeps the cached path synchronous');
    await services.revocation.revokeToken('https://id.example.com', 't-1', 600_000);
    const denied = m.authenticate(bearer(t1), { now: T0, policy: 'shop/api', path: '/' });
    assert.ok(!(denied instanceof Promise));
    assert.equal(outcome(denied), 'jwt_revoked');
    if (denied.kind === 'failure') assert.equal(denied.error.challenge?.params?.['error_description'], 'The token has been revoked');
    assert.equal(outcome(await authenticate(m, bearer(t2))), 'success');
    await services.revocation.revokeConsumer('https://id.example.com', 'alice', T0 + 60_000, undefined);
    assert.equal(outcome(await authenticate(m, bearer(t2))), 'jwt_revoked');
    assert.equal(outcome(await authenticate(m, bearer(later), T0 + 130_000)), 'success');
  });

  test('in Redis: denied across replicas, and 503 revocation_unavailable when Redis is gone', async () => {
    const writer = createJwtServices({ redisUrl: redis.url, revocationCacheMs: 0 });
    const replica = createJwtServices({ redisUrl: redis.url, revocationCacheMs: 0 });
    after(async () => {
      await writer.close();
      await replica.close();
    });
    await Promise.all([writer.revocation.ready(5000), replica.revocation.ready(5000)]);
    const m = mustCompile({ algorithms: ['HS256'], secretRef: { name: 'jwt-hmac', key: 'secret' }, revocation: true }, { services: replica, secrets: [hsSecret] });
    const t = await hs({ sub: 'zoe', jti: `r-${Date.now()}`, iat: S0, exp: S0 + 600 });
    assert.equal(outcome(await authenticate(m, bearer(t))), 'success');
    const jti = JSON.parse(Buffer.from(t.split('.')[1] ?? '', 'base64url').toString()).jti as string;
    // No issuer: the scope is policy/method.
    await writer.revocation.revokeToken('shop/api/tokens', jti, 60_000);
    assert.equal(outcome(await authenticate(m, bearer(t))), 'jwt_revoked');
    const other = await hs({ sub: 'zoe', jti: 'other', iat: S0, exp: S0 + 600 });
    await redis.kill();
    await assert.rejects(authenticate(m, bearer(other)), (e: unknown) => e instanceof GatehouseError && e.code === 'revocation_unavailable');
    await redis.restart();
  });
});
