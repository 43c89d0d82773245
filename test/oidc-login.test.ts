// OpenID Connect browser login end to end through real gRPC Checks (Envoy's canonical protos) against
// a real provider (oidc-provider) on loopback: the redirect, the login at the provider, the callback
// creating the session, the session carrying userinfo and tokens upstream, scripts answered with
// 401 JSON, several tabs at once, logout with revocation and the provider's end-session page.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { deniedOf, okOf, type DecodedCheckResponse } from './support/envoy-client.js';
import { eventually, startTestGatehouse, type TestGatehouse } from './support/gatehouse.js';
import { Browser, HOST, headerOf, oidcBlock, pairOf, shopFiles } from './support/oidc-browser.js';
import { ACCOUNTS, AFTER_LOGOUT, REDIRECT_URI, startLoginOp, type LoginOp } from './support/oidc-login-op.js';

const BOUNDED = { timeout: 30_000 };
const FLOW_ATTRS = '; Path=/oauth2/callback; Secure; HttpOnly; SameSite=Lax';
const SESSION_ATTRS = '; Path=/; Secure; HttpOnly; SameSite=Lax';
const EXPIRED = 'Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0';

/** What the provider says about a token (RFC 7662), asked as the client. */
async function introspect(op: LoginOp, token: string): Promise<Record<string, unknown>> {
  const res = await fetch(`${op.issuer}/token/introspection`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`${op.clientId}:${op.clientSecret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token }).toString(),
  });
  return (await res.json()) as Record<string, unknown>;
}

const valueOf = (res: DecodedCheckResponse, name: string): string => headerOf(okOf(res).headers, name);

for (const storage of ['memory', 'cookie'] as const) {
  describe(`OpenID Connect login (session storage ${storage})`, () => {
    let op: LoginOp;
    let g: TestGatehouse;

    before(async () => {
      op = await startLoginOp();
      g = await startTestGatehouse(shopFiles([op], { methods: [{ name: 'corp', oidc: oidcBlock(op) }], session: { storage, secretRef: { name: 'shop-session' } } }));
      await eventually(() => op.requests('/.well-known/openid-configuration') > 0 && g.gatehouse.store.status('shop', 'shop')?.ready === true, 10_000, 'discovery');
    });
    after(async () => {
      await g?.stop();
      await op?.close();
    });

    it('a page without a session is sent to the provider: code flow with PKCE S256, state, nonce, and a Lax flow cookie for the callback only', BOUNDED, async () => {
      const browser = new Browser(g);
      const d = deniedOf(await browser.check('/orders?page=2'));
      assert.equal(d.status, 302);
      assert.equal(d.body, '');
      assert.deepEqual(d.headers.map((h) => h.key), ['set-cookie', 'cache-control', 'location']);
      assert.equal(headerOf(d.headers, 'cache-control'), 'no-store');
      const url = new URL(headerOf(d.headers, 'location'));
      assert.equal(`${url.origin}${url.pathname}`, `${op.issuer}/auth`);
      const q = Object.fromEntries(url.searchParams);
      assert.deepEqual(Object.keys(q).sort(), ['client_id', 'code_challenge', 'code_challenge_method', 'nonce', 'prompt', 'redirect_uri', 'response_type', 'scope', 'state']);
      assert.deepEqual([q['client_id'], q['response_type'], q['redirect_uri'], q['scope'], q['prompt'], q['code_challenge_method']], [
        'shop-web',
        'code',
        REDIRECT_URI,
        'openid profile email groups offline_access',
        'consent',
        'S256',
      ]);
      for (const k of ['state', 'nonce', 'code_challenge']) assert.match(q[k] ?? '', /^[A-Za-z0-9_-]{43}$/, k);
      const cookie = headerOf(d.headers, 'set-cookie');
      assert.match(cookie, /^gh_oidc_[A-Za-z0-9_-]{22}=[A-Za-z0-9_-]+; Expires=[^;]+; Max-Age=600; Path=\/oauth2\/callback; Secure; HttpOnly; SameSite=Lax$/);
      assert.ok(!cookie.includes(q['state'] ?? '-'), 'the state is sealed, not readable in the cookie');
    });

    it('the callback creates the session and sends the browser back to where it started, with the flow cookie used up', BOUNDED, async () => {
      const browser = new Browser(g);
      const callback = await browser.toProvider(op, 'alice', '/orders?page=2');
      assert.equal(`${callback.origin}${callback.pathname}`, REDIRECT_URI);
      const flowName = [...browser.jar.keys()].find((n) => n.startsWith('gh_oidc_')) ?? '';
      const d = deniedOf(await browser.check(callback.pathname + callback.search));
      const session = d.headers[0]?.value ?? '';
      assert.deepEqual(d, {
        status: 302,
        headers: [
          { key: 'set-cookie', value: session, append: true },
          { key: 'set-cookie', value: `${flowName}=; ${EXPIRED}${FLOW_ATTRS}`, append: true },
          { key: 'cache-control', value: 'no-store', append: false },
          { key: 'location', value: '/orders?page=2', append: false },
        ],
        body: '',
      });
      assert.ok(session.startsWith('gh_session=') && session.endsWith(SESSION_ATTRS), session);
      assert.deepEqual([...browser.jar.keys()], ['gh_session'], 'only the session cookie is left');
    });

    it('the session cookie alone brings the user, userinfo, access and ID token upstream; forged copies never pass', BOUNDED, async () => {
      const browser = new Browser(g);
      await browser.login(op, 'alice');
      const forged = { 'x-consumer-id': 'admin', 'x-userinfo': 'e30=', 'x-access-token': 'forged', 'x-id-token': 'forged', x_userinfo: 'e30=' };
      const res = await browser.check('/orders', forged);
      const accessToken = valueOf(res, 'x-access-token');
      const idToken = valueOf(res, 'x-id-token');
      const alice = ACCOUNTS['alice'];
      const userinfo = { sub: 'alice', name: alice?.name, preferred_username: 'alice', email: alice?.email, groups: alice?.groups };
      assert.deepEqual(res, {
        grpcCode: 0,
        message: '',
        kind: 'ok',
        ok: {
          headers: [
            { key: 'x-consumer-id', value: 'alice', append: false },
            { key: 'x-consumer-username', value: 'alice', append: false },
            { key: 'x-authenticated-groups', value: 'staff, beta', append: false },
            { key: 'x-userinfo', value: Buffer.from(JSON.stringify(userinfo)).toString('base64'), append: false },
            { key: 'x-access-token', value: accessToken, append: false },
            { key: 'x-id-token', value: idToken, append: false },
          ],
          headersToRemove: ['x-consumer-custom-id', 'x-credential-identifier', 'x-anonymous-consumer', 'cookie', 'x_userinfo'],
          responseHeadersToAdd: [],
          queryParametersToSet: [],
          queryParametersToRemove: [],
        },
      });
      // The tokens are the provider's own: the access token is active, the ID token signed by its keys for this client.
      assert.deepEqual([(await introspect(op, accessToken))['active'], (await introspect(op, accessToken))['sub']], [true, 'alice']);
      const { payload } = await jwtVerify(idToken, createRemoteJWKSet(new URL(`${op.issuer}/jwks`)), { issuer: op.issuer, audience: 'shop-web' });
      assert.equal(payload.sub, 'alice');
    });

    it('requests from scripts get 401 JSON naming the login URL (and the flow cookie to come back with), never a redirect', BOUNDED, async () => {
      const scripts: Record<string, string>[] = [{ 'x-requested-with': 'XMLHttpRequest' }, { accept: 'application/json' }, { 'sec-fetch-mode': 'cors', accept: '*/*' }];
      for (const headers of scripts) {
        const browser = new Browser(g);
        const d = deniedOf(await browser.check('/api/orders?page=1', headers));
        assert.equal(d.status, 401, JSON.stringify(headers));
        const body = JSON.parse(d.body) as { status: number; request_path: string; redirect_url: string };
        assert.deepEqual(Object.keys(body), ['status', 'request_path', 'redirect_url']);
        assert.deepEqual([body.status, body.request_path], [401, '/api/orders']);
        assert.ok(body.redirect_url.startsWith(`${op.issuer}/auth?`), body.redirect_url);
        assert.deepEqual(d.headers.map((h) => h.key), ['set-cookie', 'cache-control', 'content-type']);
        assert.equal(headerOf(d.headers, 'content-type'), 'application/json');
        // Following the URL (the script navigates the page there) completes a login that returns to the API path.
        const callback = await op.login(body.redirect_url, 'bob');
        const done = deniedOf(await browser.check(callback.pathname + callback.search));
        assert.equal(headerOf(done.headers, 'location'), '/api/orders?page=1');
        assert.equal(valueOf(await browser.check('/api/orders', headers), 'x-consumer-id'), 'bob');
      }
      // A navigation with the same Accept a browser sends is redirected.
      const page = deniedOf(await new Browser(g).check('/', { accept: 'text/html,application/xhtml+xml,application/json;q=0.9', 'sec-fetch-mode': 'navigate' }));
      assert.equal(page.status, 302);
    });

    it('two tabs log in at once, each with its own flow cookie, without clobbering each other', BOUNDED, async () => {
      const browser = new Browser(g);
      const first = await browser.toProvider(op, 'alice', '/first');
      const second = await browser.toProvider(op, 'alice', '/second');
      assert.equal([...browser.jar.keys()].filter((n) => n.startsWith('gh_oidc_')).length, 2);
      const b = deniedOf(await browser.check(second.pathname + second.search));
      assert.equal(headerOf(b.headers, 'location'), '/second');
      const a = deniedOf(await browser.check(first.pathname + first.search));
      assert.equal(a.status, 302);
      assert.equal(headerOf(a.headers, 'location'), '/first');
      assert.equal(valueOf(await browser.check('/'), 'x-consumer-id'), 'alice');
    });

    it('logout ends the session, revokes its tokens and sends the browser to the provider\'s end-session page with an id_token_hint', BOUNDED, async () => {
      const browser = new Browser(g);
      await browser.login(op, 'alice');
      const signedIn = await browser.check('/');
      const accessToken = valueOf(signedIn, 'x-access-token');
      const idToken = valueOf(signedIn, 'x-id-token');
      const cookie = pairOf(`gh_session=${browser.jar.get('gh_session')?.value ?? ''}`);
      const revocationsBefore = op.requests('/token/revocation');
      const d = deniedOf(await browser.check('/logout'));
      const end = new URL(headerOf(d.headers, 'location'));
      assert.deepEqual(d, {
        status: 302,
        headers: [
          { key: 'set-cookie', value: `gh_session=; ${EXPIRED}${SESSION_ATTRS}`, append: true },
          { key: 'cache-control', value: 'no-store', append: false },
          { key: 'location', value: end.href, append: false },
        ],
        body: '',
      });
      assert.equal(`${end.origin}${end.pathname}`, `${op.issuer}/session/end`);
      assert.deepEqual(Object.fromEntries(end.searchParams), { client_id: 'shop-web', id_token_hint: idToken, post_logout_redirect_uri: AFTER_LOGOUT });
      assert.equal(op.requests('/token/revocation') - revocationsBefore, 2, 'refresh and access token revoked');
      assert.equal((await introspect(op, accessToken))['active'], false);
      // The provider accepts the hint: its logout confirmation page.
      assert.equal((await fetch(end)).status, 200);
      // The old cookie is no session any more: the page is sent to log in again.
      const replay = deniedOf(await g.envoy.check({ host: HOST, path: '/', headers: { cookie } }));
      assert.equal(replay.status, 302);
      assert.ok(headerOf(replay.headers, 'location').startsWith(`${op.issuer}/auth?`));
    });

    it('logout by POST without a session still expires the cookie and visits the end-session page, without a hint', BOUNDED, async () => {
      const d = deniedOf(await new Browser(g).check('/logout', {}, 'POST'));
      assert.equal(d.status, 302);
      const end = new URL(headerOf(d.headers, 'location'));
      assert.deepEqual(Object.fromEntries(end.searchParams), { client_id: 'shop-web', post_logout_redirect_uri: AFTER_LOGOUT });
      assert.equal(headerOf(d.headers, 'set-cookie'), `gh_session=; ${EXPIRED}${SESSION_ATTRS}`);
    });
  });
}

describe('OpenID Connect login options: loginPath, unauthenticated deny and pass', () => {
  let op: LoginOp;
  let g: TestGatehouse;

  before(async () => {
    op = await startLoginOp();
    const files = shopFiles([op], {
      methods: [{ name: 'corp', oidc: oidcBlock(op, { unauthenticated: 'pass', loginPath: '/login' }) }],
      session: { storage: 'memory', secretRef: { name: 'shop-session' } },
      rest: { anonymous: { id: 'guest' } },
    });
    const deny = shopFiles([op], { methods: [{ name: 'corp', oidc: oidcBlock(op, { unauthenticated: 'deny', redirectUri: 'https://deny.example.com/oauth2/callback' }) }], session: { storage: 'memory', secretRef: { name: 'shop-session' } } }, 'deny');
    g = await startTestGatehouse({ ...files, 'deny.yaml': (deny['policy.yaml'] ?? '').replace(`"${HOST}"`, '"deny.example.com"') });
    await eventually(() => g.gatehouse.store.status('shop', 'shop')?.ready === true && g.gatehouse.store.status('shop', 'deny')?.ready === true, 10_000, 'discovery');
  });
  after(async () => {
    await g?.stop();
    await op?.close();
  });

  it('pass: a request without a session goes upstream as the anonymous consumer, forged login headers removed', BOUNDED, async () => {
    const ok = okOf(await new Browser(g).check('/', { 'x-userinfo': 'e30=', 'x-access-token': 'forged', 'x-id-token': 'forged' }));
    assert.deepEqual(ok.headers, [
      { key: 'x-consumer-id', value: 'guest', append: false },
      { key: 'x-anonymous-consumer', value: 'true', append: false },
    ]);
    for (const h of ['x-userinfo', 'x-access-token', 'x-id-token']) assert.ok(ok.headersToRemove.includes(h), h);
  });

  it('loginPath always starts a login and returns to rd, a path of this site only', BOUNDED, async () => {
    const browser = new Browser(g);
    const callback = await browser.toProvider(op, 'alice', '/login?rd=%2Faccount%3Ftab%3D2');
    assert.equal(headerOf(deniedOf(await browser.check(callback.pathname + callback.search)).headers, 'location'), '/account?tab=2');
    assert.equal(valueOf(await browser.check('/'), 'x-consumer-id'), 'alice');
    for (const rd of ['//evil.example', 'https://evil.example/x', '/\\evil.example', '/%5Cevil.example', 'javascript:alert(1)', '']) {
      const b = new Browser(g);
      const cb = await b.toProvider(op, 'bob', `/login?rd=${encodeURIComponent(rd)}`);
      assert.equal(headerOf(deniedOf(await b.check(cb.pathname + cb.search)).headers, 'location'), rd === '/%5Cevil.example' ? '/%5Cevil.example' : '/', rd);
    }
  });

  it('deny: a request without a session is answered 401, never redirected', BOUNDED, async () => {
    const d = deniedOf(await g.envoy.check({ host: 'deny.example.com', path: '/' }));
    assert.deepEqual(d, {
      status: 401,
      headers: [{ key: 'content-type', value: 'application/json', append: false }],
      body: '{"code":"credential_missing","message":"No credentials found in request"}',
    });
  });
});
