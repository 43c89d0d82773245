// A cookie-session logout is never forgotten: a flood of sign-in/logout pairs against a small bounded
// revocation list (the first logged-out cookie stays refused, memory stays bounded, new sessions
// work), expiry with the session it revoked, and logouts shared through a real redis-server by two
// gatehouse processes, across a restart, failing closed when Redis is down.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { createJwtServices } from '../src/authn/jwt/services.js';
import { MemoryRevocationList, type RevocationCounts } from '../src/revocation/revocation.js';
import type { Decision, Deny } from '../src/core/decision.js';
import { CheckInput } from '../src/core/input.js';
import { Pipeline } from '../src/core/pipeline.js';
import { compilePolicy } from '../src/policy/compile.js';
import type { CompileEnv } from '../src/policy/compile-context.js';
import { PolicyIndex } from '../src/policy/index.js';
import type { SecretResource } from '../src/config/resources.js';
import { SecretIndex } from '../src/config/secrets.js';
import { createSessionServices, type SessionRejectReason } from '../src/session/services.js';
import type { DecodedCheckResponse } from './support/envoy-client.js';
import { eventually, startTestGatehouse, type TestGatehouse } from './support/gatehouse.js';
import { startRedis, type RedisServer } from './support/redis.js';
import { SESSION_SECRETS, SESSION_UNAVAILABLE, sessionPolicy } from './support/session-grpc.js';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const MIN = 60_000;
const ABSOLUTE_MS = 120 * MIN;
const SKEW_MS = 5_000;
const EXPIRED = 'gh_session=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/; Secure; HttpOnly; SameSite=Strict';
const LOGGED_OUT: Deny = {
  kind: 'deny',
  code: 'session_logout',
  policy: 'shop/web',
  method: 'session',
  status: 200,
  headers: [
    { name: 'set-cookie', value: EXPIRED },
    { name: 'cache-control', value: 'no-store' },
    { name: 'content-type', value: 'application/json' },
  ],
  body: '{"message":"Logged out"}',
  detail: 'session logged out',
};

function secret(name: string, data: Record<string, string>, consumer?: string): SecretResource {
  const labels: Record<string, string> = consumer === undefined ? {} : { 'gatehouse.dev/credential': 'partners' };
  const annotations: Record<string, string> = consumer === undefined ? {} : { 'gatehouse.dev/consumer-id': consumer };
  return { namespace: 'shop', name, labels, annotations, data: new Map(Object.entries(data).map(([k, v]) => [k, Buffer.from(v)])), origin: 'test' };
}

const WEB = {
  hosts: ['web.example.com'],
  authentication: { methods: [{ name: 'keys', apiKey: { from: [{ header: 'apikey' }], selector: { matchLabels: { 'gatehouse.dev/credential': 'partners' } } } }] },
  session: { storage: 'cookie', secretRef: { name: 'web-session' }, absoluteTimeout: '2h', idleTimeout: '30m', renewBefore: '5m', logout: { path: '/logout' } },
};

/** One gatehouse's decision path (compilePolicy + PolicyIndex + Pipeline) on a bounded memory list. */
class Gate {
  now = T0;
  readonly reasons: SessionRejectReason[] = [];
  readonly widened: string[] = [];
  readonly list: MemoryRevocationList;
  readonly sessions = createSessionServices({ onReject: (r) => void this.reasons.push(r) });
  readonly pipeline = new Pipeline({ onNoPolicy: 'deny' });
  readonly index: PolicyIndex;

  constructor(bounds: { maxTokens: number; maxConsumers: number }) {
    this.list = new MemoryRevocationList({ clock: () => this.now, ...bounds, onWidened: (to) => void this.widened.push(to) });
    const env: CompileEnv = { clock: () => this.now, sessions: this.sessions, jwt: createJwtServices({ revocation: this.list }) };
    const secrets = new SecretIndex();
    for (const s of [secret('acme', { api_key: 'acme-key' }, 'acme'), secret('globex', { api_key: 'globex-key' }, 'globex'), secret('web-session', { k: 'k'.repeat(40) })]) {
      secrets.put(s);
    }
    const r = compilePolicy({ namespace: 'shop', name: 'web', generation: 1, creationTimestamp: undefined, origin: 't', spec: WEB }, secrets, env);
    assert.ok(r.ok, JSON.stringify(r.problems));
    this.index = new PolicyIndex([{ policy: r.policy, createdAt: undefined }]);
  }

