// API keys end to end: policies from YAML, Checks built as Envoy builds them, exact answers.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { DecodedCheckResponse, DecodedHeader } from './support/envoy-client.js';
import { startTestGatehouse, type TestGatehouse } from './support/gatehouse.js';

const sha = (s: string): string => createHash('sha256').update(s).digest('hex');

const POLICIES = `
apiVersion: gatehouse.dev/v1alpha1
kind: AuthPolicy
metadata: {name: api, namespace: shop}
spec:
  hosts: ["api.example.com"]
  skip: [{paths: ["/healthz"], methods: [GET]}]
  authentication:
    methods:
      - name: keys
        apiKey:
          from: [{header: apikey}, {query: apikey}, {header: authorization, prefix: "ApiKey "}, {cookie: apikey}]
          selector: {matchLabels: {gatehouse.dev/credential: partners}}
          hideCredentials: true
  authorization:
    groups: {anyOf: [partners]}
  response: {realm: shop}
---
apiVersion: gatehouse.dev/v1alpha1
kind: AuthPolicy
metadata: {name: open, namespace: shop}
spec:
  hosts: ["www.example.com"]
  authentication:
    methods:
      - name: keys
        apiKey:
          selector: {matchLabels: {gatehouse.dev/credential: partners}}
  anonymous: {id: anon, username: anonymous_users, groups: [public]}
---
apiVersion: gatehouse.dev/v1alpha1
kind: AuthPolicy
metadata: {name: both, namespace: shop}
spec:
  hosts: ["both.example.com"]
  authentication:
    mode: all
    methods:
      - name: first
        apiKey:
          from: [{header: x-key-one}]
          selector: {matchLabels: {gatehouse.dev/credential: partners}}
      - name: second
        apiKey:
          from: [{header: x-key-two}]
          selector: {matchLabels: {gatehouse.dev/credential: devices}}
---
apiVersion: gatehouse.dev/v1alpha1
kind: AuthPolicy
metadata: {name: vip, namespace: shop}
spec:
  hosts: ["vip.example.com"]
  authentication:
    methods:
      - name: keys
        apiKey:
          selector: {matchLabels: {gatehouse.dev/credential: partners}}
  authorization:
    consumers: [globex]
---
apiVersion: v1
kind: Secret
metadata:
  name: acme
  namespace: shop
  labels: {gatehouse.dev/credential: partners}
  annotations:
    gatehouse.dev/consumer-id: acme
    gatehouse.dev/consumer-username: acme-corp
    gatehouse.dev/consumer-custom-id: crm-1
    gatehouse.dev/groups: partners, beta
stringData:
  api_key: acme-key-1
---
apiVersion: v1
kind: Secret
metadata:
  name: globex
  namespace: shop
  labels: {gatehouse.dev/credential: partners}
  annotations:
    gatehouse.dev/consumer-id: globex
    gatehouse.dev/groups: partners
    gatehouse.dev/credential-id: globex-key-2024
data:
  api_key: ${Buffer.from(`sha256:${sha('globex-key-2')}\n`).toString('base64')}
---
apiVersion: v1
kind: Secret
metadata:
  name: intern
  namespace: shop
  labels: {gatehouse.dev/credential: partners}
  annotations: {gatehouse.dev/consumer-id: bob, gatehouse.dev/groups: interns}
stringData: {api_key: bob-key}
---
apiVersion: v1
kind: Secret
metadata:
  name: device
  namespace: shop
  labels: {gatehouse.dev/credential: devices}
  annotations: {gatehouse.dev/consumer-id: sensor-7, gatehouse.dev/groups: devices}
stringData: {api_key: device-key}
---
apiVersion: v1
kind: Secret
metadata:
  name: elsewhere
  namespace: other
  labels: {gatehouse.dev/credential: partners}
stringData: {api_key: other-namespace-key}
`;

const IDENTITY = ['x-consumer-id', 'x-consumer-username', 'x-consumer-custom-id', 'x-credential-identifier', 'x-authenticated-groups', 'x-anonymous-consumer'];

function ok(res: DecodedCheckResponse): Extract<DecodedCheckResponse, { kind: 'ok' }>['ok'] {
  assert.equal(res.kind, 'ok', `expected an allow, got ${JSON.stringify(res)}`);
  assert.equal(res.grpcCode, 0);
  return res.ok;
}

function denied(res: DecodedCheckResponse): Extract<DecodedCheckResponse, { kind: 'denied' }> {
  assert.equal(res.kind, 'denied', `expected a deny, got ${JSON.stringify(res)}`);
  return res;
}

