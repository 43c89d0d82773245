// API objects to resources, and the status computed for a policy: exact values, no server needed.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PolicyStatus } from '../src/policy/store.js';
import { statusOf, toPolicy, toSecret } from '../src/sources/kubernetes-convert.js';
import { desiredStatus, sameStatus } from '../src/sources/kubernetes-status.js';

const T = Date.UTC(2026, 4, 4, 10, 21, 7, 450);

const status = (over: Partial<PolicyStatus> = {}): PolicyStatus => ({
  id: 'shop/api', namespace: 'shop', name: 'api', observedGeneration: 2, ready: true, reason: 'Compiled', message: '', problems: [], serving: 'current', enforcement: 'enforce', ...over,
});

describe('API objects to resources', () => {
  it('a Secret: data decoded from base64, labels and annotations kept, kubectl\'s copy of stringData dropped', () => {
    const r = toSecret({
      metadata: {
        name: 'acme', namespace: 'shop', resourceVersion: '7', labels: { 'gatehouse.dev/credential': 'partners' },
        annotations: { 'gatehouse.dev/consumer-id': 'acme', 'kubectl.kubernetes.io/last-applied-configuration': '{"stringData":{"api_key":"acme-key-1"}}' },
        managedFields: [{ manager: 'kubectl' }],
      },
      type: 'Opaque',
      data: { api_key: Buffer.from('acme-key-1').toString('base64') },
    });
    assert.ok(r.ok);
    assert.deepEqual({ ...r.value, data: [...r.value.data].map(([k, v]) => [k, v.toString('utf8')]) }, {
      namespace: 'shop', name: 'acme', labels: { 'gatehouse.dev/credential': 'partners' }, annotations: { 'gatehouse.dev/consumer-id': 'acme' },
      data: [['api_key', 'acme-key-1']], origin: 'kubernetes',
    });
  });

  it('a Secret that cannot be read names the field', () => {
    assert.deepEqual(toSecret({ metadata: { name: 'a', namespace: 'shop', resourceVersion: '1' }, data: { api_key: 'not base64!' } }), {
      ok: false, problem: 'data.api_key: must be base64 (use stringData for plain text)',
    });
    assert.deepEqual(toSecret({ metadata: { name: 'a', namespace: 'shop', resourceVersion: '1', labels: { n: 1 } } }), { ok: false, problem: 'metadata.labels.n: must be a string' });
    assert.deepEqual(toSecret({ metadata: { name: 'a', resourceVersion: '1' } }), { ok: false, problem: 'metadata.namespace: is required' });
  });

  it('an AuthPolicy keeps its spec as it is and reads the status it carries', () => {
    const spec = { hosts: ['api.example.com'], anything: { kept: true } };
    const r = toPolicy({
      apiVersion: 'gatehouse.dev/v1alpha1', kind: 'AuthPolicy',
      metadata: { name: 'api', namespace: 'shop', resourceVersion: '12', generation: 3, creationTimestamp: '2026-01-01T00:00:00Z' },
      spec,
      status: { observedGeneration: 2, conditions: [{ type: 'Ready', status: 'True', reason: 'Compiled', extra: 1 }, { nonsense: true }] },
    });
    assert.ok(r.ok);
    const { resource, ...rest } = r.value;
    assert.deepEqual(resource.resource(), { namespace: 'shop', name: 'api', generation: 3, creationTimestamp: '2026-01-01T00:00:00Z', spec, origin: 'kubernetes' });
    assert.deepEqual(rest, {
      resourceVersion: '12',
      status: { observedGeneration: 2, conditions: [{ type: 'Ready', status: 'True', reason: 'Compiled' }] },
    });
    assert.deepEqual(toPolicy({ metadata: { name: 'api', namespace: 'shop', resourceVersion: '1', generation: 0 } }), { ok: false, problem: 'metadata.generation: must be a positive integer' });
    assert.deepEqual(statusOf('garbage'), { observedGeneration: undefined, conditions: [] });
  });
});