  check(path: string, headers: Record<string, string>, method = 'GET'): Decision | Promise<Decision> {
    return this.pipeline.decide(this.index, new CheckInput({ method, scheme: 'https', host: 'web.example.com', path, headers: new Map(Object.entries(headers)), peer: '127.0.0.1' }), this.now);
  }

  /** Signs in with an API key; the session cookie pair (`gh_session=...`). */
  async signIn(key = 'acme-key'): Promise<string> {
    const d = await this.check('/', { apikey: key });
    assert.equal(d.kind, 'allow', d.kind === 'deny' ? `${d.status} ${d.code}` : '');
    const setCookie = d.kind === 'allow' ? d.responseHeaders.find((h) => h.name === 'set-cookie')?.value ?? '' : '';
    assert.match(setCookie, /^gh_session=[A-Za-z0-9_-]+; Path=\/; Secure; HttpOnly; SameSite=Strict$/);
    return setCookie.slice(0, setCookie.indexOf(';'));
  }

  async logOut(cookie: string): Promise<void> {
    assert.deepEqual(await this.check('/logout', { cookie }, 'POST'), LOGGED_OUT);
  }

  /** Who the cookie alone authenticates (`x-consumer-id`), or the deny status and why the cookie was refused. */
  async whoIs(cookie: string): Promise<string> {
    this.reasons.length = 0;
    const d = await this.check('/', { cookie });
    if (d.kind === 'allow') return d.identity?.consumerId ?? '-';
    return `${d.status} ${this.reasons.join(',')}`;
  }

  async close(): Promise<void> {
    await this.sessions.close();
    await this.list.close();
  }
}

const within = (c: RevocationCounts, maxTokens: number, maxConsumers: number): boolean => c.tokens <= maxTokens && c.consumers <= maxConsumers && c.scopes <= 1;

describe('a flood of logouts against a bounded revocation list', { timeout: 240_000 }, () => {
  const MAX_TOKENS = 1000;
  const MAX_CONSUMERS = 10;
  const FLOOD = 200_000;
  const gate = new Gate({ maxTokens: MAX_TOKENS, maxConsumers: MAX_CONSUMERS });
  after(() => gate.close());

  it('a logged-out cookie is refused after a flood of 200,000 sign-in/logout pairs; memory stays bounded; new sign-ins work', async () => {
    const started = Date.now();
    const neighbour = await gate.signIn('globex-key');
    const kept: string[] = [];
    let largest: RevocationCounts = { tokens: 0, consumers: 0, scopes: 0 };
    for (let i = 0; i < FLOOD; i++) {
      gate.now += 1;
      const cookie = await gate.signIn();
      await gate.logOut(cookie);
      if (i === 0 || i === MAX_TOKENS - 1 || i === MAX_TOKENS || i === FLOOD / 2 || i === FLOOD - 1) kept.push(cookie);
      const c = gate.list.counts();
      if (!within(c, MAX_TOKENS, MAX_CONSUMERS)) assert.fail(`round ${i}: ${JSON.stringify(c)}`);
      if (c.tokens + c.consumers + c.scopes > largest.tokens + largest.consumers + largest.scopes) largest = c;
    }
    assert.deepEqual(gate.list.counts(), { tokens: MAX_TOKENS, consumers: 1, scopes: 0 });
    assert.deepEqual(largest, { tokens: MAX_TOKENS, consumers: 1, scopes: 0 });
    // The first 1,000 logouts are held one by one; every later one raised acme's watermark.
    assert.equal(gate.widened.length, FLOOD - MAX_TOKENS);
    assert.ok(gate.widened.every((w) => w === 'consumer'));

    for (const cookie of kept) assert.equal(await gate.whoIs(cookie), '401 logged_out');
    // Only sessions issued at or before the last logged-out one are refused: new ones work, and
    // another consumer's session was never touched.
    gate.now += 1;
    const fresh = await gate.signIn();
    assert.equal(await gate.whoIs(fresh), 'acme');
    assert.equal(await gate.whoIs(neighbour), 'globex');
    assert.ok(Date.now() - started < 200_000, `the flood took ${Date.now() - started} ms`);
  });
});

