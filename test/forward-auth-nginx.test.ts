// Real nginx in front of an echo application, protected by gatehouse's HTTP forward-auth with exactly
// the files in deploy/nginx/. What the application receives and what the client gets back are
// asserted header by header: identity set, forged copies gone, sessions, refusals and redirects.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startEchoApp, type EchoApp, type Echoed } from './support/echo-app.js';
import { startTestGatehouse, type TestGatehouse } from './support/gatehouse.js';
import { httpRequest, values, type RawResponse } from './support/http-client.js';
import { startNginx, type Nginx } from './support/nginx.js';
import { SESSION_SECRETS } from './support/session-grpc.js';

const POLICIES = `apiVersion: gatehouse.dev/v1alpha1
kind: AuthPolicy
metadata: {name: web, namespace: shop}
spec:
  hosts: [web.example.com]
  authentication:
    methods:
      - name: keys
        apiKey: {from: [{header: apikey}], selector: {matchLabels: {gatehouse.dev/credential: partners}}}
  session:
    storage: cookie
    secretRef: {name: shop-session}
    logout: {path: /logout, methods: [GET, POST], redirectTo: /signed-out}
---
apiVersion: gatehouse.dev/v1alpha1
kind: AuthPolicy
metadata: {name: site, namespace: shop}
spec:
  hosts: [www.example.com]
  authentication:
    methods:
      - name: keys
        apiKey: {from: [{header: apikey}], selector: {matchLabels: {gatehouse.dev/credential: partners}}}
  anonymous: {id: guest}
`;

const IDENTITY = ['x-consumer-id', 'x-consumer-username', 'x-consumer-custom-id', 'x-credential-identifier', 'x-authenticated-groups', 'x-anonymous-consumer'];

/** The identity headers (and look-alikes) the application saw. */
function identityOf(e: Echoed | undefined): Record<string, string> {
  assert.ok(e !== undefined, 'the request reached the application');
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(e.headers)) {
    if (IDENTITY.includes(k) || k.replace(/_/g, '-') !== k) out[k] = String(v);
  }
  return out;
}

describe('nginx auth_request with the shipped configuration', { timeout: 120_000 }, () => {
  let gh: TestGatehouse;
  let app: EchoApp;
  let nginx: Nginx;
  const get = (host: string, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<RawResponse> =>
    httpRequest(nginx.port, { method, path, headers: { host, ...headers } });

  before(async () => {
    gh = await startTestGatehouse({ 'policies.yaml': POLICIES, 'secrets.yaml': SESSION_SECRETS }, { flags: ['--http-address', '127.0.0.1:0'] });
    app = await startEchoApp();
    nginx = await startNginx(gh.gatehouse.httpPort ?? 0, app.port);
  });
  after(async () => {
    await nginx.stop();
    await app.close();
    await gh.stop();
  });

  it('a valid key reaches the application with the identity; forged identity headers never do', async () => {
    const before = app.seen.length;
    const res = await get('web.example.com', '/orders?id=7', { apikey: 'acme-key-1', 'x-consumer-id': 'admin', 'x-anonymous-consumer': 'true' });
    assert.equal(res.status, 200, nginx.log());
    assert.equal(app.seen.length, before + 1);
    assert.deepEqual(identityOf(app.seen.at(-1)), {
      'x-consumer-id': 'acme',
      'x-consumer-username': 'acme-corp',
      'x-credential-identifier': 'shop/acme',
      'x-authenticated-groups': 'partners, beta',
    });
    assert.equal(app.seen.at(-1)?.url, '/orders?id=7');
  });

  it('a look-alike x_consumer_id is dropped by nginx before anyone reads it', async () => {
    const res = await httpRequest(nginx.port, { path: '/', headers: { host: 'www.example.com', x_consumer_id: 'admin', 'x-consumer-id': 'admin' } });
    assert.equal(res.status, 200);
    assert.deepEqual(identityOf(app.seen.at(-1)), { 'x-consumer-id': 'guest', 'x-anonymous-consumer': 'true' });
  });

  it('no credential on a protected host: 401 with the challenge, the application never asked', async () => {
    const before = app.seen.length;
    const res = await get('web.example.com', '/orders', { 'x-consumer-id': 'admin' });
    assert.equal(res.status, 401);
    assert.deepEqual(values(res, 'www-authenticate'), ['Key realm="web.example.com"']);
    assert.equal(res.body, '{"code":"credential_missing","message":"No credentials found in request"}');
    assert.equal(app.seen.length, before);
  });

  it('a wrong key is 401, a path that needs guessing is refused (403 behind nginx), neither reaches the application', async () => {
    const before = app.seen.length;
    assert.equal((await get('web.example.com', '/', { apikey: 'wrong' })).status, 401);
    assert.equal((await get('www.example.com', '/a%2Fb')).status, 403);
    assert.equal(app.seen.length, before);
  });

  it('a session: signed in with a key, then the cookie alone; the cookie is not passed upstream; logout ends it', async () => {
    const signIn = await get('web.example.com', '/', { apikey: 'acme-key-1', cookie: 'theme=dark' });
    assert.equal(signIn.status, 200);
    const setCookies = values(signIn, 'set-cookie');
    assert.equal(setCookies.length, 1, JSON.stringify(signIn.lines));
    const session = (setCookies[0] as string).split(';')[0] as string;
    assert.match(session, /^gh_session=/);

    const withCookie = await get('web.example.com', '/cart', { cookie: `theme=dark; ${session}` });
    assert.equal(withCookie.status, 200);
    const seen = app.seen.at(-1);
    assert.equal(seen?.url, '/cart');
    assert.equal(seen?.headers.cookie, 'theme=dark');
    assert.equal(identityOf(seen)['x-consumer-id'], 'acme');

    const onlySession = await get('web.example.com', '/cart', { cookie: session });
    assert.equal(onlySession.status, 200);
    assert.equal(app.seen.at(-1)?.headers.cookie, undefined);

    const before = app.seen.length;
    const logout = await get('web.example.com', '/logout', { cookie: session });
    assert.equal(logout.status, 302);
    assert.deepEqual(values(logout, 'location'), ['/signed-out']);
    assert.deepEqual(values(logout, 'set-cookie'), ['gh_session=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/; Secure; HttpOnly; SameSite=Strict']);
    assert.equal(app.seen.length, before);
    assert.equal((await get('web.example.com', '/cart', { cookie: session })).status, 401);
  });
});
