// Shadow mode through the gRPC wire path: a shadow policy alone on a host never refuses and never
// forges an identity (identity headers only when authentication truly succeeded, a client's own copy
// stripped), its logout still answers; a shadow policy beside the enforced one on the same route
// changes no answer while its would-be decisions are counted where they disagree. Status, conflicts and
// the decision log's phase codes too.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type DecodedCheckResponse, type DecodedHeader, okOf } from './support/envoy-client.js';
import type { JsonObject } from './support/fake-apiserver/index.js';
import { authPolicy, keyMethod, keySecret, secret, yamlOf } from './support/fixtures.js';
import { eventually, startTestGatehouse, type TestGatehouse } from './support/gatehouse.js';

const BOUNDED = { timeout: 60_000 };
const groups = (g: string): JsonObject => ({ groups: { anyOf: [g] } });

const FILES = {
  'policies.yaml': yamlOf(
    authPolicy('shop', 'live', { hosts: ['api.example.com'], authentication: { methods: [keyMethod()] }, authorization: groups('partners') }),
    authPolicy('shop', 'next', { hosts: ['api.example.com'], authentication: { methods: [keyMethod()] }, authorization: groups('staff'), enforcement: 'shadow' }),
    authPolicy('shop', 'beta', {
      hosts: ['beta.example.com'],
      authentication: { methods: [keyMethod()] },
      authorization: groups('partners'),
      session: { storage: 'memory', secretRef: { name: 'beta-session' }, logout: { path: '/logout' } },
      enforcement: 'shadow',
    }),
  ),
  'secrets.yaml': yamlOf(
    keySecret('shop', 'acme', 'acme-key-1', { id: 'acme', groups: 'partners' }),
    keySecret('shop', 'carol', 'carol-key-1', { id: 'carol', groups: 'staff' }),
    keySecret('shop', 'bob', 'bob-key-1', { id: 'bob', groups: 'interns' }),
    secret('shop', 'beta-session', { current: '0123456789abcdef0123456789abcdef-session-key' }),
  ),
};

const IDENTITY_HEADERS = ['x-consumer-id', 'x-consumer-username', 'x-consumer-custom-id', 'x-credential-identifier', 'x-authenticated-groups', 'x-anonymous-consumer'];
const h = (key: string, value: string): DecodedHeader => ({ key, value, append: false });
const allowed = (headers: DecodedHeader[], headersToRemove: string[], responseHeadersToAdd: DecodedHeader[] = []): DecodedCheckResponse => ({
  grpcCode: 0,
  message: '',
  kind: 'ok',
  ok: { headers, headersToRemove, responseHeadersToAdd, queryParametersToSet: [], queryParametersToRemove: [] },
});
const denied = (status: number, code: string): DecodedCheckResponse => ({
  grpcCode: 7,
  message: code,
  kind: 'denied',
  denied: { status, headers: [h('content-type', 'application/json')], body: JSON.stringify({ code, message: 'Forbidden' }) },
});

/** The samples of one metric as `labels value` lines, sorted. */
async function samples(g: TestGatehouse, metric: string): Promise<string[]> {
  const text = await (await fetch(`${g.admin}/metrics`)).text();
  return text.split('\n').filter((l) => l.startsWith(`${metric}{`)).map((l) => l.slice(metric.length)).sort();
}

/** A gatehouse serving FILES for the tests of the enclosing describe (a fresh log and fresh metrics). */
function serving(): { g: TestGatehouse } {
  const box = {} as { g: TestGatehouse };
  before(async () => {
    box.g = await startTestGatehouse(FILES);
    await eventually(() => box.g.gatehouse.store.index !== undefined, 5000, 'policies loaded');
  });
  after(() => box.g.stop());
  return box;
}

