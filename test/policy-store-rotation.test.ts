// A rotated Secret among thousands of policies: the store recompiles the one policy that selects it and
// swaps it into the serving index in place, instead of rebuilding an index of every policy per event
// (which made a 10,000-policy process grow to 850 MB over 200 rotations). What serves must not change.
// Also what the Check path now prepares once and reuses: a key's upstream headers, an unknown key's 401.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { SecretResource } from '../src/config/resources.js';
import type { Allow } from '../src/core/decision.js';
import { CheckInput } from '../src/core/input.js';
import { Pipeline } from '../src/core/pipeline.js';
import type { PolicyIndex } from '../src/policy/index.js';
import { PolicyStore } from '../src/policy/store.js';

const POLICIES = 2000;
const pipeline = new Pipeline({ onNoPolicy: 'deny' });

function keySecret(policy: number, secret: number, key: string): SecretResource {
  return {
    namespace: 'shop',
    name: `secret-${secret}`,
    labels: { 'gatehouse.dev/credential': `group-${policy}` },
    annotations: { 'gatehouse.dev/consumer-id': `consumer-${secret}` },
    data: new Map([['api_key', Buffer.from(key)]]),
    origin: 'test',
  };
}

function policySpec(policy: number, host: string): Record<string, unknown> {
  return {
    hosts: [host],
    authentication: { methods: [{ name: 'keys', apiKey: { from: [{ header: 'apikey' }], selector: { matchLabels: { 'gatehouse.dev/credential': `group-${policy}` } } } }] },
  };
}

/** A synced store of POLICIES policies (host pN.test), each with two key Secrets. */
function bigStore(): PolicyStore {
  const store = new PolicyStore({ clock: Date.now });
  for (let p = 0; p < POLICIES; p++) {
    store.upsertPolicy({ namespace: 'shop', name: `policy-${p}`, generation: 1, creationTimestamp: undefined, spec: policySpec(p, `p${p}.test`), origin: 'test' });
    store.upsertSecret(keySecret(p, p, `key-${p}-a`));
    store.upsertSecret(keySecret(p, p + POLICIES, `key-${p}-b`));
  }
  store.markSynced();
  return store;
}

function allowOf(index: PolicyIndex | undefined, host: string, key: string): Allow {
  const input = new CheckInput({ method: 'GET', scheme: 'https', host, path: '/', headers: new Map([['apikey', key]]), peer: '127.0.0.1' });
  const decision = pipeline.decide(index, input, Date.now());
  assert.ok(!(decision instanceof Promise) && decision.kind === 'allow', 'an allow');
  return decision;
}

function answer(index: PolicyIndex | undefined, host: string, key: string): string {
  const input = new CheckInput({ method: 'GET', scheme: 'https', host, path: '/', headers: new Map([['apikey', key]]), peer: '127.0.0.1' });
  const decision = pipeline.decide(index, input, Date.now());
  assert.ok(!(decision instanceof Promise), 'an API key decision is synchronous');
  return decision.kind === 'allow' ? 'allow' : `${decision.kind} ${decision.status}`;
}

