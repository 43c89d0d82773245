// A real browser (Chromium, driven by playwright-core) through real nginx with the shipped forward-auth
// configuration: a session signed in with an API key, then cookie-only navigation, renewal, logout, a
// forged identity header from the page, and a script request without credentials.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchBrowser } from './support/browser.js';
import { startEchoApp, type EchoApp } from './support/echo-app.js';
import { startTestGatehouse, type TestGatehouse } from './support/gatehouse.js';
import { startNginx, type Nginx } from './support/nginx.js';
import { SESSION_SECRETS } from './support/session-grpc.js';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const MIN = 60_000;

const POLICY = `apiVersion: gatehouse.dev/v1alpha1
kind: AuthPolicy
metadata: {name: web, namespace: shop}
spec:
  hosts: [localhost]
  skip: [{paths: [/signed-out]}]
  authentication:
    methods:
      - name: keys
        apiKey: {from: [{query: apikey}, {header: apikey}], selector: {matchLabels: {gatehouse.dev/credential: partners}}, hideCredentials: true}
  session:
    storage: cookie
    secretRef: {name: shop-session}
    cookie: {sameSite: Lax}
    idleTimeout: 30m
    renewBefore: 5m
    logout: {path: /logout, methods: [GET, POST], redirectTo: /signed-out}
`;

interface Seen {
  readonly url: string;
  readonly headers: Record<string, string>;
}

describe('a browser behind nginx and gatehouse', { timeout: 180_000 }, () => {
  let gh: TestGatehouse;
  let app: EchoApp;
  let nginx: Nginx;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let now = T0;
  let base = '';

  /** Navigates and returns the status and what the application saw (undefined when it saw nothing). */
  async function visit(path: string): Promise<{ status: number; seen: Seen | undefined; url: string }> {
    const before = app.seen.length;
    const res = await page.goto(`${base}${path}`);
    assert.ok(res !== null);
    const seen = app.seen.length > before ? app.seen.at(-1) : undefined;
    return { status: res.status(), url: page.url(), seen: seen === undefined ? undefined : { url: seen.url, headers: seen.headers as Record<string, string> } };
  }
  const sessionCookie = async (): Promise<string | undefined> => (await context.cookies()).find((c) => c.name === 'gh_session')?.value;

  before(async () => {
    gh = await startTestGatehouse({ 'policies.yaml': POLICY, 'secrets.yaml': SESSION_SECRETS }, { clock: () => now, flags: ['--http-address', '127.0.0.1:0'] });
    app = await startEchoApp();
    nginx = await startNginx(gh.gatehouse.httpPort ?? 0, app.port);
    base = `http://localhost:${nginx.port}`;
    browser = await launchBrowser();
    context = await browser.newContext();
    page = await context.newPage();
  });
  after(async () => {
    await browser?.close();
    await nginx?.stop();
    await app?.close();
    await gh?.stop();
  });

  it('without a credential the page is refused with 401 and the application never asked', async () => {
    const r = await visit('/orders');
    assert.equal(r.status, 401);
    assert.equal(r.seen, undefined);
    assert.equal(await page.textContent('body'), '{"code":"credential_missing","message":"No credentials found in request"}');
  });

  it('signing in with a key creates a session cookie; later pages need only the cookie', async () => {
    const signIn = await visit('/orders?apikey=acme-key-1&page=2');
    assert.equal(signIn.status, 200);
    // The key was hidden from the application; the identity was set.
    assert.equal(signIn.seen?.url, '/orders?apikey=acme-key-1&page=2');
    assert.equal(signIn.seen?.headers['x-consumer-id'], 'acme');
    const cookie = await sessionCookie();
    assert.ok(cookie !== undefined && cookie.length > 20, 'the browser holds the session cookie');

    const next = await visit('/cart');
    assert.equal(next.status, 200);
    assert.equal(next.seen?.headers['x-consumer-id'], 'acme');
    assert.equal(next.seen?.headers['cookie'], undefined, 'the session cookie is gatehouse\'s, not the application\'s');
  });

  it('a forged identity header from the page never reaches the application', async () => {
    const seen = await page.evaluate(async () => {
      const r = await fetch('/profile', { headers: { 'X-Consumer-ID': 'admin', 'X-Authenticated-Groups': 'admins' } });
      return (await r.json()) as { headers: Record<string, string> };
    });
    assert.equal(seen.headers['x-consumer-id'], 'acme');
    assert.equal(seen.headers['x-authenticated-groups'], 'partners, beta');
  });

  it('the session is renewed in the renew window and the browser keeps the renewed cookie', async () => {
    const first = await sessionCookie();
    now = T0 + 26 * MIN;
    assert.equal((await visit('/renew')).status, 200);
    const renewed = await sessionCookie();
    assert.ok(renewed !== undefined && renewed !== first, 'a renewed cookie replaced the first');
    // Past the first cookie's idle expiry, the renewed one still works.
    now = T0 + 50 * MIN;
    const later = await visit('/later');
    assert.equal(later.status, 200);
    assert.equal(later.seen?.headers['x-consumer-id'], 'acme');
  });

  it('a script request without credentials gets the 401 JSON, not a page', async () => {
    const other = await context.browser()?.newContext();
    assert.ok(other !== undefined);
    const p = await other.newPage();
    await p.goto(`${base}/signed-out`);
    const r = await p.evaluate(async () => {
      const res = await fetch('/api/orders', { headers: { accept: 'application/json' } });
      return { status: res.status, body: await res.text(), type: res.headers.get('content-type') };
    });
    await other.close();
    assert.deepEqual(r, { status: 401, body: '{"code":"credential_missing","message":"No credentials found in request"}', type: 'application/json' });
  });

  it('logout ends the session: the browser loses the cookie, and the old cookie is refused', async () => {
    const old = await sessionCookie();
    assert.ok(old !== undefined);
    const out = await visit('/logout');
    assert.equal(out.status, 200);
    assert.equal(new URL(out.url).pathname, '/signed-out');
    assert.equal(await sessionCookie(), undefined);
    assert.equal((await visit('/cart')).status, 401);
    await context.addCookies([{ name: 'gh_session', value: old, url: base }]);
    const replay = await visit('/cart');
    assert.equal(replay.status, 401);
    assert.equal(replay.seen, undefined);
  });
});