describe('a logout lives exactly as long as the session it ended', () => {
  it('after the absolute expiry the entry is gone, and the cookie is refused because it expired', async () => {
    const gate = new Gate({ maxTokens: 10, maxConsumers: 10 });
    after(() => gate.close());
    const cookie = await gate.signIn();
    await gate.logOut(cookie);
    assert.deepEqual(gate.list.counts(), { tokens: 1, consumers: 0, scopes: 0 });
    gate.now = T0 + 29 * MIN;
    assert.equal(await gate.whoIs(cookie), '401 logged_out');
    // Held to the absolute expiry (idle expiry is not final: renewal moves it), plus the clock
    // difference replicas may have; then dropped.
    gate.now = T0 + ABSOLUTE_MS + SKEW_MS - 1;
    assert.deepEqual(gate.list.counts(), { tokens: 1, consumers: 0, scopes: 0 });
    gate.now = T0 + ABSOLUTE_MS + SKEW_MS;
    assert.deepEqual(gate.list.counts(), { tokens: 0, consumers: 0, scopes: 0 });
    assert.equal(await gate.whoIs(cookie), '401 expired_absolute');
  });

  it('a watermark ends the older sessions of its consumer, spares newer ones, and leaves once they have all expired', async () => {
    const gate = new Gate({ maxTokens: 1, maxConsumers: 10 });
    after(() => gate.close());
    const first = await gate.signIn();
    gate.now = T0 + 1;
    const older = await gate.signIn();
    gate.now = T0 + 2;
    const second = await gate.signIn();
    gate.now = T0 + 3;
    const newer = await gate.signIn();
    await gate.logOut(first);
    await gate.logOut(second);
    assert.deepEqual(gate.widened, ['consumer']);
    assert.deepEqual(
      [await gate.whoIs(first), await gate.whoIs(older), await gate.whoIs(second), await gate.whoIs(newer)],
      ['401 logged_out', '401 logged_out', '401 logged_out', 'acme'],
    );
    assert.deepEqual(gate.list.counts(), { tokens: 1, consumers: 1, scopes: 0 });
    // Every session it covers was issued by T0 + 2 and lives at most 2h (plus skew).
    gate.now = T0 + 2 + ABSOLUTE_MS + SKEW_MS - 1;
    assert.deepEqual(gate.list.counts(), { tokens: 0, consumers: 1, scopes: 0 });
    gate.now = T0 + 2 + ABSOLUTE_MS + SKEW_MS;
    assert.deepEqual(gate.list.counts(), { tokens: 0, consumers: 0, scopes: 0 });
  });

  it('with the consumer watermarks full too, a logout ends every older session of the policy, not newer ones', async () => {
    const gate = new Gate({ maxTokens: 1, maxConsumers: 1 });
    after(() => gate.close());
    const acme1 = await gate.signIn();
    const globex1 = await gate.signIn('globex-key');
    gate.now = T0 + 1;
    const acme2 = await gate.signIn();
    const globex2 = await gate.signIn('globex-key');
    gate.now = T0 + 2;
    const globex3 = await gate.signIn('globex-key');
    await gate.logOut(acme1); // held alone
    await gate.logOut(acme2); // acme's watermark
    await gate.logOut(globex2); // no room for globex's: the policy's watermark
    assert.deepEqual(gate.widened, ['consumer', 'scope']);
    assert.deepEqual(
      [await gate.whoIs(acme1), await gate.whoIs(acme2), await gate.whoIs(globex1), await gate.whoIs(globex2), await gate.whoIs(globex3)],
      ['401 logged_out', '401 logged_out', '401 logged_out', '401 logged_out', 'globex'],
    );
    assert.deepEqual(gate.list.counts(), { tokens: 1, consumers: 1, scopes: 1 });
  });
});

const FILES = { 'policies.yaml': sessionPolicy('web', 'cookie'), 'secrets.yaml': SESSION_SECRETS };

