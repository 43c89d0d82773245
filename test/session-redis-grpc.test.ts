// Redis sessions end to end: the whole service started with --redis-url against a real redis-server,
// Checks sent the way Envoy sends them, exact CheckResponses asserted. Sessions created after an API
// key and after a JWT, "log out everywhere", and a Redis that dies and comes back.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { SignJWT } from 'jose';
import type { DecodedCheckResponse, DecodedHeader } from './support/envoy-client.js';
import { authPolicy, hmacJwtMethod, hmacSecret, keyMethod, keySecret, yamlOf } from './support/fixtures.js';
import { eventually, startTestGatehouse, type TestGatehouse } from './support/gatehouse.js';
import { startRedis, type RedisServer } from './support/redis.js';
import { SESSION_SECRETS, SESSION_UNAVAILABLE } from './support/session-grpc.js';

const HMAC = 'hs256-session-test-secret-0123456789abcdef';
const ISSUER = 'https://id.example.com';

const session = { storage: 'redis', secretRef: { name: 'shop-session' }, logout: { path: '/logout', everywhere: { path: '/logout/everywhere' } } };
const tokens = hmacJwtMethod({ issuer: ISSUER, audiences: ['shop'], consumer: { username: 'preferred_username', groups: 'groups' }, hideCredentials: true });

const FILES = {
  'policies.yaml': yamlOf(
    authPolicy('shop', 'web', { hosts: ['web.example.com'], authentication: { methods: [keyMethod('partners', { hideCredentials: true })] }, session }),
    authPolicy('shop', 'app', { hosts: ['app.example.com'], authentication: { methods: [tokens] }, session }),
  ),
  'secrets.yaml': `${SESSION_SECRETS}---\n${yamlOf(
    keySecret('shop', 'globex', 'globex-key-1', { id: 'globex' }),
    keySecret('shop', 'initech', 'initech-key-1', { id: 'initech' }),
    hmacSecret('shop', HMAC),
  )}`,
};

const SET_COOKIE = /^gh_session=([A-Za-z0-9_-]{43})\.[A-Za-z0-9_-]{22}; Path=\/; Secure; HttpOnly; SameSite=Strict$/;
const ACME_HEADERS: DecodedHeader[] = [
  { key: 'x-consumer-id', value: 'acme', append: false },
  { key: 'x-consumer-username', value: 'acme-corp', append: false },
  { key: 'x-credential-identifier', value: 'shop/acme', append: false },
  { key: 'x-authenticated-groups', value: 'partners, beta', append: false },
];
const REMOVALS = ['x-consumer-custom-id', 'x-anonymous-consumer'];

function ok(headers: DecodedHeader[], headersToRemove: string[], responseHeadersToAdd: DecodedHeader[] = []): DecodedCheckResponse {
  return { grpcCode: 0, message: '', kind: 'ok', ok: { headers, headersToRemove, responseHeadersToAdd, queryParametersToSet: [], queryParametersToRemove: [] } };
}

/** The Set-Cookie a login answered with, checked to be the only response header and exact. */
function setCookieOf(res: DecodedCheckResponse): string {
  assert.equal(res.kind, 'ok', JSON.stringify(res));
  const added = res.kind === 'ok' ? res.ok.responseHeadersToAdd : [];
  assert.equal(added.length, 1, JSON.stringify(added));
  const h = added[0];
  assert.ok(h !== undefined);
  assert.equal(h.key, 'set-cookie');
  assert.equal(h.append, true);
  assert.match(h.value, SET_COOKIE);
  return h.value;
}
const pairOf = (setCookie: string): string => setCookie.slice(0, setCookie.indexOf(';'));
const idOf = (setCookie: string): string => SET_COOKIE.exec(setCookie)?.[1] ?? '';

