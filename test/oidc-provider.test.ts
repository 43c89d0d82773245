// An identity provider that is not there: down when gatehouse starts (the policy is not Ready, its
// logins answer 503, the other policies serve, and it recovers by itself), down in the middle of a
// login (503, no session), down while sessions exist (they keep working: no provider call on their
// path). And what `gatehouse validate` says about oidc blocks, with field paths, offline.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { validatePaths } from '../src/commands/validate.js';
import { deniedOf, okOf } from './support/envoy-client.js';
import { eventually, startTestGatehouse, type TestGatehouse } from './support/gatehouse.js';
import { Browser, HOST, headerOf, oidcBlock, shopFiles } from './support/oidc-browser.js';
import { startLoginOp, type LoginOp } from './support/oidc-login-op.js';

const BOUNDED = { timeout: 30_000 };
const UNAVAILABLE_PAGE =
  '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sign-in</title></head>' +
  '<body><h1>The identity provider cannot be reached; try again in a moment</h1><p><a href="/orders">Start again</a></p></body></html>';

const KEYS_POLICY = `
apiVersion: gatehouse.dev/v1alpha1
kind: AuthPolicy
metadata: {name: keys, namespace: shop}
spec:
  hosts: [keys.example.com]
  authentication:
    methods: [{name: keys, apiKey: {from: [{header: apikey}], selector: {matchLabels: {gatehouse.dev/credential: partners}}}}]
---
apiVersion: v1
kind: Secret
metadata: {name: acme, namespace: shop, labels: {gatehouse.dev/credential: partners}, annotations: {gatehouse.dev/consumer-id: acme}}
stringData: {api_key: acme-key-1}
`;

describe('a provider down when gatehouse starts', () => {
  let op: LoginOp;
  let g: TestGatehouse;

  before(async () => {
    op = await startLoginOp();
    await op.stop();
    g = await startTestGatehouse({ ...shopFiles([op], { methods: [{ name: 'corp', oidc: oidcBlock(op) }], session: { storage: 'memory', secretRef: { name: 'shop-session' } } }), 'keys.yaml': KEYS_POLICY });
  });
  after(async () => {
    await g?.stop();
    await op?.close();
  });

  it('reports the policy not Ready (ProviderUnavailable), answers its logins 503 with a clear page, and serves the other policies', BOUNDED, async () => {
    await eventually(() => g.gatehouse.store.status('shop', 'shop')?.message.includes('has not answered') === true, 10_000, 'ProviderUnavailable after a failed discovery');
    const status = g.gatehouse.store.status('shop', 'shop');
    assert.equal(status?.ready, false);
    assert.equal(status?.serving, 'current');
    assert.match(status?.message ?? '', new RegExp(`^spec\\.authentication\\.methods\\[0\\]\\.oidc\\.issuer: provider ${op.issuer} has not answered: .+; its logins answer 503 until it does \\(other methods and existing sessions still work\\)$`));
    assert.deepEqual(deniedOf(await new Browser(g).check('/orders')), {
      status: 503,
      headers: [
        { key: 'cache-control', value: 'no-store', append: false },
        { key: 'content-type', value: 'text/html; charset=utf-8', append: false },
      ],
      body: UNAVAILABLE_PAGE,
    });
    const script = deniedOf(await new Browser(g).check('/orders', { 'x-requested-with': 'XMLHttpRequest' }));
    assert.equal(script.status, 503);
    assert.equal(script.body, '{"code":"oidc_provider_unavailable","message":"The identity provider cannot be reached; try again in a moment","login_url":"/orders"}');
    const other = okOf(await g.envoy.check({ host: 'keys.example.com', path: '/', headers: { apikey: 'acme-key-1' } }));
    assert.equal(headerOf(other.headers, 'x-consumer-id'), 'acme');
  });

  it('recovers by itself once the provider answers: Ready, and logins work', BOUNDED, async () => {
    await op.restart();
    await eventually(() => g.gatehouse.store.status('shop', 'shop')?.ready === true, 20_000, 'Ready after the provider is back');
    assert.equal(g.gatehouse.store.status('shop', 'shop')?.reason, 'Compiled');
    const browser = new Browser(g);
    assert.equal(deniedOf(await browser.login(op, 'alice')).status, 302);
    assert.equal(headerOf(okOf(await browser.check('/')).headers, 'x-consumer-id'), 'alice');
  });
});

