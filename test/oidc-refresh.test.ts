// Token refresh of OpenID Connect sessions through real gRPC Checks and a real provider: once the
// access token is within the leeway of its expiry (gatehouse's injected clock moves on), the next
// request refreshes it once per session however many arrive together (counted at the provider's
// token endpoint), in one replica and across two sharing Redis; a refresh that fails ends the session.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { deniedOf, okOf, type DecodedCheckResponse } from './support/envoy-client.js';
import { eventually, startTestGatehouse, type TestGatehouse } from './support/gatehouse.js';
import { Browser, headerOf, oidcBlock, shopFiles } from './support/oidc-browser.js';
import { startLoginOp, type LoginOp } from './support/oidc-login-op.js';
import { startRedis, type RedisServer } from './support/redis.js';

const BOUNDED = { timeout: 60_000 };
const T0 = Date.now();
/** Access tokens live 300 s; with the default 30 s leeway, a refresh is due 271 s after login. */
const DUE = 271_000;
const XHR = { 'x-requested-with': 'XMLHttpRequest' };

const accessTokenOf = (res: DecodedCheckResponse): string => headerOf(okOf(res).headers, 'x-access-token');

async function ready(g: TestGatehouse, op: LoginOp): Promise<void> {
  await eventually(() => op.requests('/.well-known/openid-configuration') > 0 && g.gatehouse.store.status('shop', 'shop')?.ready === true, 10_000, 'discovery');
}

for (const storage of ['memory', 'cookie', 'redis'] as const) {
  describe(`OpenID Connect token refresh (session storage ${storage})`, () => {
    let op: LoginOp;
    let g: TestGatehouse;
    let redis: RedisServer | undefined;
    let now = T0;

    before(async () => {
      op = await startLoginOp();
      if (storage === 'redis') redis = await startRedis();
      const files = shopFiles([op], { methods: [{ name: 'corp', oidc: oidcBlock(op) }], session: { storage, secretRef: { name: 'shop-session' }, idleTimeout: '1h', renewBefore: '5m' } });
      g = await startTestGatehouse(files, { clock: () => now, flags: redis === undefined ? [] : ['--redis-url', redis.url] });
      await ready(g, op);
    }, { timeout: 700_000 });
    after(async () => {
      await g?.stop();
      await op?.close();
      await redis?.stop();
    });

    it('a due access token is refreshed before the request goes upstream: new tokens, the session unchanged', BOUNDED, async () => {
      now = T0;
      const browser = new Browser(g);
      await browser.login(op, 'alice');
      const before = accessTokenOf(await browser.check('/'));
      const tokenCalls = op.requests('/token');
      now = T0 + DUE - 2000;
      assert.equal(accessTokenOf(await browser.check('/')), before, 'not due yet: no refresh');
      assert.equal(op.requests('/token'), tokenCalls);
      now = T0 + DUE;
      const res = await browser.check('/orders');
      const after = accessTokenOf(res);
      assert.notEqual(after, before);
      assert.equal(op.requests('/token'), tokenCalls + 1, 'one refresh at the provider');
      assert.equal(headerOf(okOf(res).headers, 'x-consumer-id'), 'alice');
      if (storage === 'cookie') assert.ok(headerOf(okOf(res).responseHeadersToAdd, 'set-cookie').startsWith('gh_session='), 'the new tokens ride in a new cookie');
      // The new tokens serve the next requests without another refresh.
      now = T0 + DUE + 60_000;
      assert.equal(accessTokenOf(await browser.check('/')), after);
      assert.equal(op.requests('/token'), tokenCalls + 1);
    });

    it('logging out after a refresh ends the session for every copy of its cookie, the one from before the refresh too', BOUNDED, async () => {
      now = T0;
      const browser = new Browser(g);
      await browser.login(op, 'alice');
      const old = browser.cookieFor('/') ?? '';
      now = T0 + DUE;
      okOf(await browser.check('/'));
      assert.equal(deniedOf(await browser.check('/logout')).status, 302);
      const replay = deniedOf(await g.envoy.check({ host: 'shop.example.com', path: '/', headers: { cookie: old } }));
      assert.equal(replay.status, 302, 'the pre-refresh cookie is no session either');
    });

    it('50 requests at once that all need a refresh cause exactly one refresh at the provider, and all pass with its tokens', BOUNDED, async () => {
      now = T0;
      const browser = new Browser(g);
      await browser.login(op, 'bob');
      const cookie = browser.cookieFor('/') ?? '';
      const tokenCalls = op.requests('/token');
      now = T0 + 300_000 + 5000; // expired, not merely due: every request must wait for the new tokens
      const answers = await Promise.all(Array.from({ length: 50 }, () => g.envoy.check({ host: 'shop.example.com', path: '/', headers: { cookie } })));
      assert.equal(op.requests('/token') - tokenCalls, 1, 'exactly one refresh');
      const tokens = new Set(answers.map(accessTokenOf));
      assert.equal(tokens.size, 1, 'every request carries the refreshed token');
      assert.deepEqual(new Set(answers.map((a) => headerOf(okOf(a).headers, 'x-consumer-id'))), new Set(['bob']));
      // A request still carrying the old cookie afterwards does not refresh (with a spent refresh token) again.
      const late = await g.envoy.check({ host: 'shop.example.com', path: '/', headers: { cookie } });
      assert.deepEqual(new Set([accessTokenOf(late)]), tokens);
      assert.equal(op.requests('/token') - tokenCalls, 1);
    });

    it('a refresh the provider cannot answer ends the session: a page goes to log in again, a script gets the 401 JSON', BOUNDED, async () => {
      now = T0;
      const browser = new Browser(g);
      await browser.login(op, 'alice');
      const cookie = browser.cookieFor('/') ?? '';
      now = T0 + 300_000 + 1000;
      await op.stop();
      try {
        const script = deniedOf(await g.envoy.check({ host: 'shop.example.com', path: '/api/cart', headers: { cookie, ...XHR } }));
        assert.equal(script.status, 401);
        const body = JSON.parse(script.body) as Record<string, unknown>;
        assert.deepEqual([body['status'], body['request_path']], [401, '/api/cart']);
        assert.ok(String(body['redirect_url']).startsWith(`${op.issuer}/auth?`));
        const page = deniedOf(await g.envoy.check({ host: 'shop.example.com', path: '/', headers: { cookie } }));
        assert.equal(page.status, 302, 'the session ended: no refresh is tried again');
        assert.ok(headerOf(page.headers, 'location').startsWith(`${op.issuer}/auth?`));
      } finally {
        await op.restart();
      }
      // Even with the provider back, the ended session stays ended.
      assert.equal(deniedOf(await g.envoy.check({ host: 'shop.example.com', path: '/', headers: { cookie } })).status, 302);
    });

    it('a refresh the provider refuses (invalid_grant) ends the session', BOUNDED, async () => {
      now = T0;
      const browser = new Browser(g);
      await browser.login(op, 'alice');
      const cookie = browser.cookieFor('/') ?? '';
      now = T0 + 300_000 + 1000;
      const tokenCalls = op.requests('/token');
      op.refuseTokens(true);
      try {
        assert.equal(deniedOf(await g.envoy.check({ host: 'shop.example.com', path: '/', headers: { cookie } })).status, 302);
      } finally {
        op.refuseTokens(false);
      }
      assert.equal(op.requests('/token') - tokenCalls, 1, 'asked once, refused');
      assert.equal(deniedOf(await g.envoy.check({ host: 'shop.example.com', path: '/', headers: { cookie } })).status, 302, 'and not asked again');
      assert.equal(op.requests('/token') - tokenCalls, 1);
    });
  });
}

