// Explaining the requests of an `oidc` policy against a real provider on loopback: a bearer token
// verified with the provider's keys, a page without a session answered with the login redirect, and
// a callback and a logout explained without side effects: the code is not exchanged (the real callback
// afterwards still completes the login), no session is ended, no token revoked at the provider.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Decision } from '../src/core/decision.js';
import { asJson, ExplainWorld } from './support/explain-world.js';
import { HOST, oidcBlock, pairOf, shopFiles } from './support/oidc-browser.js';
import { API_RESOURCE, REDIRECT_URI, startLoginOp, type LoginOp } from './support/oidc-login-op.js';

const BOUNDED = { timeout: 30_000 };
const API = 'api.example.com';

function header(d: Decision, name: string): string {
  const h = (d.kind === 'allow' ? d.responseHeaders : d.headers).find((x) => x.name === name);
  assert.ok(h !== undefined, `no ${name} in ${JSON.stringify(d)}`);
  return h.value;
}

describe('explain with an OpenID provider', () => {
  let op: LoginOp;
  const world = new ExplainWorld({ online: true });

  before(async () => {
    op = await startLoginOp();
    const web = shopFiles([op], { methods: [{ name: 'corp', oidc: oidcBlock(op) }], session: { storage: 'memory', secretRef: { name: 'shop-session' } } });
    const api = shopFiles([op], { methods: [{ name: 'idp', oidc: oidcBlock(op, { bearerOnly: true, accessTokenAudiences: [API_RESOURCE], logout: undefined }) }], rest: { hosts: [API] } }, 'api');
    await world.load({ 'web.yaml': web['policy.yaml'] ?? '', 'api.yaml': api['policy.yaml'] ?? '', 'secrets.yaml': web['secrets.yaml'] ?? '' }, true);
    assert.deepEqual(world.loaded.warnings, [], 'the provider answered before the explains');
  });
  after(async () => {
    await world.close();
    await op?.close();
  });

  it("a provider's JWT access token: verified with its keys, the identity shown, the token redacted", BOUNDED, async () => {
    const token = await op.clientToken(API_RESOURCE);
    const e = asJson(await world.explain({ host: API, path: '/v1/orders', headers: { authorization: `Bearer ${token}` } }));
    assert.deepEqual(e.request.headers, [{ name: 'authorization', value: 'Bearer [redacted]' }]);
    const jti = String(JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')).jti);
    assert.deepEqual(e.authentication, {
      mode: 'any',
      methods: [{ name: 'idp', type: 'oidc', presented: 'header:authorization', result: 'success', identity: { consumer: op.clientId, credential: jti, groups: [], anonymous: false } }],
    });
    assert.deepEqual([e.answer.decision, e.answer.code, e.answer.consumer], ['allow', 'authenticated', op.clientId]);
  });

  it('an opaque token the provider does not know: introspected, refused 401 with the stable code and why', BOUNDED, async () => {
    const e = asJson(await world.explain({ host: API, path: '/', headers: { authorization: 'Bearer opaque-token-value' } }));
    assert.deepEqual(e.authentication?.methods, [
      { name: 'idp', type: 'oidc', presented: 'header:authorization', result: 'failure', code: 'oidc_token_inactive', detail: 'the provider says the token is not active' },
    ]);
    assert.deepEqual([e.answer.status, e.answer.code], [401, 'oidc_token_inactive']);
  });

  it('a page without a session: the method answers with the login redirect; its flow cookie is redacted', BOUNDED, async () => {
    const e = asJson(await world.explain({ host: HOST, path: '/orders' }));
    assert.deepEqual(e.authentication, {
      mode: 'any',
      methods: [
        { name: 'session', type: 'session', result: 'none' },
        { name: 'corp', type: 'oidc', result: 'none' },
      ],
      respondedBy: 'corp',
    });
    assert.deepEqual([e.answer.decision, e.answer.status, e.answer.code, e.answer.method], ['deny', 302, 'oidc_login', 'corp']);
    const [cookie, cache, location] = e.answer.responseHeaders;
    assert.match(cookie?.value ?? '', /^gh_oidc_[A-Za-z0-9_-]{22}=\[redacted\]; Expires=.+; Max-Age=600; Path=\/oauth2\/callback; Secure; HttpOnly; SameSite=Lax$/);
    assert.deepEqual(cache, { name: 'cache-control', value: 'no-store' });
    assert.equal(new URL(location?.value ?? '').origin + new URL(location?.value ?? '').pathname, `${op.issuer}/auth`);
  });

  it('a callback explained exchanges no code and marks no state used: the real callback afterwards signs in', BOUNDED, async () => {
    const start = await world.decide({ host: HOST, path: '/orders' });
    const flow = pairOf(header(start, 'set-cookie'));
    const callback = await op.login(header(start, 'location'), 'alice');
    assert.equal(`${callback.origin}${callback.pathname}`, REDIRECT_URI);
    const request = { host: HOST, path: `${callback.pathname}${callback.search}`, headers: { cookie: flow } };
    const exchanges = op.requests('/token');
    const e = asJson(await world.explain(request));
    assert.equal(e.endpoint, 'oidc-callback:corp');
    assert.deepEqual([e.answer.status, e.answer.code, e.answer.detail], [302, 'oidc_callback_dry_run', 'dry run: the code would be exchanged with the provider and a session created']);
    assert.deepEqual(e.answer.responseHeaders.at(-1), { name: 'location', value: '/orders' });
    assert.match(e.request.query, /^code=\[redacted\]&state=/);
    assert.equal(op.requests('/token'), exchanges, 'no code exchange');
    const live = await world.decide(request);
    assert.deepEqual([live.kind, live.code], ['deny', 'oidc_login_complete']);
    assert.equal(op.requests('/token'), exchanges + 1);
  });

  it('a logout explained ends no session and revokes nothing at the provider', BOUNDED, async () => {
    const start = await world.decide({ host: HOST, path: '/' });
    const callback = await op.login(header(start, 'location'), 'bob');
    const done = await world.decide({ host: HOST, path: `${callback.pathname}${callback.search}`, headers: { cookie: pairOf(header(start, 'set-cookie')) } });
    const session = pairOf(header(done, 'set-cookie'));
    const revocations = op.requests('/token/revocation');
    const e = asJson(await world.explain({ host: HOST, path: '/logout', headers: { cookie: session } }));
    assert.deepEqual([e.endpoint, e.answer.status, e.answer.code], ['oidc-logout:corp', 302, 'oidc_logout']);
    assert.match(e.answer.responseHeaders.find((h) => h.name === 'location')?.value ?? '', new RegExp(`^${op.issuer}/session/end\\?.*id_token_hint=\\[redacted\\]`));
    assert.equal(op.requests('/token/revocation'), revocations);
    const still = await world.decide({ host: HOST, path: '/orders', headers: { cookie: session } });
    assert.deepEqual([still.kind, still.kind === 'allow' ? still.identity?.consumerId : ''], ['allow', 'bob']);
    await world.decide({ host: HOST, path: '/logout', headers: { cookie: session } });
    assert.ok(op.requests('/token/revocation') > revocations, 'the real logout revokes');
  });
});