describe('Redis sessions through the ext_authz gRPC server', { timeout: 180_000 }, () => {
  let redis: RedisServer;
  let g: TestGatehouse;
  let probe: Redis;

  before(async () => {
    redis = await startRedis();
    g = await startTestGatehouse(FILES, { flags: ['--redis-url', redis.url] });
    await eventually(() => g.gatehouse.store.index !== undefined, 5000, 'policies loaded');
    probe = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    probe.on('error', () => {}); // it sees the kill too; failures surface as failed commands
  });
  after(async () => {
    probe.disconnect();
    await g.stop();
    await redis.stop();
  });

  const check = (host: string, path: string, headers: Record<string, string>, method = 'GET'): Promise<DecodedCheckResponse> =>
    g.envoy.check({ host, path, headers, method });
  const login = async (key = 'acme-key-1'): Promise<string> => pairOf(setCookieOf(await check('web.example.com', '/', { apikey: key })));
  const whoIs = async (cookie: string, host = 'web.example.com'): Promise<string> => {
    const res = await check(host, '/', { cookie });
    if (res.kind === 'ok') return res.ok.headers.find((h) => h.key === 'x-consumer-id')?.value ?? '-';
    return res.kind === 'denied' ? String(res.denied.status) : res.kind;
  };

  it('an API key creates the session: one exact Set-Cookie appended, the record already in Redis', async () => {
    const res = await check('web.example.com', '/', { apikey: 'acme-key-1' });
    const setCookie = setCookieOf(res);
    assert.deepEqual(res, ok(ACME_HEADERS, [...REMOVALS, 'apikey'], [{ key: 'set-cookie', value: setCookie, append: true }]));
    const stored = JSON.parse((await probe.get(`gatehouse:sess:${idOf(setCookie)}`)) ?? 'null') as Record<string, unknown> | null;
    assert.ok(stored !== null, 'record written before the answer');
    assert.deepEqual([stored['aud'], stored['sub'], stored['method'], stored['credential']], ['shop/web', 'acme', 'keys', 'shop/acme']);
  });

  it('the cookie alone authenticates with the same identity headers; the upstream never sees it', async () => {
    const cookie = await login();
    assert.deepEqual(await check('web.example.com', '/orders', { cookie: `lang=en; ${cookie}` }), ok([...ACME_HEADERS, { key: 'cookie', value: 'lang=en', append: false }], REMOVALS));
    assert.deepEqual(await check('web.example.com', '/orders', { cookie }), ok(ACME_HEADERS, [...REMOVALS, 'cookie']));
  });

  it('a session this replica read within the cache max age is answered without any Redis command', async () => {
    const metrics = g.gatehouse.metrics;
    const gauge = async (): Promise<number> => (await metrics.sessionCacheSubscribed.get()).values[0]?.value ?? -1;
    const heard = async (): Promise<number> => (await metrics.sessionCacheInvalidations.get()).values[0]?.value ?? 0;
    const hits = async (): Promise<number> => (await metrics.sessionCacheLookups.get()).values.find((v) => v.labels['result'] === 'hit')?.value ?? 0;
    const calls = async (command: string): Promise<number> => {
      const line = (await probe.info('commandstats')).split('\r\n').find((l) => l.startsWith(`cmdstat_${command}:`));
      return Number(/calls=(\d+)/.exec(line ?? '')?.[1] ?? 0);
    };
    await eventually(async () => (await gauge()) === 1, 10_000, 'the session cache to be subscribed');
    const before = await heard();
    const cookie = await login();
    // The login announced its new id; a read that the announcement overtakes would not be kept.
    await eventually(async () => (await heard()) > before, 5000, 'the login to be heard');
    assert.deepEqual(await check('web.example.com', '/orders', { cookie }), ok(ACME_HEADERS, [...REMOVALS, 'cookie']));
    const [gets, pttls, hits0] = [await calls('get'), await calls('pttl'), await hits()];
    for (let i = 0; i < 5; i++) assert.deepEqual(await check('web.example.com', '/orders', { cookie }), ok(ACME_HEADERS, [...REMOVALS, 'cookie']));
    assert.deepEqual([await calls('get'), await calls('pttl'), await hits()], [gets, pttls, hits0 + 5]);
    const loggedOut = await check('web.example.com', '/logout', { cookie }, 'POST');
    assert.deepEqual([loggedOut.message, loggedOut.kind === 'denied' ? loggedOut.denied.status : 0], ['session_logout', 200]);
    const after = await check('web.example.com', '/orders', { cookie });
    assert.deepEqual([after.message, after.kind === 'denied' ? after.denied.status : 0], ['credential_missing', 401], 'this replica forgot the session at its own logout');
  });

  it('a JWT creates the session too; the cookie then carries the token consumer', async () => {
    const now = Math.floor(Date.now() / 1000);
    const token = await new SignJWT({ sub: 'alice', jti: 'tok-77', preferred_username: 'Alice', groups: ['staff', 'beta'], iss: ISSUER, aud: 'shop', iat: now, exp: now + 300 })
      .setProtectedHeader({ alg: 'HS256' })
      .sign(Buffer.from(HMAC));
    const alice: DecodedHeader[] = [
      { key: 'x-consumer-id', value: 'alice', append: false },
      { key: 'x-consumer-username', value: 'Alice', append: false },
      { key: 'x-credential-identifier', value: 'tok-77', append: false },
      { key: 'x-authenticated-groups', value: 'staff, beta', append: false },
    ];
    const res = await check('app.example.com', '/', { authorization: `Bearer ${token}` });
    const setCookie = setCookieOf(res);
    assert.deepEqual(res, ok(alice, [...REMOVALS, 'authorization'], [{ key: 'set-cookie', value: setCookie, append: true }]));
    const stored = JSON.parse((await probe.get(`gatehouse:sess:${idOf(setCookie)}`)) ?? 'null') as Record<string, unknown> | null;
    assert.deepEqual([stored?.['aud'], stored?.['sub'], stored?.['method']], ['shop/app', 'alice', 'tokens']);
    assert.deepEqual(await check('app.example.com', '/inbox', { cookie: pairOf(setCookie) }), ok(alice, [...REMOVALS, 'cookie']));
    // A session cookie is bound to the policy that created it.
    assert.deepEqual(await whoIs(pairOf(setCookie)), '401');
  });

  it("log out everywhere: one request ends both of a consumer's sessions; another consumer's lives on", async () => {
    // initech signs in only here, so exactly these two sessions are its.
    const laptop = await login('initech-key-1');
    const phone = await login('initech-key-1');
    const neighbour = await login('globex-key-1');
    assert.deepEqual([await whoIs(laptop), await whoIs(phone), await whoIs(neighbour)], ['initech', 'initech', 'globex']);
    const res = await check('web.example.com', '/logout/everywhere', { cookie: phone }, 'POST');
    const attrs = '; Path=/; Secure; HttpOnly; SameSite=Strict';
    assert.deepEqual(res, {
      grpcCode: 7,
      message: 'session_logout_everywhere',
      kind: 'denied',
      denied: {
        status: 200,
        headers: [
          { key: 'set-cookie', value: `gh_session=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0${attrs}`, append: true },
          { key: 'cache-control', value: 'no-store', append: false },
          { key: 'content-type', value: 'application/json', append: false },
        ],
        body: '{"message":"Logged out everywhere","sessions":2}',
      },
    });
    assert.deepEqual([await whoIs(laptop), await whoIs(phone), await whoIs(neighbour)], ['401', '401', 'globex']);
    const index = `gatehouse:sess:idx:${Buffer.from('shop/web').toString('base64url')}.${Buffer.from('initech').toString('base64url')}`;
    assert.equal(await probe.exists(index), 0, 'the consumer index is gone with its sessions');
  });

  it('1,000 create-then-use in a row through gRPC never miss', async () => {
    for (let i = 0; i < 1000; i++) {
      const cookie = await login();
      assert.equal(await whoIs(cookie), 'acme', `round ${i}`);
    }
  });

  it('Redis killed: the session request gets 503 session_store_unavailable; restarted: sessions work again', async () => {
    const cookie = await login();
    await redis.kill();
    assert.deepEqual(await check('web.example.com', '/', { cookie }), SESSION_UNAVAILABLE);
    // Creating a session needs the store as much as using one.
    assert.deepEqual(await check('web.example.com', '/', { apikey: 'acme-key-1' }), SESSION_UNAVAILABLE);

    await redis.restart();
    // The client reconnects by itself (backoff capped at 500 ms); nothing restarts gatehouse.
    let fresh: string | undefined;
    await eventually(async () => {
      const res = await check('web.example.com', '/', { apikey: 'acme-key-1' });
      if (res.kind === 'ok') fresh = pairOf(setCookieOf(res));
      return fresh !== undefined;
    }, 10_000, 'a session created after the restart');
    assert.ok(fresh !== undefined);
    assert.deepEqual(await check('web.example.com', '/', { cookie: fresh }), ok(ACME_HEADERS, [...REMOVALS, 'cookie']));
    // The restarted Redis is empty: the old session is gone, which is no session (401), not an error.
    assert.equal(await whoIs(cookie), '401');
  });
});
