// Redis-backed sessions against a real redis-server, through compilePolicy + PolicyIndex + Pipeline:
// the record is acknowledged before the Set-Cookie leaves, logout deletes it, and a Redis that is
// down fails closed with 503 session_store_unavailable (or open when the policy says so).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import type { Allow, Decision, Deny } from '../src/core/decision.js';
import { CheckInput } from '../src/core/input.js';
import { Pipeline } from '../src/core/pipeline.js';
import { compilePolicy } from '../src/policy/compile.js';
import type { CompileEnv } from '../src/policy/compile-context.js';
import { PolicyIndex } from '../src/policy/index.js';
import type { SecretResource } from '../src/config/resources.js';
import { SecretIndex } from '../src/config/secrets.js';
import { createSessionServices, type SessionRejectReason, type SessionServices } from '../src/session/services.js';
import { eventually } from './support/eventually.js';
import { startRedis, type RedisServer } from './support/redis.js';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const MIN = 60_000;

function secret(name: string, data: Record<string, string>, labels: Record<string, string> = {}, annotations: Record<string, string> = {}): SecretResource {
  return { namespace: 'shop', name, labels, annotations, data: new Map(Object.entries(data).map(([k, v]) => [k, Buffer.from(v)])), origin: 'test' };
}

const SECRETS = [
  secret('acme', { api_key: 'acme-key-1' }, { 'gatehouse.dev/credential': 'partners' }, {
    'gatehouse.dev/consumer-id': 'acme',
    'gatehouse.dev/groups': 'partners',
  }),
  secret('web-session', { k1: 'k'.repeat(48) }),
];

function spec(host: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    hosts: [host],
    authentication: { methods: [{ name: 'keys', apiKey: { from: [{ header: 'apikey' }], selector: { matchLabels: { 'gatehouse.dev/credential': 'partners' } } } }] },
    session: { storage: 'redis', secretRef: { name: 'web-session' }, idleTimeout: '30m', renewBefore: '5m', logout: { path: '/logout' } },
    ...extra,
  };
}

