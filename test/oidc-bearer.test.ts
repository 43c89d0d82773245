// Bearer tokens at an `oidc` method, through real gRPC Checks against a real provider: the provider's
// JWT access tokens are verified locally and cached, opaque ones introspected once and cached, an
// inactive one refused with RFC 6750's challenge; a bearer-only policy never redirects. And several
// providers in one policy: chosen on the login path (`?idp=`) or bound to hosts, each session
// refreshing and logging out at the provider it came from.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { deniedOf, okOf } from './support/envoy-client.js';
import { eventually, startTestGatehouse, type TestGatehouse } from './support/gatehouse.js';
import { Browser, claimsOf, headerOf, oidcBlock, shopFiles } from './support/oidc-browser.js';
import { API_RESOURCE, startLoginOp, type LoginOp } from './support/oidc-login-op.js';

const BOUNDED = { timeout: 30_000 };
const API = 'api.example.com';
const CHALLENGE = 'Bearer realm="api.example.com", error="invalid_token"';

/** Every request the provider answered, whatever the endpoint. */
const providerCalls = (op: LoginOp): number =>
  ['/.well-known/openid-configuration', '/jwks', '/token', '/token/introspection', '/me', '/auth'].reduce((n, p) => n + op.requests(p), 0);

describe('bearer tokens at an oidc method (bearerOnly)', () => {
  let op: LoginOp;
  let g: TestGatehouse;

  before(async () => {
    op = await startLoginOp();
    const files = shopFiles([op], {
      methods: [{ name: 'idp', oidc: oidcBlock(op, { bearerOnly: true, accessTokenAudiences: [API_RESOURCE], logout: undefined }) }],
      rest: { hosts: [API] },
    });
    g = await startTestGatehouse(files);
    await eventually(() => g.gatehouse.store.status('shop', 'shop')?.ready === true && op.requests('/.well-known/openid-configuration') > 0, 10_000, 'discovery');
  });
  after(async () => {
    await g?.stop();
    await op?.close();
  });

  const check = (token: string | undefined, headers: Record<string, string> = {}) =>
    g.envoy.check({ host: API, path: '/v1/orders', headers: { ...(token === undefined ? {} : { authorization: `Bearer ${token}` }), ...headers } });

  it('the provider\'s JWT access token is verified locally; repeated, it costs no call to the provider', BOUNDED, async () => {
    const token = await op.clientToken(API_RESOURCE);
    assert.equal(token.split('.').length, 3);
    const first = okOf(await check(token));
    // As the `jwt` method does: the token's jti identifies the credential.
    assert.deepEqual(first.headers, [
      { key: 'x-consumer-id', value: op.clientId, append: false },
      { key: 'x-credential-identifier', value: String(claimsOf(token)['jti']), append: false },
    ]);
    const calls = providerCalls(op);
    for (let i = 0; i < 20; i++) assert.deepEqual(okOf(await check(token)).headers, first.headers);
    assert.equal(providerCalls(op), calls, 'no provider call for a cached token');
  });

  it('a JWT of the provider for another audience is refused with 401 and a Bearer challenge', BOUNDED, async () => {
    const tokens = await op.userTokens('alice');
    const d = deniedOf(await check(tokens.id_token));
    assert.deepEqual(d, {
      status: 401,
      headers: [
        { key: 'www-authenticate', value: 'Bearer realm="api.example.com", error="invalid_token", error_description="The token audience is not accepted"', append: false },
        { key: 'content-type', value: 'application/json', append: false },
      ],
      body: '{"code":"jwt_audience_invalid","message":"The token audience is not accepted"}',
    });
  });

  it('an opaque token is introspected once, then answered from the cache; 20 first requests at once share one introspection', BOUNDED, async () => {
    const { access_token: token } = await op.userTokens('alice');
    const before = op.requests('/token/introspection');
    const answers = await Promise.all(Array.from({ length: 20 }, () => check(token)));
    assert.equal(op.requests('/token/introspection') - before, 1);
    const userinfo = answers.map((a) => okOf(a).headers.find((h) => h.key === 'x-userinfo')?.value ?? '');
    for (const a of answers) {
      assert.deepEqual(okOf(a).headers, [
        { key: 'x-consumer-id', value: 'alice', append: false },
        { key: 'x-userinfo', value: userinfo[0], append: false },
      ]);
    }
    // A client's own X-Userinfo never reaches the application: gatehouse's overwrites it (append false).
    const forged = okOf(await check(token, { 'x-userinfo': Buffer.from('{"sub":"root"}').toString('base64') }));
    assert.deepEqual(forged.headersToRemove, ['x-consumer-username', 'x-consumer-custom-id', 'x-credential-identifier', 'x-authenticated-groups', 'x-anonymous-consumer', 'x-access-token', 'x-id-token']);
    assert.deepEqual(forged.headers.filter((h) => h.key === 'x-userinfo'), [{ key: 'x-userinfo', value: userinfo[0], append: false }]);
    for (let i = 0; i < 10; i++) okOf(await check(token));
    assert.equal(op.requests('/token/introspection') - before, 1, 'cached until it expires');
    // X-Userinfo is kong-oidc's: base64 of the provider's introspection answer, exactly.
    const direct = await fetch(`${op.issuer}/token/introspection`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${op.clientId}:${op.clientSecret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token }).toString(),
    });
    const answer = (await direct.json()) as Record<string, unknown>;
    assert.equal(answer['active'], true);
    assert.equal(answer['sub'], 'alice');
    assert.deepEqual(JSON.parse(Buffer.from(userinfo[0] ?? '', 'base64').toString('utf8')), answer);
  });

  it('an inactive (revoked) token is refused with 401 invalid_token, and the answer is cached briefly', BOUNDED, async () => {
    const { access_token: token } = await op.userTokens('bob');
    await fetch(`${op.issuer}/token/revocation`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${op.clientId}:${op.clientSecret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token }).toString(),
    });
    const before = op.requests('/token/introspection');
    const expected = {
      status: 401,
      headers: [
        { key: 'www-authenticate', value: CHALLENGE, append: false },
        { key: 'content-type', value: 'application/json', append: false },
      ],
      body: '{"code":"oidc_token_inactive","message":"The token is not active"}',
    };
    assert.deepEqual(deniedOf(await check(token)), expected);
    assert.deepEqual(deniedOf(await check(token)), expected);
    assert.equal(op.requests('/token/introspection') - before, 1);
  });

  it('without a token a bearer-only policy answers 401 with a Bearer challenge, never a redirect, even to a page', BOUNDED, async () => {
    const d = deniedOf(await check(undefined, { accept: 'text/html', 'sec-fetch-mode': 'navigate' }));
    assert.deepEqual(d, {
      status: 401,
      headers: [
        { key: 'www-authenticate', value: 'Bearer realm="api.example.com"', append: false },
        { key: 'content-type', value: 'application/json', append: false },
      ],
      body: '{"code":"credential_missing","message":"No credentials found in request"}',
    });
  });
});