const h = (key: string, value: string): DecodedHeader => ({ key, value, append: false });

describe('API keys', () => {
  let g: TestGatehouse;
  before(async () => {
    g = await startTestGatehouse({ 'policies.yaml': POLICIES });
  });
  after(async () => g.stop());

  it('a valid key in the apikey header is allowed with the consumer identity and the key hidden', async () => {
    const res = ok(await g.envoy.check({ host: 'api.example.com', path: '/orders', headers: { apikey: 'acme-key-1', 'x-consumer-id': 'forged' } }));
    assert.deepEqual(res.headers, [
      h('x-consumer-id', 'acme'),
      h('x-consumer-username', 'acme-corp'),
      h('x-consumer-custom-id', 'crm-1'),
      h('x-credential-identifier', 'shop/acme'),
      h('x-authenticated-groups', 'partners, beta'),
    ]);
    assert.deepEqual(res.headersToRemove, ['x-anonymous-consumer', 'apikey']);
    assert.deepEqual(res.queryParametersToRemove, []);
    assert.deepEqual(res.responseHeadersToAdd, []);
  });

  it('a key stored as a sha256 digest is accepted, with the credential id from its annotation', async () => {
    const res = ok(await g.envoy.check({ host: 'api.example.com:8443', path: '/x', headers: { authorization: 'apikey globex-key-2' } }));
    assert.deepEqual(res.headers, [h('x-consumer-id', 'globex'), h('x-credential-identifier', 'globex-key-2024'), h('x-authenticated-groups', 'partners')]);
    assert.deepEqual(res.headersToRemove, ['x-consumer-username', 'x-consumer-custom-id', 'x-anonymous-consumer', 'authorization']);
  });

  it('a key in the query string is removed through query_parameters_to_remove', async () => {
    const res = ok(await g.envoy.check({ host: 'api.example.com', path: '/orders?page=2&apikey=acme-key-1' }));
    assert.equal(res.headers[0]?.value, 'acme');
    assert.deepEqual(res.queryParametersToRemove, ['apikey']);
    assert.deepEqual(res.headersToRemove, ['x-anonymous-consumer']);
  });

  it('a key in a cookie is removed by rewriting the Cookie header', async () => {
    const res = ok(await g.envoy.check({ host: 'api.example.com', path: '/', headers: { cookie: 'theme=dark; apikey=acme-key-1; lang=en' } }));
    assert.deepEqual(res.headers.at(-1), h('cookie', 'theme=dark; lang=en'));
  });

  it('an unknown key is refused with 401, a Key challenge and a JSON body', async () => {
    const res = denied(await g.envoy.check({ host: 'api.example.com', path: '/orders', headers: { apikey: 'nope' } }));
    assert.equal(res.grpcCode, 16);
    assert.equal(res.message, 'key_unknown');
    assert.equal(res.denied.status, 401);
    assert.deepEqual(res.denied.headers, [h('www-authenticate', 'Key realm="shop"'), h('content-type', 'application/json')]);
    assert.deepEqual(JSON.parse(res.denied.body), { code: 'key_unknown', message: 'Invalid authentication credentials' });
  });

  it('no key at all is refused with 401 credential_missing', async () => {
    const res = denied(await g.envoy.check({ host: 'api.example.com', path: '/orders' }));
    assert.equal(res.denied.status, 401);
    assert.equal(res.message, 'credential_missing');
    assert.deepEqual(JSON.parse(res.denied.body), { code: 'credential_missing', message: 'No credentials found in request' });
    assert.deepEqual(res.denied.headers[0], h('www-authenticate', 'Key realm="shop"'));
  });

  it('a header without the configured prefix is not taken as a key', async () => {
    const res = denied(await g.envoy.check({ host: 'api.example.com', path: '/', headers: { authorization: 'Bearer acme-key-1' } }));
    assert.equal(res.message, 'credential_missing');
  });

  it('a key of another namespace opens nothing here', async () => {
    const res = denied(await g.envoy.check({ host: 'api.example.com', path: '/', headers: { apikey: 'other-namespace-key' } }));
    assert.equal(res.message, 'key_unknown');
  });

  it('a consumer outside the required groups is refused with 403', async () => {
    const res = denied(await g.envoy.check({ host: 'api.example.com', path: '/', headers: { apikey: 'bob-key' } }));
    assert.equal(res.grpcCode, 7);
    assert.equal(res.denied.status, 403);
    assert.equal(res.message, 'group_forbidden');
    assert.deepEqual(JSON.parse(res.denied.body), { code: 'group_forbidden', message: 'Forbidden' });
  });

  it('only listed consumers pass a consumers rule', async () => {
    denied(await g.envoy.check({ host: 'vip.example.com', path: '/', headers: { apikey: 'acme-key-1' } }));
    const res = ok(await g.envoy.check({ host: 'vip.example.com', path: '/', headers: { apikey: 'globex-key-2' } }));
    assert.equal(res.headers[0]?.value, 'globex');
  });

  it('skip routes pass without a key and still strip every identity header', async () => {
    const res = ok(await g.envoy.check({ host: 'api.example.com', path: '/healthz', headers: { 'x-consumer-id': 'forged' } }));
    assert.deepEqual(res.headers, []);
    assert.deepEqual(res.headersToRemove, IDENTITY);
    const post = denied(await g.envoy.check({ method: 'POST', host: 'api.example.com', path: '/healthz' }));
    assert.equal(post.denied.status, 401);
  });

  it('without a credential the anonymous consumer passes, flagged upstream', async () => {
    const res = ok(await g.envoy.check({ host: 'www.example.com', path: '/', headers: { 'x-anonymous-consumer': 'false', 'x-consumer-id': 'forged' } }));
    assert.deepEqual(res.headers, [
      h('x-consumer-id', 'anon'),
      h('x-consumer-username', 'anonymous_users'),
      h('x-authenticated-groups', 'public'),
      h('x-anonymous-consumer', 'true'),
    ]);
    assert.deepEqual(res.headersToRemove, ['x-consumer-custom-id', 'x-credential-identifier']);
  });

  it('a wrong key is never downgraded to anonymous', async () => {
    const res = denied(await g.envoy.check({ host: 'www.example.com', path: '/', headers: { apikey: 'wrong' } }));
    assert.equal(res.denied.status, 401);
  });

  it('mode all needs every method: both keys pass, groups are combined', async () => {
    const res = ok(await g.envoy.check({ host: 'both.example.com', path: '/', headers: { 'x-key-one': 'acme-key-1', 'x-key-two': 'device-key' } }));
    assert.deepEqual(res.headers.find((x) => x.key === 'x-consumer-id'), h('x-consumer-id', 'acme'));
    assert.deepEqual(res.headers.find((x) => x.key === 'x-authenticated-groups'), h('x-authenticated-groups', 'partners, beta, devices'));
    const one = denied(await g.envoy.check({ host: 'both.example.com', path: '/', headers: { 'x-key-one': 'acme-key-1' } }));
    assert.equal(one.message, 'credential_missing');
    const bad = denied(await g.envoy.check({ host: 'both.example.com', path: '/', headers: { 'x-key-one': 'acme-key-1', 'x-key-two': 'acme-key-1' } }));
    assert.equal(bad.message, 'key_unknown');
  });

  it('a host no policy claims is denied with 403 no_policy', async () => {
    const res = denied(await g.envoy.check({ host: 'unknown.example.org', path: '/' }));
    assert.equal(res.denied.status, 403);
    assert.equal(res.message, 'no_policy');
    assert.deepEqual(JSON.parse(res.denied.body), { code: 'no_policy', message: 'Forbidden' });
  });

  it('a Check without an HTTP request is denied by default', async () => {
    const res = denied(await g.envoy.check({ host: 'api.example.com', path: '/' }, { noHttp: true }));
    assert.equal(res.message, 'no_http_request');
  });

  it('headers sent as raw header_map are read the same way', async () => {
    const res = ok(await g.envoy.check({ host: 'api.example.com', path: '/', headers: { apikey: 'acme-key-1' } }, { rawHeaders: true }));
    assert.equal(res.headers[0]?.value, 'acme');
  });

  it('decisions are counted by policy, method, decision and code in /metrics', async () => {
    const text = await (await fetch(`${g.admin}/metrics`)).text();
    assert.match(text, /gatehouse_check_total\{policy="shop\/api",method="keys",decision="deny",code="key_unknown"\} [1-9]/);
    assert.match(text, /gatehouse_check_total\{policy="shop\/api",method="keys",decision="allow",code="authenticated"\} [1-9]/);
    assert.match(text, /gatehouse_api_keys 13\b/);
    assert.match(text, /gatehouse_policies\{state="ready"\} 4/);
  });

  it('no log line carries a key', () => {
    const all = g.logs.join('\n');
    for (const key of ['acme-key-1', 'globex-key-2', 'bob-key', 'device-key']) assert.equal(all.includes(key), false, key);
    assert.ok(g.logs.some((l) => JSON.parse(l).code === 'key_unknown'));
  });
});
