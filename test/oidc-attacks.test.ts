// Forged, replayed and altered logins through real gRPC Checks against a real provider: each gets a
// short page with a "start again" link and the exact status of its error, the flow cookie is expired,
// and no session is ever created. ID tokens are altered at the provider's token endpoint (re-signed
// with its own key, or unsigned) as a compromised provider or network would.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { deniedOf, okOf, type DecodedDenied } from './support/envoy-client.js';
import { eventually, startTestGatehouse, type TestGatehouse } from './support/gatehouse.js';
import { Browser, HOST, headerOf, oidcBlock, shopFiles } from './support/oidc-browser.js';
import { startLoginOp, type IdTokenTamper, type LoginOp } from './support/oidc-login-op.js';

const BOUNDED = { timeout: 30_000 };
const BROKEN = 'The sign-in could not be completed; start again';
const REFUSED = 'The sign-in could not be verified; start again';

/** The page a navigation gets for a failed login. */
function page(status: number, message: string, startAgain: string): Omit<DecodedDenied, 'headers'> {
  return {
    status,
    body:
      '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sign-in</title></head>' +
      `<body><h1>${message}</h1><p><a href="${startAgain}">Start again</a></p></body></html>`,
  };
}

describe('attacks on the OpenID Connect login', () => {
  let op: LoginOp;
  let g: TestGatehouse;
  let replica: TestGatehouse;
  let now = Date.now();

  before(async () => {
    op = await startLoginOp();
    const files = shopFiles([op], { methods: [{ name: 'corp', oidc: oidcBlock(op) }], session: { storage: 'memory', secretRef: { name: 'shop-session' } } });
    g = await startTestGatehouse(files, { clock: () => now });
    replica = await startTestGatehouse(files);
    for (const x of [g, replica]) await eventually(() => x.gatehouse.store.status('shop', 'shop')?.ready === true && op.requests('/.well-known/openid-configuration') > 1, 10_000, 'discovery');
  });
  after(async () => {
    await g?.stop();
    await replica?.stop();
    await op?.close();
  });

  /** Asserts the callback answer is the failure page, the flow cookie expired and no session cookie set; the browser stays signed out. */
  async function refused(browser: Browser, res: DecodedDenied, status: number, message: string, startAgain = '/'): Promise<void> {
    assert.deepEqual({ status: res.status, body: res.body }, page(status, message, startAgain));
    const cookies = res.headers.filter((h) => h.key === 'set-cookie').map((h) => h.value);
    assert.ok(cookies.every((c) => c.startsWith('gh_oidc_') && c.includes('Max-Age=0')), `only the flow cookie, expired: ${cookies.join(' | ')}`);
    assert.deepEqual(res.headers.filter((h) => h.key !== 'set-cookie'), [
      { key: 'cache-control', value: 'no-store', append: false },
      { key: 'content-type', value: 'text/html; charset=utf-8', append: false },
    ]);
    assert.equal(browser.jar.has('gh_session'), false, 'no session');
    assert.equal(deniedOf(await browser.check('/')).status, 302, 'still signed out');
  }

  async function withTamper(fn: IdTokenTamper, run: () => Promise<void>): Promise<void> {
    op.tamper(fn);
    try {
      await run();
    } finally {
      op.tamper(undefined);
    }
  }

  it('a callback without state is refused with 400', BOUNDED, async () => {
    const browser = new Browser(g);
    const callback = await browser.toProvider(op, 'alice', '/cart');
    callback.searchParams.delete('state');
    await refused(browser, deniedOf(await browser.check(callback.pathname + callback.search)), 400, BROKEN);
  });

  it('a callback with a state this browser never started is refused with 400 (no flow cookie for it)', BOUNDED, async () => {
    const browser = new Browser(g);
    const callback = await browser.toProvider(op, 'alice', '/cart');
    callback.searchParams.set('state', 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA');
    await refused(browser, deniedOf(await browser.check(callback.pathname + callback.search)), 400, BROKEN);
  });

  it('a callback in a browser that holds no flow cookie at all (login CSRF) is refused with 400', BOUNDED, async () => {
    const attacker = new Browser(g);
    const callback = await attacker.toProvider(op, 'bob', '/');
    const victim = new Browser(g);
    await refused(victim, deniedOf(await victim.check(callback.pathname + callback.search)), 400, BROKEN);
  });

  it('the state of one tab with the code of another is refused: the code is bound to the other tab\'s PKCE verifier', BOUNDED, async () => {
    const browser = new Browser(g);
    const first = await browser.toProvider(op, 'alice', '/one');
    const second = await browser.toProvider(op, 'alice', '/two');
    first.searchParams.set('state', second.searchParams.get('state') ?? '');
    await refused(browser, deniedOf(await browser.check(first.pathname + first.search)), 401, REFUSED, '/two');
  });

  it('a tampered flow cookie is refused with 400', BOUNDED, async () => {
    const browser = new Browser(g);
    const callback = await browser.toProvider(op, 'alice', '/');
    for (const [name, c] of browser.jar) {
      const flipped = `${c.value.slice(0, 40)}${c.value[40] === 'A' ? 'B' : 'A'}${c.value.slice(41)}`;
      browser.jar.set(name, { ...c, value: flipped });
    }
    await refused(browser, deniedOf(await browser.check(callback.pathname + callback.search)), 400, BROKEN);
  });

  it('a replayed callback (same code, same flow cookie) is refused with 400 once it has been used', BOUNDED, async () => {
    const browser = new Browser(g);
    const callback = await browser.toProvider(op, 'alice', '/');
    const flow = browser.cookieFor('/oauth2/callback') ?? '';
    const first = deniedOf(await browser.check(callback.pathname + callback.search));
    assert.equal(first.status, 302);
    const thief = new Browser(g);
    const replay = deniedOf(await g.envoy.check({ host: HOST, path: callback.pathname + callback.search, headers: { cookie: flow } }));
    await refused(thief, replay, 400, BROKEN);
  });

  it('a code used once is refused by the provider when replayed at another replica: 401, no session', BOUNDED, async () => {
    const browser = new Browser(g);
    const callback = await browser.toProvider(op, 'alice', '/');
    const flow = browser.cookieFor('/oauth2/callback') ?? '';
    assert.equal(deniedOf(await browser.check(callback.pathname + callback.search)).status, 302);
    const thief = new Browser(replica);
    const tokenCalls = op.requests('/token');
    const replay = deniedOf(await replica.envoy.check({ host: HOST, path: callback.pathname + callback.search, headers: { cookie: flow } }));
    assert.equal(op.requests('/token') - tokenCalls, 1, 'the provider was asked and refused');
    await refused(thief, replay, 401, REFUSED);
  });

  it('the provider refusing the login (error=access_denied) is a 401 page leading back to where the user started', BOUNDED, async () => {
    const browser = new Browser(g);
    const callback = await browser.toProvider(op, 'alice', '/account');
    const denied = new URLSearchParams({ error: 'access_denied', error_description: 'user cancelled', state: callback.searchParams.get('state') ?? '' });
    const res = deniedOf(await browser.check(`${callback.pathname}?${denied.toString()}`));
    await refused(browser, res, 401, 'The identity provider did not sign you in', '/account');
  });

  for (const [what, tamper] of [
    ['an ID token with another nonce', (c: Record<string, unknown>) => ({ claims: { ...c, nonce: 'not-the-login-nonce' } })],
    ['an ID token issued to another client (aud)', (c: Record<string, unknown>) => ({ claims: { ...c, aud: 'other-client' } })],
    ['an ID token naming another party (azp)', (c: Record<string, unknown>) => ({ claims: { ...c, aud: ['shop-web', 'other-client'], azp: 'other-client' } })],
    ['an expired ID token', (c: Record<string, unknown>) => ({ claims: { ...c, iat: Math.floor(Date.now() / 1000) - 7200, exp: Math.floor(Date.now() / 1000) - 3600 } })],
    ['an unsigned ID token (alg none)', (c: Record<string, unknown>) => ({ claims: c, alg: 'none' as const })],
    ['an ID token whose at_hash is not the access token\'s', (c: Record<string, unknown>) => ({ claims: { ...c, at_hash: 'AAAAAAAAAAAAAAAAAAAAAA' } })],
    ['an ID token of another issuer', (c: Record<string, unknown>) => ({ claims: { ...c, iss: 'https://evil.example' } })],
  ] as const) {
    it(`${what} creates no session: 401`, BOUNDED, async () => {
      const browser = new Browser(g);
      const callback = await browser.toProvider(op, 'alice', '/');
      await withTamper(tamper, async () => {
        await refused(browser, deniedOf(await browser.check(callback.pathname + callback.search)), 401, REFUSED);
      });
    });
  }

  it('an ID token already expired on gatehouse\'s clock is refused by its own checks (the provider\'s clock says it is fine)', BOUNDED, async () => {
    // The login starts and returns on gatehouse's clock, two hours ahead of the provider's: the ID token (1 h) is over.
    now = Date.now() + 2 * 3_600_000;
    try {
      const browser = new Browser(g);
      const callback = await browser.toProvider(op, 'alice', '/');
      await refused(browser, deniedOf(await browser.check(callback.pathname + callback.search)), 401, REFUSED);
      assert.ok(g.logs.some((l) => l.includes('"code":"oidc_id_token_invalid"') && l.includes('jwt_expired')), 'refused by gatehouse\'s exp check');
    } finally {
      now = Date.now();
    }
  });

  it('paths that would lead to another origin never become the place to return to', BOUNDED, async () => {
    for (const [path, back] of [
      ['//evil.example/x', '/evil.example/x'],
      ['/./evil.example', '/evil.example'],
      ['/a/..//evil.example?next=https://evil.example', '/evil.example?next=https://evil.example'],
    ] as const) {
      const browser = new Browser(g);
      const callback = await browser.toProvider(op, 'bob', path);
      assert.equal(headerOf(deniedOf(await browser.check(callback.pathname + callback.search)).headers, 'location'), back, path);
      assert.equal(headerOf(okOf(await browser.check('/')).headers, 'x-consumer-id'), 'bob');
    }
    for (const path of ['/\\evil.example', 'https://evil.example/']) {
      const d = deniedOf(await new Browser(g).check(path));
      assert.equal(d.status, 400, `${path} is refused before any login starts`);
      assert.equal(d.headers.some((h) => h.key === 'location'), false);
    }
  });
});