describe('shadow mode through the ext_authz gRPC server', BOUNDED, () => {
  const served = serving();
  const g = (): TestGatehouse => served.g;

  const check = (host: string, headers: Record<string, string> = {}, path = '/v1/orders', method = 'GET'): Promise<DecodedCheckResponse> =>
    g().envoy.check({ host, path, headers, method });

  it('beside the enforced policy on one route: every answer is the enforced one; the shadow is counted where it disagrees', async () => {
    assert.deepEqual(await check('api.example.com', { apikey: 'acme-key-1' }), allowed([h('x-consumer-id', 'acme'), h('x-credential-identifier', 'shop/acme'), h('x-authenticated-groups', 'partners')], ['x-consumer-username', 'x-consumer-custom-id', 'x-anonymous-consumer']));
    assert.deepEqual(await check('api.example.com', { apikey: 'carol-key-1' }), denied(403, 'group_forbidden'));
    assert.deepEqual(await check('api.example.com', { apikey: 'bob-key-1' }), denied(403, 'group_forbidden'));
    const none = await check('api.example.com');
    assert.deepEqual([none.kind, none.kind === 'denied' ? none.denied.status : 0], ['denied', 401]);
    await eventually(async () => (await samples(g(), 'gatehouse_shadow_decisions_total')).filter((l) => l.includes('shop/next')).length === 4, 5000, 'four shadow decisions');
    assert.deepEqual((await samples(g(), 'gatehouse_shadow_decisions_total')).filter((l) => l.includes('shop/next')), [
      '{policy="shop/next",outcome="deny",code="credential_missing"} 1',
      '{policy="shop/next",outcome="deny",code="group_forbidden"} 1',
      '{policy="shop/next",outcome="would_allow",code="authenticated"} 1',
      '{policy="shop/next",outcome="would_deny",code="group_forbidden"} 1',
    ]);
    assert.deepEqual((await samples(g(), 'gatehouse_check_total')).filter((l) => l.includes('shop/next')), [], 'a shadow beside is no traffic of its own');
  });

  it('alone on a host: never a denial; identity headers only when authentication truly succeeded', async () => {
    const acme = okOf(await check('beta.example.com', { apikey: 'acme-key-1' }));
    assert.deepEqual(acme.headers, [h('x-consumer-id', 'acme'), h('x-credential-identifier', 'shop/acme'), h('x-authenticated-groups', 'partners')]);
    assert.match(acme.responseHeadersToAdd[0]?.value ?? '', /^gh_session=/, 'its session is created: it must be testable end to end');
    const forged = { 'x-consumer-id': 'admin', x_consumer_id: 'admin' };
    assert.deepEqual(await check('beta.example.com', { apikey: 'wrong', ...forged }), allowed([], [...IDENTITY_HEADERS, 'x_consumer_id']));
    assert.deepEqual(await check('beta.example.com', { apikey: 'bob-key-1', ...forged }), allowed([], [...IDENTITY_HEADERS, 'x_consumer_id']));
    assert.deepEqual(await check('beta.example.com'), allowed([], IDENTITY_HEADERS));
    const logout = await check('beta.example.com', {}, '/logout', 'POST');
    assert.deepEqual([logout.kind, logout.kind === 'denied' ? [logout.denied.status, logout.denied.body] : []], ['denied', [200, '{"message":"Logged out"}']]);
    assert.deepEqual((await samples(g(), 'gatehouse_shadow_decisions_total')).filter((l) => l.includes('shop/beta')), [
      '{policy="shop/beta",outcome="allow",code="authenticated"} 1',
      '{policy="shop/beta",outcome="deny",code="session_logout"} 1',
      '{policy="shop/beta",outcome="would_deny",code="credential_missing"} 1',
      '{policy="shop/beta",outcome="would_deny",code="group_forbidden"} 1',
      '{policy="shop/beta",outcome="would_deny",code="key_unknown"} 1',
    ]);
    assert.deepEqual((await samples(g(), 'gatehouse_check_total')).filter((l) => l.includes('shop/beta')), [
      '{policy="shop/beta",method="",decision="allow",code="shadow"} 3',
      '{policy="shop/beta",method="keys",decision="allow",code="authenticated"} 1',
      '{policy="shop/beta",method="session",decision="deny",code="session_logout"} 1',
    ]);
  });

  it('a shadow and an enforced policy on one route are no conflict; each status says its mode', () => {
    const store = g().gatehouse.store;
    assert.deepEqual(store.index?.conflicts, []);
    assert.deepEqual(['live', 'next', 'beta'].map((n) => [n, store.status('shop', n)?.ready, store.status('shop', n)?.reason, store.status('shop', n)?.enforcement]), [
      ['live', true, 'Compiled', 'enforce'],
      ['next', true, 'Compiled', 'shadow'],
      ['beta', true, 'Compiled', 'shadow'],
    ]);
  });

});

describe('shadow decisions in the decision log', BOUNDED, () => {
  const served = serving();
  const g = (): TestGatehouse => served.g;

  it('each check line carries the phase codes; the first disagreement of a shadow policy is logged at info with both answers', async () => {
    await g().envoy.check({ host: 'api.example.com', path: '/', headers: { apikey: 'carol-key-1' } });
    await eventually(() => g().logs.some((l) => l.includes('shadow decision differs')), 5000, 'the shadow log line');
    const lines = (msg: string): Record<string, unknown>[] => g().logs.filter((l) => l.includes(`"msg":"${msg}"`)).map((l) => JSON.parse(l) as Record<string, unknown>);
    const line = (msg: string): Record<string, unknown> => {
      const found = lines(msg);
      assert.equal(found.length, 1, `one "${msg}" line`);
      return found[0] ?? {};
    };
    assert.equal(line('check').phases, 'route=shop/live authn=keys:success authz=groups.anyOf:group_forbidden answer=deny:403:group_forbidden');
    const shadow = line('shadow decision differs');
    assert.deepEqual(
      [shadow.level, shadow.policy, shadow.outcome, shadow.decision, shadow.code, shadow.consumer, shadow.answered, shadow.answered_code, shadow.answered_by],
      ['info', 'shop/next', 'would_allow', 'allow', 'authenticated', 'carol', 'deny', 'group_forbidden', 'shop/live'],
    );
    assert.doesNotMatch(g().logs.join('\n'), /carol-key-1/, 'never a credential in the log');
  });
});