describe('a provider that goes down after gatehouse has seen it', () => {
  let op: LoginOp;
  let g: TestGatehouse;

  before(async () => {
    op = await startLoginOp();
    g = await startTestGatehouse(shopFiles([op], { methods: [{ name: 'corp', oidc: oidcBlock(op) }], session: { storage: 'memory', secretRef: { name: 'shop-session' } } }));
    await eventually(() => g.gatehouse.store.status('shop', 'shop')?.ready === true && op.requests('/jwks') > 0, 10_000, 'discovery and keys');
  });
  after(async () => {
    await g?.stop();
    await op?.close();
  });

  it('a session needs no call to the provider: 50 requests, none reaches it, and they keep passing while it is down', BOUNDED, async () => {
    const browser = new Browser(g);
    await browser.login(op, 'alice');
    const calls = ['/token', '/me', '/jwks', '/.well-known/openid-configuration', '/token/introspection'].map((p) => op.requests(p));
    for (let i = 0; i < 25; i++) assert.equal(headerOf(okOf(await browser.check('/')).headers, 'x-consumer-id'), 'alice');
    assert.deepEqual(['/token', '/me', '/jwks', '/.well-known/openid-configuration', '/token/introspection'].map((p) => op.requests(p)), calls);
    await op.stop();
    try {
      for (let i = 0; i < 25; i++) assert.equal(headerOf(okOf(await browser.check('/')).headers, 'x-consumer-id'), 'alice');
      assert.equal(g.gatehouse.store.status('shop', 'shop')?.ready, true, 'the last good metadata still serves');
    } finally {
      await op.restart();
    }
  });

  it('down in the middle of a login: the callback answers 503 with a clear page and creates no session', BOUNDED, async () => {
    const browser = new Browser(g);
    const callback = await browser.toProvider(op, 'alice', '/orders');
    await op.stop();
    try {
      const d = deniedOf(await browser.check(callback.pathname + callback.search));
      assert.deepEqual({ status: d.status, body: d.body }, { status: 503, body: UNAVAILABLE_PAGE });
      assert.equal(browser.jar.has('gh_session'), false);
      // While it is down, a page is still sent to the provider (its last good metadata): the browser will show its error.
      assert.equal(deniedOf(await browser.check('/')).status, 302);
    } finally {
      await op.restart();
    }
  });
});