describe('a Secret change among 2,000 policies', () => {
  it('a rotated key is accepted and the old one refused at once, in the same serving index', () => {
    const store = bigStore();
    const index = store.index;
    assert.ok(index !== undefined);
    assert.equal(index.keyCount, 2 * POLICIES);
    assert.equal(answer(index, 'p1234.test', 'key-1234-a'), 'allow');

    store.upsertSecret(keySecret(1234, 1234, 'rotated-1234'));
    store.flush();
    assert.equal(store.index, index, 'the index was rebuilt instead of updated in place');
    assert.equal(answer(store.index, 'p1234.test', 'rotated-1234'), 'allow');
    assert.equal(answer(store.index, 'p1234.test', 'key-1234-a'), 'deny 401');
    // The policy's other key and its neighbours are untouched.
    assert.equal(answer(store.index, 'p1234.test', 'key-1234-b'), 'allow');
    assert.equal(answer(store.index, 'p1235.test', 'key-1235-a'), 'allow');
    assert.equal(answer(store.index, 'p1235.test', 'rotated-1234'), 'deny 401');
    assert.equal(store.status('shop', 'policy-1234')?.reason, 'Compiled');
  });

  it('a deleted key Secret is refused at once and no longer counted', () => {
    const store = bigStore();
    store.deleteSecret('shop', `secret-${7 + POLICIES}`);
    store.flush();
    assert.equal(answer(store.index, 'p7.test', 'key-7-b'), 'deny 401');
    assert.equal(answer(store.index, 'p7.test', 'key-7-a'), 'allow');
    assert.equal(store.index?.keyCount, 2 * POLICIES - 1);
  });

  it('a policy that moves to another host gets a new index: the old host is no longer served by it', () => {
    const store = bigStore();
    const index = store.index;
    store.upsertPolicy({ namespace: 'shop', name: 'policy-42', generation: 2, creationTimestamp: undefined, spec: policySpec(42, 'moved.test'), origin: 'test' });
    store.flush();
    assert.notEqual(store.index, index);
    assert.equal(answer(store.index, 'moved.test', 'key-42-a'), 'allow');
    assert.equal(answer(store.index, 'p42.test', 'key-42-a'), 'deny 403');
  });
});

describe('the identity headers of a key, prepared once and reused by every allow', () => {
  it('a key allowed twice sets the same headers; once another policy adds its own header name, that name is stripped too', () => {
    const store = new PolicyStore({ clock: Date.now });
    store.upsertPolicy({ namespace: 'shop', name: 'policy-1', generation: 1, creationTimestamp: undefined, spec: policySpec(1, 'one.test'), origin: 'test' });
    store.upsertSecret(keySecret(1, 1, 'key-one'));
    store.markSynced();
    const first = allowOf(store.index, 'one.test', 'key-one');
    const again = allowOf(store.index, 'one.test', 'key-one');
    assert.deepEqual(again.setHeaders, [
      { name: 'x-consumer-id', value: 'consumer-1' },
      { name: 'x-credential-identifier', value: 'shop/secret-1' },
    ]);
    assert.deepEqual(again.setHeaders, first.setHeaders);
    assert.equal(again.removeHeaders.includes('x-partner-id'), false);

    store.upsertPolicy({
      namespace: 'shop',
      name: 'policy-2',
      generation: 1,
      creationTimestamp: undefined,
      spec: { ...policySpec(2, 'two.test'), response: { identityHeaders: { consumerId: 'X-Partner-Id' } } },
      origin: 'test',
    });
    store.flush();
    const later = allowOf(store.index, 'one.test', 'key-one');
    assert.deepEqual(later.setHeaders, first.setHeaders);
    assert.ok(later.removeHeaders.includes('x-partner-id'), later.removeHeaders.join(', '));
  });
});

describe('a flood of unknown keys, refused with one prepared answer per policy', () => {
  it('each policy refuses an unknown key with its own realm, the same answer every time', () => {
    const store = bigStore();
    const refusal = (host: string): unknown => {
      const input = new CheckInput({ method: 'GET', scheme: 'https', host, path: '/', headers: new Map([['apikey', 'nobody-has-this']]), peer: '127.0.0.1' });
      const decision = pipeline.decide(store.index, input, Date.now());
      assert.ok(!(decision instanceof Promise) && decision.kind === 'deny', 'a deny');
      return { status: decision.status, code: decision.code, policy: decision.policy, headers: decision.headers, body: decision.body };
    };
    const expected = (p: number): unknown => ({
      status: 401,
      code: 'key_unknown',
      policy: `shop/policy-${p}`,
      headers: [
        { name: 'www-authenticate', value: `Key realm="p${p}.test"` },
        { name: 'content-type', value: 'application/json' },
      ],
      body: '{"code":"key_unknown","message":"Invalid authentication credentials"}',
    });
    for (let round = 0; round < 3; round++) {
      assert.deepEqual(refusal('p1.test'), expected(1));
      assert.deepEqual(refusal('p2.test'), expected(2));
    }
  });
});