describe('OpenID Connect token refresh across two replicas sharing Redis', () => {
  let op: LoginOp;
  let redis: RedisServer;
  let a: TestGatehouse;
  let b: TestGatehouse;
  let now = T0;

  before(async () => {
    op = await startLoginOp();
    redis = await startRedis();
    const files = shopFiles([op], { methods: [{ name: 'corp', oidc: oidcBlock(op) }], session: { storage: 'redis', secretRef: { name: 'shop-session' }, idleTimeout: '1h' } });
    a = await startTestGatehouse(files, { clock: () => now, flags: ['--redis-url', redis.url] });
    b = await startTestGatehouse(files, { clock: () => now, flags: ['--redis-url', redis.url] });
    await ready(a, op);
    await ready(b, op);
  }, { timeout: 700_000 });
  after(async () => {
    await a?.stop();
    await b?.stop();
    await op?.close();
    await redis?.stop();
  });

  it('50 requests needing a refresh, spread over both replicas, cause exactly one refresh at the provider', BOUNDED, async () => {
    now = T0;
    const browser = new Browser(a);
    await browser.login(op, 'alice');
    const cookie = browser.cookieFor('/') ?? '';
    const tokenCalls = op.requests('/token');
    now = T0 + 300_000 + 5000;
    const answers = await Promise.all(
      Array.from({ length: 50 }, (_, i) => (i % 2 === 0 ? a : b).envoy.check({ host: 'shop.example.com', path: '/', headers: { cookie } })),
    );
    assert.equal(op.requests('/token') - tokenCalls, 1, 'exactly one refresh for both replicas');
    assert.equal(new Set(answers.map(accessTokenOf)).size, 1, 'both replicas serve the one refreshed token');
  });

  it('while one replica refreshes a due token, the other keeps serving the current one instead of refreshing too', BOUNDED, async () => {
    now = T0;
    const browser = new Browser(a);
    await browser.login(op, 'bob');
    const cookie = browser.cookieFor('/') ?? '';
    const current = accessTokenOf(await b.envoy.check({ host: 'shop.example.com', path: '/', headers: { cookie } }));
    const tokenCalls = op.requests('/token');
    now = T0 + DUE;
    const [fromA, fromB] = await Promise.all([
      a.envoy.check({ host: 'shop.example.com', path: '/', headers: { cookie } }),
      b.envoy.check({ host: 'shop.example.com', path: '/', headers: { cookie } }),
    ]);
    assert.equal(op.requests('/token') - tokenCalls, 1, 'one refresh for both replicas');
    const refreshed = accessTokenOf(await b.envoy.check({ host: 'shop.example.com', path: '/', headers: { cookie } }));
    assert.notEqual(refreshed, current);
    const served = [accessTokenOf(fromA), accessTokenOf(fromB)];
    assert.ok(served.includes(refreshed), 'the replica that refreshed serves the new token');
    assert.ok(served.every((t) => t === current || t === refreshed), 'the other serves the current token or, having waited, the new one');
    assert.equal(accessTokenOf(await a.envoy.check({ host: 'shop.example.com', path: '/', headers: { cookie } })), refreshed);
    assert.equal(op.requests('/token') - tokenCalls, 1);
  });
});