function allow(d: Decision): Allow {
  assert.equal(d.kind, 'allow', d.kind === 'deny' ? `${d.status} ${d.code} ${d.detail}` : '');
  return d as Allow;
}
function deny(d: Decision): Deny {
  assert.equal(d.kind, 'deny');
  return d as Deny;
}
function cookieFrom(a: Allow): string {
  const sc = a.responseHeaders.filter((h) => h.name === 'set-cookie').map((h) => h.value);
  assert.equal(sc.length, 1);
  const v = sc[0] ?? '';
  assert.match(v, /^gh_session=[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{22}; Path=\/; Secure; HttpOnly; SameSite=Strict$/);
  return v.slice(0, v.indexOf(';'));
}
const idOf = (cookie: string): string => cookie.slice('gh_session='.length, cookie.indexOf('.'));

describe('session storage redis', () => {
  let redis: RedisServer;
  let services: SessionServices;
  let probe: Redis;
  let index: PolicyIndex;
  let now = T0;
  const reasons: SessionRejectReason[] = [];
  const pipeline = new Pipeline({ onNoPolicy: 'deny' });
  const check = async (host: string, path: string, headers: Record<string, string>, method = 'GET'): Promise<Decision> =>
    pipeline.decide(index, new CheckInput({ method, scheme: 'https', host, path, headers: new Map(Object.entries(headers)), peer: '127.0.0.1' }), now);
  const login = async (host = 'web.example.com'): Promise<string> => cookieFrom(allow(await check(host, '/', { apikey: 'acme-key-1' })));

  before(async () => {
    redis = await startRedis();
    services = createSessionServices({ redisUrl: redis.url, onReject: (r) => void reasons.push(r) });
    probe = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    probe.on('error', () => {}); // it sees the kill too; failures surface as failed commands
    const env: CompileEnv = { clock: () => now, sessions: services };
    const secrets = new SecretIndex();
    for (const s of SECRETS) secrets.put(s);
    const entries = [
      { name: 'web', spec: spec('web.example.com') },
      { name: 'lenient', spec: spec('lenient.example.com', { failureMode: 'open' }) },
    ].map(({ name, spec: s }) => {
      const r = compilePolicy({ namespace: 'shop', name, generation: 1, creationTimestamp: undefined, origin: 't', spec: s }, secrets, env);
      assert.ok(r.ok, JSON.stringify(r.problems));
      return { policy: r.policy, createdAt: undefined };
    });
    index = new PolicyIndex(entries);
    await services.ready();
  });
  after(async () => {
    probe.disconnect();
    await services.close();
    await redis.stop();
  });

  it('the record is in Redis before the answer, with the idle timeout as TTL; the cookie alone then authenticates', async () => {
    now = T0;
    const cookie = await login();
    const raw = await probe.get(`gatehouse:sess:${idOf(cookie)}`);
    assert.ok(raw !== null);
    const stored = JSON.parse(raw) as Record<string, unknown>;
    assert.deepEqual([stored['aud'], stored['sub'], stored['method'], stored['iat'], stored['idleExp']], ['shop/web', 'acme', 'keys', T0, T0 + 30 * MIN]);
    const pttl = await probe.pttl(`gatehouse:sess:${idOf(cookie)}`);
    assert.ok(pttl > 30 * MIN - 5000 && pttl <= 30 * MIN, String(pttl));
    const a = allow(await check('web.example.com', '/', { cookie }));
    assert.equal(a.identity?.consumerId, 'acme');
    assert.equal(a.identity?.method, 'keys');
    assert.deepEqual(a.responseHeaders, []);
  });

  it('1,000 create-then-use in a row never miss', async () => {
    now = T0;
    for (let i = 0; i < 1000; i++) {
      const cookie = await login();
      const a = allow(await check('web.example.com', '/', { cookie }));
      assert.equal(a.identity?.consumerId, 'acme');
    }
  });

  it('renewal rewrites the record with a later idle expiry before answering', async () => {
    now = T0;
    const cookie = await login();
    now = T0 + 27 * MIN;
    const a = allow(await check('web.example.com', '/', { cookie }));
    const renewed = cookieFrom(a);
    assert.equal(renewed, cookie);
    const stored = JSON.parse((await probe.get(`gatehouse:sess:${idOf(cookie)}`)) ?? '{}') as Record<string, unknown>;
    assert.equal(stored['idleExp'], T0 + 57 * MIN);
    now = T0 + 45 * MIN;
    assert.equal(allow(await check('web.example.com', '/', { cookie })).identity?.consumerId, 'acme');
  });

  it('logout deletes the record; the replayed cookie is no session', async () => {
    now = T0;
    const cookie = await login();
    const d = deny(await check('web.example.com', '/logout', { cookie }, 'POST'));
    assert.equal(d.status, 200);
    assert.equal(await probe.get(`gatehouse:sess:${idOf(cookie)}`), null);
    reasons.length = 0;
    const replay = deny(await check('web.example.com', '/', { cookie }));
    assert.equal(replay.status, 401);
    assert.deepEqual(reasons, ['not_found']);
  });

  it('Redis killed: 503 session_store_unavailable (fail-open policy passes); restarted: sessions work again', async () => {
    now = T0;
    const cookie = await login();
    const lenientCookie = await login('lenient.example.com');
    await redis.kill();
    const d = deny(await check('web.example.com', '/', { cookie }));
    assert.equal(d.status, 503);
    assert.equal(d.code, 'session_store_unavailable');
    assert.equal(d.body, '{"code":"session_store_unavailable","message":"Service unavailable"}');
    // Creating a session needs the store as much as using one.
    const create = deny(await check('web.example.com', '/', { apikey: 'acme-key-1' }));
    assert.deepEqual([create.status, create.code], [503, 'session_store_unavailable']);
    const open = allow(await check('lenient.example.com', '/', { cookie: lenientCookie }));
    assert.equal(open.code, 'fail_open');
    assert.equal(open.identity, undefined);

    await redis.restart();
    let fresh = '';
    await eventually(async () => {
      const d2 = await check('web.example.com', '/', { apikey: 'acme-key-1' });
      if (d2.kind === 'allow') fresh = cookieFrom(d2);
      return fresh !== '';
    }, 10_000, 'a session created once Redis is back');
    assert.equal(allow(await check('web.example.com', '/', { cookie: fresh })).identity?.consumerId, 'acme');
    // The restarted Redis is empty: the old session is gone, which is no session, not an error.
    assert.equal(deny(await check('web.example.com', '/', { cookie })).status, 401);
  });
});