describe('gatehouse validate and oidc blocks', () => {
  const ISSUER = 'https://id.example.com/realms/corp';
  const write = (spec: Record<string, unknown>): string => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-oidc-validate-'));
    const manifest = (kind: string, name: string, body: Record<string, unknown>): string =>
      JSON.stringify({
        apiVersion: kind === 'Secret' ? 'v1' : 'gatehouse.dev/v1alpha1',
        kind,
        // Labelled as a cluster needs them: validate warns about a Secret gatehouse would not see there.
        metadata: { name, namespace: 'shop', ...(kind === 'Secret' ? { labels: { 'gatehouse.dev/credential': 'oidc' } } : {}) },
        ...body,
      });
    writeFileSync(
      join(dir, 'p.yaml'),
      [
        manifest('AuthPolicy', 'shop', { spec: { hosts: [HOST], ...spec } }),
        manifest('Secret', 'corp-oidc', { stringData: { 'client-secret': 'secret-0123456789' } }),
        manifest('Secret', 'shop-session', { stringData: { current: '0123456789abcdef0123456789abcdef-session-key' } }),
      ].join('\n---\n'),
    );
    return dir;
  };
  const oidc = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    issuer: ISSUER,
    clientId: 'shop-web',
    clientSecretRef: { name: 'corp-oidc', key: 'client-secret' },
    redirectUri: `https://${HOST}/oauth2/callback`,
    scopes: ['openid', 'email'],
    ...extra,
  });
  const problems = async (spec: Record<string, unknown>): Promise<string[]> => (await validatePaths([write(spec)])).lines.map((l) => l.slice(l.indexOf(': ') + 2));
  const session = { storage: 'memory', secretRef: { name: 'shop-session' } };

  it('accepts a complete login without contacting the provider', BOUNDED, async () => {
    const started = performance.now();
    assert.deepEqual(await problems({ authentication: { methods: [{ name: 'corp', oidc: oidc() }] }, session }), []);
    assert.ok(performance.now() - started < 2000);
  });

  it('names each mistake by its field', BOUNDED, async () => {
    const at = 'spec.authentication.methods[0].oidc';
    assert.deepEqual(await problems({ authentication: { methods: [{ name: 'corp', oidc: oidc() }] } }), [
      `${at}: a login lives in the policy's session: add spec.session (storage redis is best for tokens), or set bearerOnly: true`,
    ]);
    assert.deepEqual(await problems({ authentication: { methods: [{ name: 'corp', oidc: oidc({ scopes: ['email'], redirectUri: 'https://elsewhere.example.com/cb' }) }] }, session }), [
      `${at}.scopes: must include openid: without it there is no ID token and no login`,
      `${at}.redirectUri: host elsewhere.example.com is not one of the policy's hosts: the callback would never reach this policy`,
    ]);
    assert.deepEqual(await problems({ authentication: { methods: [{ name: 'corp', oidc: oidc({ issuer: 'http://id.example.com' }) }] }, session }), [
      `${at}.issuer: plain http: use https, or set allowInsecureHttp: true for local development`,
    ]);
    assert.deepEqual(await problems({ authentication: { methods: [{ name: 'corp', oidc: oidc({ unauthenticated: 'pass' }) }] }, session }), [
      `${at}.unauthenticated: pass lets requests without a session through as the anonymous consumer: set spec.anonymous`,
    ]);
    assert.deepEqual(await problems({ authentication: { methods: [{ name: 'corp', oidc: oidc({ tokenEndpointAuthMethod: 'private_key_jwt' }) }] }, session }), [
      `${at}.privateKeyRef: private_key_jwt needs the private key`,
    ]);
    assert.deepEqual(await problems({ paths: ['/app'], authentication: { methods: [{ name: 'corp', oidc: oidc() }] }, session }), [
      `${at}.redirectUri: path /oauth2/callback is outside spec.paths: its requests would never reach this policy`,
    ]);
    assert.deepEqual(await problems({ authentication: { methods: [{ name: 'corp', oidc: oidc() }] }, session: { ...session, createdBy: ['corp'] } }), [
      'spec.session.createdBy[0]: "corp" creates its sessions at its own callback; leave it out of createdBy',
    ]);
    assert.deepEqual(await problems({ authentication: { methods: [{ name: 'corp', oidc: oidc({ logout: { path: '/logout' } }) }] }, session: { ...session, logout: { path: '/logout' } } }), [
      'spec.session.logout.path: same path as spec.authentication.methods[0].oidc.logout.path; the oidc logout also ends the session, keep only that one',
    ]);
  });

  it('warns on a Strict session cookie (the first page after login would look logged out) and on tokens in cookie storage', BOUNDED, async () => {
    assert.deepEqual(await problems({ authentication: { methods: [{ name: 'corp', oidc: oidc() }] }, session: { ...session, cookie: { sameSite: 'Strict' } } }), [
      'spec.session.cookie.sameSite: warning: Strict with a login method (corp): browsers do not send a Strict cookie with the navigation back from the identity provider, so the first page after login looks logged out; use Lax',
    ]);
    const cookie = await problems({ authentication: { methods: [{ name: 'corp', oidc: oidc() }] }, session: { ...session, storage: 'cookie' } });
    assert.equal(cookie.length, 1);
    assert.match(cookie[0] ?? '', /^spec\.session\.storage: warning: cookie storage holds an OpenID login's tokens .* prefer storage redis$/);
  });

  it('warns when logins could start on a host whose flow cookie never reaches the callback host', BOUNDED, async () => {
    const hosts = [HOST, 'www.example.com'];
    assert.deepEqual(await problems({ hosts, authentication: { methods: [{ name: 'corp', oidc: oidc() }] }, session }), [
      'spec.authentication.methods[0].oidc.hosts: warning: logins started on www.example.com cannot complete: their flow cookie stays on that host and never reaches the callback on shop.example.com; bind this method to its callback host (hosts), or give the session cookie a domain covering both',
    ]);
    assert.deepEqual(await problems({ hosts, authentication: { methods: [{ name: 'corp', oidc: oidc({ hosts: [HOST] }) }] }, session }), []);
    assert.deepEqual(await problems({ hosts, authentication: { methods: [{ name: 'corp', oidc: oidc() }] }, session: { ...session, cookie: { domain: 'example.com' } } }), []);
  });

  it('a bearer-only method needs no session and no redirect URI', BOUNDED, async () => {
    assert.deepEqual(await problems({ authentication: { methods: [{ name: 'api', oidc: { issuer: ISSUER, clientId: 'api', clientSecretRef: { name: 'corp-oidc', key: 'client-secret' }, bearerOnly: true } }] } }), []);
  });
});