describe('the status written for a policy', () => {
  it('a first status: Ready with the time of the computation in whole seconds', () => {
    assert.deepEqual(desiredStatus(status(), statusOf(undefined), T, 'gatehouse.dev/credential'), {
      observedGeneration: 2,
      conditions: [
        { type: 'Ready', status: 'True', reason: 'Compiled', message: '', lastTransitionTime: '2026-05-04T10:21:07Z', observedGeneration: 2 },
        { type: 'Enforced', status: 'True', reason: 'Enforcing', message: 'requests are refused as the policy says', lastTransitionTime: '2026-05-04T10:21:07Z', observedGeneration: 2 },
      ],
    });
  });

  it('a shadow policy says so in its Enforced condition (the Mode column); turning it on flips the condition', () => {
    const shadow = desiredStatus(status({ enforcement: 'shadow' }), statusOf(undefined), T, 'x');
    assert.deepEqual(shadow.conditions[1], {
      type: 'Enforced',
      status: 'False',
      reason: 'Shadow',
      message: 'shadow mode: evaluated and reported (gatehouse_shadow_decisions_total), never refusing a request',
      lastTransitionTime: '2026-05-04T10:21:07Z',
      observedGeneration: 2,
    });
    const later = T + 60_000;
    const enforced = desiredStatus(status({ enforcement: 'enforce' }), statusOf(shadow), later, 'x');
    assert.deepEqual(enforced.conditions.map((c) => [c.type, c.status, c.reason, c.lastTransitionTime]), [
      ['Ready', 'True', 'Compiled', '2026-05-04T10:21:07Z'],
      ['Enforced', 'True', 'Enforcing', '2026-05-04T10:22:07Z'],
    ]);
  });

  it('the transition time is kept while Ready does not flip, and other conditions keep their place', () => {
    const observed = statusOf({
      observedGeneration: 1,
      conditions: [
        { type: 'Accepted', status: 'True', reason: 'Gateway' },
        { type: 'Ready', status: 'True', reason: 'Compiled', message: '', lastTransitionTime: '2026-01-01T00:00:00Z', observedGeneration: 1 },
      ],
    });
    const same = desiredStatus(status(), observed, T, 'x');
    assert.deepEqual(same.conditions, [
      { type: 'Accepted', status: 'True', reason: 'Gateway' },
      { type: 'Ready', status: 'True', reason: 'Compiled', message: '', lastTransitionTime: '2026-01-01T00:00:00Z', observedGeneration: 2 },
      { type: 'Enforced', status: 'True', reason: 'Enforcing', message: 'requests are refused as the policy says', lastTransitionTime: '2026-05-04T10:21:07Z', observedGeneration: 2 },
    ]);
    assert.equal(sameStatus(same, observed), false, 'a new generation is a change');
    assert.equal(sameStatus(same, statusOf(same)), true);
    const flipped = desiredStatus(status({ ready: false, reason: 'HostConflict', message: 'host a path / is already served by shop/first' }), observed, T, 'x');
    assert.deepEqual(flipped.conditions[1], {
      type: 'Ready', status: 'False', reason: 'HostConflict', message: 'host a path / is already served by shop/first', lastTransitionTime: '2026-05-04T10:21:07Z', observedGeneration: 2,
    });
  });

  it('SecretMissing says which Secrets are read; very long messages are cut', () => {
    const missing = desiredStatus(status({ ready: false, reason: 'SecretMissing', message: 'spec.session.secretRef: Secret shop/s not found' }), statusOf(undefined), T, 'gatehouse.dev/credential');
    assert.equal(missing.conditions[0]?.message, 'spec.session.secretRef: Secret shop/s not found (gatehouse reads only Secrets labelled to match "gatehouse.dev/credential")');
    const long = desiredStatus(status({ ready: false, reason: 'Invalid', message: 'x'.repeat(10_000) }), statusOf(undefined), T, 'x');
    assert.equal(long.conditions[0]?.message?.length, 4096);
    assert.equal(long.conditions[0]?.message?.endsWith('x...'), true);
  });
});
