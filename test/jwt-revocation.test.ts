// Revocation: one contract run against the in-memory list and against a real redis-server, then the
// jwt method denying revoked tokens and consumers, and failing closed when Redis cannot answer.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SignJWT } from 'jose';
import { createJwtServices } from '../src/authn/jwt-services.js';
import { MemoryRevocationList, type RevocationList } from '../src/authn/revocation.js';
import { RedisRevocationList } from '../src/authn/revocation-redis.js';
import { GatehouseError } from '../src/core/errors.js';
import { createRedisClient } from '../src/session/redis-client.js';
import { authenticate, bearer, mustCompile, outcome, S0, secret, T0 } from './support/jwt-policy.js';
import { startRedis, type RedisServer } from './support/redis.js';

const HMAC = 'hs256-shared-secret-0123456789abcdef';
const hsSecret = secret('jwt-hmac', { secret: HMAC });
const hs = (payload: Record<string, unknown>): Promise<string> => new SignJWT(payload).setProtectedHeader({ alg: 'HS256' }).sign(Buffer.from(HMAC));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

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

const IMPLEMENTATIONS: [string, () => Promise<RevocationList>][] = [
  ['memory', async () => new MemoryRevocationList()],
  [
    'redis',
    async () => {
      const l = redisList();
      await l.ready(5000);
      return l;
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
      const l = await make();
      assert.equal(await l.isRevoked(q()), false);
      assert.equal(await l.isRevoked(q({ jti: undefined, issuedAt: undefined })), false);
    });

    test('a revoked jti is denied in its scope only, until its ttl', async () => {
      const l = await make();
      await l.revokeToken('https://id.example.com', 'jti-1', 400);
      assert.equal(await l.isRevoked(q()), true);
      assert.equal(await l.isRevoked(q({ jti: 'jti-2' })), false);
      assert.equal(await l.isRevoked(q({ scope: 'https://other.example.com' })), false);
      await sleep(600);
      assert.equal(await l.isRevoked(q()), false);
    });

    test('a revoked consumer loses tokens issued before T (to the second), and those without iat', async () => {
      const l = await make();
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

    test('empty ids and non-positive ttls are refused', async () => {
      const l = await make();
      await assert.rejects(l.revokeToken('s', '', 1000), /scope and an id/);
      await assert.rejects(l.revokeToken('s', 'j', 0), /positive/);
      await assert.rejects(l.revokeConsumer('', 'c', 1, undefined), /scope and an id/);
    });
  });
}

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