describe('several providers in one policy', () => {
  let corp: LoginOp;
  let partner: LoginOp;
  let g: TestGatehouse;
  let now = Date.now();
  const PORTAL = ['https://corp.example.com/oauth2/callback', 'https://partners.example.com/oauth2/callback'];

  before(async () => {
    corp = await startLoginOp({ clientId: 'shop-web', redirectUris: ['https://shop.example.com/oauth2/callback', PORTAL[0] ?? ''] });
    partner = await startLoginOp({ clientId: 'partner-web', redirectUris: ['https://shop.example.com/oauth2/callback', PORTAL[1] ?? ''] });
    const session = { storage: 'memory', secretRef: { name: 'shop-session' } };
    const shop = shopFiles([corp, partner], {
      methods: [
        { name: 'corp', oidc: oidcBlock(corp, { loginPath: '/login' }) },
        { name: 'partner', oidc: oidcBlock(partner, { loginPath: '/login' }) },
      ],
      session,
    });
    const portal = shopFiles([], {
      methods: [
        { name: 'corp', oidc: oidcBlock(corp, { hosts: ['corp.example.com'], redirectUri: PORTAL[0], logout: undefined }) },
        { name: 'partner', oidc: oidcBlock(partner, { hosts: ['partners.example.com'], redirectUri: PORTAL[1], logout: undefined }) },
      ],
      session,
      rest: { hosts: ['corp.example.com', 'partners.example.com'] },
    }, 'portal');
    g = await startTestGatehouse({ ...shop, 'portal.yaml': portal['policy.yaml'] ?? '' }, { clock: () => now });
    await eventually(() => ['shop', 'portal'].every((p) => g.gatehouse.store.status('shop', p)?.ready === true) && partner.requests('/.well-known/openid-configuration') > 0, 10_000, 'discovery');
  });
  after(async () => {
    await g?.stop();
    await corp?.close();
    await partner?.close();
  });

  it('the login path picks the provider by ?idp=; without one, the first signs in', BOUNDED, async () => {
    const viaPartner = deniedOf(await new Browser(g).check('/login?idp=partner'));
    assert.ok(headerOf(viaPartner.headers, 'location').startsWith(`${partner.issuer}/auth?`));
    assert.equal(new URL(headerOf(viaPartner.headers, 'location')).searchParams.get('client_id'), 'partner-web');
    for (const path of ['/login?idp=corp', '/login', '/orders']) {
      assert.equal(new URL(headerOf(deniedOf(await new Browser(g).check(path)).headers, 'location')).searchParams.get('client_id'), 'shop-web', path);
    }
  });

  it('a session remembers its provider: the shared callback completes it there, refreshes and logs out there', BOUNDED, async () => {
    now = Date.now();
    const browser = new Browser(g);
    const callback = await browser.toProvider(partner, 'bob', '/login?idp=partner&rd=%2Fdeals');
    const done = deniedOf(await browser.check(callback.pathname + callback.search));
    assert.equal(headerOf(done.headers, 'location'), '/deals');
    assert.equal(headerOf(okOf(await browser.check('/deals')).headers, 'x-consumer-id'), 'bob');
    const [corpTokens, partnerTokens] = [corp.requests('/token'), partner.requests('/token')];
    now += 290_000;
    assert.equal(headerOf(okOf(await browser.check('/deals')).headers, 'x-consumer-id'), 'bob');
    assert.deepEqual([corp.requests('/token') - corpTokens, partner.requests('/token') - partnerTokens], [0, 1], 'refreshed at the partner provider');
    const logout = deniedOf(await browser.check('/logout'));
    const end = new URL(headerOf(logout.headers, 'location'));
    assert.equal(`${end.origin}${end.pathname}`, `${partner.issuer}/session/end`);
    assert.equal(end.searchParams.get('client_id'), 'partner-web');
  });

  it('providers bound to hosts sign in the browsers of their own host, with their own callback', BOUNDED, async () => {
    now = Date.now();
    for (const [host, op, account] of [['corp.example.com', corp, 'alice'], ['partners.example.com', partner, 'bob']] as const) {
      const browser = new Browser(g, host);
      const redirect = new URL(headerOf(deniedOf(await browser.check('/')).headers, 'location'));
      assert.equal(redirect.origin, op.issuer, host);
      assert.equal(redirect.searchParams.get('redirect_uri'), `https://${host}/oauth2/callback`);
      const callback = await op.login(redirect.href, account);
      assert.equal(deniedOf(await browser.check(callback.pathname + callback.search)).status, 302);
      assert.equal(headerOf(okOf(await browser.check('/')).headers, 'x-consumer-id'), account);
    }
  });
});
