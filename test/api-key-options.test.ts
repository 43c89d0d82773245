// Policy options around API keys that the other suites do not reach: renamed identity headers,
// set-based selectors, keys left in place, text deny bodies, several keys per Secret, rotation lines.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestGatehouse, type TestGatehouse } from './support/gatehouse.js';

const FILES = {
  'p.yaml': `
apiVersion: gatehouse.dev/v1alpha1
kind: AuthPolicy
metadata: {name: renamed, namespace: t}
spec:
  hosts: ["renamed.example.com"]
  authentication:
    methods:
      - name: keys
        apiKey:
          from: [{header: x-api-key}]
          selector:
            matchExpressions:
              - {key: tier, operator: In, values: [gold, silver]}
              - {key: disabled, operator: DoesNotExist}
  response:
    identityHeaders: {consumerId: X-User, groups: X-Roles}
    unauthenticated:
      status: 401
      body: {text: "go away"}
`,
  's.yaml': `
apiVersion: v1
kind: Secret
metadata: {name: gold, namespace: t, labels: {tier: gold}, annotations: {gatehouse.dev/groups: "a,b"}}
stringData:
  api_key: |
    gold-key-old
    gold-key-new
---
apiVersion: v1
kind: Secret
metadata: {name: bronze, namespace: t, labels: {tier: bronze}}
stringData: {api_key: bronze-key}
---
apiVersion: v1
kind: Secret
metadata: {name: off, namespace: t, labels: {tier: gold, disabled: "yes"}}
stringData: {api_key: disabled-key}
`,
};

describe('API key options', () => {
  let g: TestGatehouse;
  before(async () => {
    g = await startTestGatehouse(FILES);
  });
  after(async () => g.stop());

  it('renamed identity headers are set, the default names are still stripped, and the key is left in place', async () => {
    const res = await g.envoy.check({ host: 'renamed.example.com', path: '/', headers: { 'x-api-key': 'gold-key-new', 'x-consumer-id': 'forged' } });
    assert.equal(res.kind, 'ok');
    if (res.kind !== 'ok') return;
    assert.deepEqual(res.ok.headers, [
      { key: 'x-user', value: 'gold', append: false },
      { key: 'x-credential-identifier', value: 't/gold', append: false },
      { key: 'x-roles', value: 'a, b', append: false },
    ]);
    assert.deepEqual(res.ok.headersToRemove, ['x-consumer-id', 'x-consumer-username', 'x-consumer-custom-id', 'x-authenticated-groups', 'x-anonymous-consumer']);
  });

  it('every line of api_key is a key (rotation without a gap)', async () => {
    const res = await g.envoy.check({ host: 'renamed.example.com', path: '/', headers: { 'x-api-key': 'gold-key-old' } });
    assert.equal(res.kind, 'ok');
  });

  it('set-based selectors: NotIn tiers and disabled Secrets hold no key; the text body is sent as is', async () => {
    for (const key of ['bronze-key', 'disabled-key']) {
      const res = await g.envoy.check({ host: 'renamed.example.com', path: '/', headers: { 'x-api-key': key } });
      assert.equal(res.kind, 'denied', key);
      if (res.kind !== 'denied') continue;
      assert.equal(res.denied.status, 401);
      assert.equal(res.denied.body, 'go away');
      assert.deepEqual(res.denied.headers, [
        { key: 'www-authenticate', value: 'Key realm="renamed.example.com"', append: false },
        { key: 'content-type', value: 'text/plain; charset=utf-8', append: false },
      ]);
    }
  });
});
