// The whole OpenID Connect login in a real browser (Chromium via playwright-core) through real nginx
// with the shipped forward-auth files, against a real provider (oidc-provider) with HTML login and
// consent screens: redirect, login form, consent, callback, return to the original URL, userinfo and
// tokens upstream, a script's 401 JSON, token refresh, logout through the provider's end-session page.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchBrowser } from './support/browser.js';
import { startEchoApp, type EchoApp, type Echoed } from './support/echo-app.js';
import { eventually, startTestGatehouse, type TestGatehouse } from './support/gatehouse.js';
import { freePort, startNginx, type Nginx } from './support/nginx.js';
import { oidcBlock, shopFiles } from './support/oidc-browser.js';
import { startLoginOp, type LoginOp } from './support/oidc-login-op.js';

const MIN = 60_000;

describe('OpenID Connect login in a browser behind nginx', { timeout: 180_000 }, () => {
  let op: LoginOp;
  let gh: TestGatehouse;
  let app: EchoApp;
  let nginx: Nginx;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let base = '';
  let skew = 0;

  const seen = (): Echoed => {
    const e = app.seen.at(-1);
    assert.ok(e !== undefined, 'the application was asked');
    return e;
  };
  const header = (e: Echoed, name: string): string => String(e.headers[name] ?? '');
  const sessionCookie = async (): Promise<string | undefined> => (await context.cookies(base)).find((c) => c.name === 'gh_session')?.value;

  before(async () => {
    const port = await freePort();
    base = `http://localhost:${port}`;
    op = await startLoginOp({ redirectUris: [`${base}/oauth2/callback`], postLogoutRedirectUris: [`${base}/bye`], accessTokenTtl: 300 });
    const files = shopFiles([op], {
      methods: [{ name: 'corp', oidc: oidcBlock(op, { redirectUri: `${base}/oauth2/callback`, logout: { path: '/logout', redirectAfterLogoutUri: `${base}/bye`, revokeTokens: true } }) }],
      session: { storage: 'memory', secretRef: { name: 'shop-session' } },
      rest: { skip: [{ paths: ['/bye'] }] },
    });
    files['policy.yaml'] = (files['policy.yaml'] ?? '').replace('"hosts":["shop.example.com"]', '"hosts":["localhost"]');
    gh = await startTestGatehouse(files, { clock: () => Date.now() + skew, flags: ['--http-address', '127.0.0.1:0'] });
    await eventually(() => gh.gatehouse.store.status('shop', 'shop')?.ready === true, 15_000, 'the provider discovered');
    app = await startEchoApp();
    nginx = await startNginx(gh.gatehouse.httpPort ?? 0, app.port, port);
    browser = await launchBrowser();
    context = await browser.newContext();
    page = await context.newPage();
  });
  after(async () => {
    await browser?.close();
    await nginx?.stop();
    await app?.close();
    await gh?.stop();
    await op?.close();
  });

  it('a page without a session goes to the provider, signs in, and comes back to where it started', async () => {
    await page.goto(`${base}/orders?page=2`);
    assert.equal(new URL(page.url()).origin, op.issuer, `at the provider: ${page.url()}`);
    await page.fill('#account', 'alice');
    await Promise.all([page.waitForURL((u) => u.pathname.startsWith('/interaction/')), page.click('#submit')]);
    const done = page.waitForURL((u) => u.origin === base && u.pathname === '/orders');
    await page.click('#submit');
    await done;
    assert.equal(page.url(), `${base}/orders?page=2`);
    const e = seen();
    assert.equal(e.url, '/orders?page=2');
    assert.equal(header(e, 'x-consumer-id') !== '', true);
    assert.equal(header(e, 'x-consumer-username'), 'alice');
    assert.equal(header(e, 'x-authenticated-groups'), 'staff, beta');
    const userinfo = JSON.parse(Buffer.from(header(e, 'x-userinfo'), 'base64').toString('utf8')) as Record<string, unknown>;
    assert.equal(userinfo['email'], 'alice@example.com');
    assert.match(header(e, 'x-id-token'), /^[\w-]+\.[\w-]+\.[\w-]+$/);
    assert.ok(header(e, 'x-access-token').length > 10);
    // The session cookie is gatehouse's: not passed on, and no flow cookie left behind.
    assert.equal(e.headers.cookie, undefined);
    const names = (await context.cookies(base)).map((c) => c.name);
    assert.deepEqual(names, ['gh_session']);
  });

  it('later pages need only the session cookie, and no request reaches the provider for them', async () => {
    const before = op.requests('/token') + op.requests('/me');
    for (const path of ['/a', '/b', '/c']) {
      const res = await page.goto(`${base}${path}`);
      assert.equal(res?.status(), 200);
      assert.equal(header(seen(), 'x-consumer-username'), 'alice');
    }
    assert.equal(op.requests('/token') + op.requests('/me'), before);
  });

  it('a script without a session gets the 401 JSON that names the login URL', async () => {
    const other = await browser.newContext();
    const p = await other.newPage();
    await p.goto(`${base}/bye`);
    const r = await p.evaluate(async () => {
      const res = await fetch('/api/orders', { headers: { 'x-requested-with': 'XMLHttpRequest', accept: 'application/json' } });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    });
    await other.close();
    assert.equal(r.status, 401);
    assert.equal(r.body['status'], 401);
    assert.equal(r.body['request_path'], '/api/orders');
    assert.ok(String(r.body['redirect_url']).startsWith(`${op.issuer}/auth?`), String(r.body['redirect_url']));
  });

  it('an expired access token is refreshed once, and the browser carries on', async () => {
    const oldToken = header(seen(), 'x-access-token');
    const refreshes = op.requests('/token');
    skew = 10 * MIN;
    const res = await page.goto(`${base}/after-expiry`);
    assert.equal(res?.status(), 200);
    assert.equal(op.requests('/token'), refreshes + 1);
    const fresh = header(seen(), 'x-access-token');
    assert.ok(fresh !== '' && fresh !== oldToken, 'a new access token went upstream');
    assert.equal((await page.goto(`${base}/again`))?.status(), 200);
    assert.equal(op.requests('/token'), refreshes + 1);
  });

  it('logout ends the session, passes through the provider\'s end-session page and lands on the page after logout', async () => {
    assert.ok((await sessionCookie()) !== undefined);
    await page.goto(`${base}/logout`);
    assert.equal(new URL(page.url()).origin, op.issuer, `at the provider's end-session page: ${page.url()}`);
    // oidc-provider asks whether to sign out of the provider too; either answer returns here.
    const back = page.waitForURL((u) => u.origin === base && u.pathname === '/bye');
    await page.locator('button[autofocus], button').first().click();
    await back;
    assert.equal(await sessionCookie(), undefined);
    await page.goto(`${base}/orders`);
    assert.equal(new URL(page.url()).origin, op.issuer, 'signed out: the next page starts a new login');
  });
});