describe('cookie-session logouts shared through Redis by two gatehouse processes', { timeout: 120_000 }, () => {
  let redis: RedisServer;
  let probe: Redis;
  const running: TestGatehouse[] = [];
  const start = async (): Promise<TestGatehouse> => {
    const g = await startTestGatehouse(FILES, { flags: ['--redis-url', redis.url] });
    running.push(g);
    await eventually(() => g.gatehouse.store.index !== undefined, 5000, 'policies loaded');
    return g;
  };
  const signIn = async (g: TestGatehouse): Promise<string> => {
    const res = await g.envoy.check({ host: 'web.example.com', path: '/', headers: { apikey: 'acme-key-1' } });
    const setCookie = res.kind === 'ok' ? res.ok.responseHeadersToAdd.find((h) => h.key === 'set-cookie')?.value ?? '' : JSON.stringify(res);
    assert.match(setCookie, /^gh_session=[A-Za-z0-9_-]+; Path=\/; Secure; HttpOnly; SameSite=Strict$/);
    return setCookie.slice(0, setCookie.indexOf(';'));
  };
  const logOut = (g: TestGatehouse, cookie: string): Promise<DecodedCheckResponse> => g.envoy.check({ host: 'web.example.com', path: '/logout', method: 'POST', headers: { cookie } });
  const whoIs = async (g: TestGatehouse, cookie: string): Promise<string> => {
    const res = await g.envoy.check({ host: 'web.example.com', path: '/', headers: { cookie } });
    if (res.kind === 'ok') return res.ok.headers.find((h) => h.key === 'x-consumer-id')?.value ?? '-';
    return res.kind === 'denied' ? String(res.denied.status) : res.kind;
  };

  before(async () => {
    redis = await startRedis();
    probe = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    probe.on('error', () => {}); // it sees the kill too
  });
  after(async () => {
    probe.disconnect();
    for (const g of running) await g.stop();
    await redis.stop();
  });

  it('a logout on one replica is refused on the other within the cache window, and still after a restart', async () => {
    const a = await start();
    const b = await start();
    const cookie = await signIn(a);
    assert.equal(await whoIs(b, cookie), 'acme', 'the sealed cookie works on every replica');
    const logout = await logOut(a, cookie);
    assert.equal(logout.kind === 'denied' ? `${logout.denied.status} ${logout.denied.body}` : logout.kind, '200 {"message":"Logged out"}');
    assert.equal(await whoIs(a, cookie), '401', 'refused at once where it was logged out');
    // b may reuse its "not logged out" answer for the revocation cache window (1 s).
    await eventually(async () => (await whoIs(b, cookie)) === '401', 4000, 'the logout to reach the other replica');

    // One key, expiring with the session (absoluteTimeout 24h, plus the clock skew allowance).
    const keys = await probe.keys('gatehouse:jwt-revoked:*:j:*');
    assert.equal(keys.length, 1);
    const pttl = await probe.pttl(keys[0] ?? '');
    assert.ok(pttl > 24 * 60 * MIN - MIN && pttl <= 24 * 60 * MIN + SKEW_MS, `PTTL ${pttl}`);

    await a.stop();
    running.splice(running.indexOf(a), 1);
    const restarted = await start();
    assert.equal(await whoIs(restarted, cookie), '401', 'a new process still refuses it');
    assert.equal(await whoIs(restarted, await signIn(restarted)), 'acme', 'and new sessions work');
  });

  it('Redis down: a session Check and a logout answer 503, never 200', async () => {
    const [a, b] = running;
    assert.ok(a !== undefined && b !== undefined);
    // Signing in asks no list, so neither replica has an answer about this cookie to reuse.
    const cookie = await signIn(a);
    await redis.kill();
    try {
      assert.deepEqual(await a.envoy.check({ host: 'web.example.com', path: '/', headers: { cookie } }), SESSION_UNAVAILABLE);
      assert.deepEqual(await b.envoy.check({ host: 'web.example.com', path: '/', headers: { cookie } }), SESSION_UNAVAILABLE);
      assert.deepEqual(await logOut(b, cookie), SESSION_UNAVAILABLE, 'a logout that cannot be recorded does not claim success');
    } finally {
      await redis.restart();
    }
  });
});
