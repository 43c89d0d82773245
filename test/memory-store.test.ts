// The store's compact forms (config/held-secret.ts, config/shared.ts): a Secret is held as its key
// digests and consumer fields, label sets and compiled pieces are shared. What serves must be exactly
// what the Secrets and policies say, through every change.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { describe, it } from 'node:test';
import { HeldSecret } from '../src/config/held-secret.js';
import type { PolicyResource, SecretResource } from '../src/config/resources.js';
import { SecretIndex } from '../src/config/secrets.js';
import type { Allow } from '../src/core/decision.js';
import type { Identity } from '../src/core/identity.js';
import { CheckInput } from '../src/core/input.js';
import { Pipeline } from '../src/core/pipeline.js';
import type { CompiledPolicy } from '../src/core/ports.js';
import { MethodNotAllowed } from '../src/core/route.js';
import { PolicyStore } from '../src/policy/store.js';

const pipeline = new Pipeline({ onNoPolicy: 'deny' });

function keySecret(name: string, group: string, key: string, annotations: Record<string, string> = {}): SecretResource {
  return {
    namespace: 'shop',
    name,
    labels: { 'gatehouse.dev/credential': group },
    annotations,
    data: new Map([['api_key', Buffer.from(key)]]),
    origin: 'test',
  };
}

function keysPolicy(name: string, host: string, group: string, extra: Record<string, unknown> = {}): PolicyResource {
  return {
    namespace: 'shop',
    name,
    generation: 1,
    creationTimestamp: undefined,
    origin: 'test',
    spec: { hosts: [host], authentication: { methods: [{ name: 'keys', apiKey: { from: [{ header: 'apikey' }], selector: { matchLabels: { 'gatehouse.dev/credential': group } } } }] }, ...extra },
  };
}

/** A synced store of these policies and Secrets. */
function synced(policies: ReadonlyArray<PolicyResource>, secrets: readonly SecretResource[]): PolicyStore {
  const store = new PolicyStore({ clock: Date.now });
  for (const p of policies) store.upsertPolicy(p);
  for (const s of secrets) store.upsertSecret(s);
  store.markSynced();
  return store;
}

function decide(store: PolicyStore, host: string, key: string, path = '/'): ReturnType<Pipeline['decide']> {
  store.flush();
  const input = new CheckInput({ method: 'GET', scheme: 'https', host, path, headers: new Map([['apikey', key]]), peer: '127.0.0.1' });
  return pipeline.decide(store.index, input, Date.now());
}

function answer(store: PolicyStore, host: string, key: string): string {
  const d = decide(store, host, key);
  assert.ok(!(d instanceof Promise), 'an API key decision is synchronous');
  return d.kind === 'allow' ? `allow ${d.identity?.consumerId ?? '(none)'}` : `${d.kind} ${d.status}`;
}

function allowOf(store: PolicyStore, host: string, key: string): Allow & { readonly identity: Identity } {
  const d = decide(store, host, key);
  assert.ok(!(d instanceof Promise) && d.kind === 'allow' && d.identity !== undefined, 'an allow with an identity');
  return { ...d, identity: d.identity };
}

function policyOf(store: PolicyStore, host: string): CompiledPolicy {
  store.flush();
  const route = store.index?.lookup(new CheckInput({ method: 'GET', scheme: 'https', host, path: '/', headers: new Map(), peer: '127.0.0.1' }));
  assert.ok(route !== undefined && !(route instanceof MethodNotAllowed), `a policy for ${host}`);
  return route;
}

describe('the store holds Secrets as key digests and consumer fields', () => {
  it('a Secret rotated, removed and re-added is seen exactly, each time at once', () => {
    const store = synced(
      [keysPolicy('p', 'p.test', 'g')],
      [keySecret('alice', 'g', 'key-1')],
    );
    assert.equal(answer(store, 'p.test', 'key-1'), 'allow alice');

    store.upsertSecret(keySecret('alice', 'g', 'key-2'));
    assert.equal(answer(store, 'p.test', 'key-2'), 'allow alice');
    assert.equal(answer(store, 'p.test', 'key-1'), 'deny 401');

    store.deleteSecret('shop', 'alice');
    assert.equal(answer(store, 'p.test', 'key-2'), 'deny 401');
    assert.equal(store.secretCount, 0);

    store.upsertSecret(keySecret('alice', 'g', 'key-1', { 'gatehouse.dev/consumer-id': ' Alice ' }));
    assert.equal(answer(store, 'p.test', 'key-1'), 'allow Alice');
    assert.equal(answer(store, 'p.test', 'key-2'), 'deny 401');
    assert.equal(store.secretCount, 1);
  });

  it("a Secret's identity is made when a Check first presents one of its keys, then shared by its keys; every key keeps its own consumer (200 Secrets, 2 keys each, shuffled)", () => {
    const secrets = Array.from({ length: 200 }, (_, i) => keySecret(`c${i}`, 'g', `k${i}a\nk${i}b`));
    // zz also lists c0's first key: c0 keeps it (first by name), and zz's first Check must not take it.
    const store = synced([keysPolicy('p', 'p.test', 'g')], [...secrets, keySecret('zz', 'g', 'k0a\nzz-own')]);
    assert.equal(allowOf(store, 'p.test', 'zz-own').identity.consumerId, 'zz');
    assert.equal(allowOf(store, 'p.test', 'k0a').identity.consumerId, 'c0');
    let seed = 7;
    const next = (n: number): number => ((seed = (seed * 1103515245 + 12345) % 2147483648), seed % n);
    const keys = secrets.flatMap((_, i) => [`k${i}a`, `k${i}b`]);
    for (let i = keys.length - 1; i > 0; i--) {
      const j = next(i + 1);
      [keys[i], keys[j]] = [keys[j] as string, keys[i] as string];
    }
    const first = new Map<string, Identity>();
    for (const key of keys) first.set(key, allowOf(store, 'p.test', key).identity);
    for (const key of keys.slice().reverse()) {
      const identity = allowOf(store, 'p.test', key).identity;
      assert.equal(identity, first.get(key), `the identity made for ${key} is reused`);
      const sibling = key.endsWith('a') ? `${key.slice(0, -1)}b` : `${key.slice(0, -1)}a`;
      assert.equal(identity, first.get(sibling), `${key} and ${sibling} are one Secret's keys: one identity`);
      assert.equal(identity.consumerId, `c${key.slice(1, -1)}`);
      assert.ok(Object.isFrozen(identity));
    }
    assert.equal(answer(store, 'p.test', 'k200a'), 'deny 401');
    // A rotation recompiles the policy: the new key gets a new identity, the old one is refused.
    store.upsertSecret(keySecret('c5', 'g', 'k5z'));
    assert.equal(answer(store, 'p.test', 'k5a'), 'deny 401');
    assert.notEqual(allowOf(store, 'p.test', 'k5z').identity, first.get('k5a'));
    assert.equal(allowOf(store, 'p.test', 'k6b').identity.consumerId, 'c6');
  });

  it('a Secret that moves to another label group leaves one policy and joins the other', () => {
    const store = synced(
      [keysPolicy('a', 'a.test', 'ga'), keysPolicy('b', 'b.test', 'gb')],
      [keySecret('bob', 'ga', 'bob-key')],
    );
    assert.equal(answer(store, 'a.test', 'bob-key'), 'allow bob');
    assert.equal(answer(store, 'b.test', 'bob-key'), 'deny 401');
    store.upsertSecret(keySecret('bob', 'gb', 'bob-key'));
    assert.equal(answer(store, 'a.test', 'bob-key'), 'deny 401');
    assert.equal(answer(store, 'b.test', 'bob-key'), 'allow bob');
  });

  it('consumer fields come from the annotations, trimmed, and reach the upstream headers', () => {
    const store = synced(
      [keysPolicy('p', 'p.test', 'g')],
      [
        keySecret('carol', 'g', 'carol-key', {
          'gatehouse.dev/consumer-id': 'c-1',
          'gatehouse.dev/consumer-username': ' carol ',
          'gatehouse.dev/consumer-custom-id': 'crm-9',
          'gatehouse.dev/groups': 'gold, ,partners',
          'gatehouse.dev/credential-id': 'carol-2026',
        }),
        keySecret('dave', 'g', 'dave-key'),
      ],
    );
    const carol = allowOf(store, 'p.test', 'carol-key');
    assert.deepEqual(
      { consumerId: carol.identity.consumerId, username: carol.identity.username, customId: carol.identity.customId, credential: carol.identity.credential, groups: carol.identity.groups, method: carol.identity.method },
      { consumerId: 'c-1', username: 'carol', customId: 'crm-9', credential: 'carol-2026', groups: ['gold', 'partners'], method: 'keys' },
    );
    assert.deepEqual(carol.setHeaders, [
      { name: 'x-consumer-id', value: 'c-1' },
      { name: 'x-consumer-username', value: 'carol' },
      { name: 'x-consumer-custom-id', value: 'crm-9' },
      { name: 'x-credential-identifier', value: 'carol-2026' },
      { name: 'x-authenticated-groups', value: 'gold, partners' },
    ]);
    const dave = allowOf(store, 'p.test', 'dave-key');
    assert.deepEqual(
      { consumerId: dave.identity.consumerId, username: dave.identity.username, credential: dave.identity.credential, groups: dave.identity.groups },
      { consumerId: 'dave', username: undefined, credential: 'shop/dave', groups: [] },
    );
    assert.ok(Object.isFrozen(dave.identity));
  });

  it('a held Secret keeps SHA-256 digests of its keys, never the keys, and notes the invalid lines', () => {
    const digest = createHash('sha256').update('k2').digest('hex');
    const held = new HeldSecret(keySecret('e', 'g', `k1\n\n  not-a-digest-but-a-key  \nsha256:${digest}\nsha256:xyz\n`));
    const expected = [createHash('sha256').update('k1').digest(), createHash('sha256').update('not-a-digest-but-a-key').digest(), Buffer.from(digest, 'hex')];
    assert.equal(held.digests, Buffer.concat(expected).toString('latin1'));
    assert.deepEqual(held.invalidLines, [3]);
    assert.equal(held.data.size, 0, 'a Secret of only api_key holds no bytes');
    assert.equal(held.same(new HeldSecret(keySecret('e', 'g', `k1\nnot-a-digest-but-a-key\nsha256:${digest.toUpperCase()}\nsha256:xyz`))), true);
    assert.equal(held.same(new HeldSecret(keySecret('e', 'g', 'k1'))), false);
  });

  it('a Secret with entries besides api_key keeps them all as bytes (JWT and session Secrets read by name)', () => {
    const secret: SecretResource = { ...keySecret('mixed', 'g', 'k1'), data: new Map([['api_key', Buffer.from('k1')], ['hmac', Buffer.from('s3cret')]]) };
    const held = new HeldSecret(secret);
    assert.deepEqual([...held.data.keys()].sort(), ['api_key', 'hmac']);
    assert.equal(held.data.get('hmac')?.toString(), 's3cret');
    assert.equal(held.digests, createHash('sha256').update('k1').digest().toString('latin1'));
  });

  it('a JWT secretRef naming the api_key entry of a key-only Secret does not compile: that entry is held as digests', () => {
    const store = synced(
      [
        {
          ...keysPolicy('j', 'j.test', 'g'),
          spec: { hosts: ['j.test'], authentication: { methods: [{ name: 'jwt', jwt: { algorithms: ['HS256'], secretRef: { name: 'keys-only', key: 'api_key' } } }] } },
        },
      ],
      [keySecret('keys-only', 'g', 'x'.repeat(40))],
    );
    const status = store.status('shop', 'j');
    assert.deepEqual([status?.ready, status?.reason], [false, 'Invalid']);
    assert.equal(status?.message, 'spec.authentication.methods[0].jwt.secretRef: Secret shop/keys-only has no entry "api_key"; its hosts are denied until it is fixed');
  });

  it('the invalid lines of a key Secret are warned about in line order, with the duplicates', () => {
    const store = synced(
      [keysPolicy('p', 'p.test', 'g')],
      [keySecret('a', 'g', 'dup\nsha256:00\nb-key'), keySecret('b', 'g', 'sha256:zz\ndup')],
    );
    const messages = store.status('shop', 'p')?.problems.map((p) => p.message);
    assert.deepEqual(messages, [
      'spec.authentication.methods[0].apiKey.selector: Secret shop/a (test): line 2 of `api_key` is not a valid key (sha256: needs 64 hex digits; at most 4096 bytes)',
      'spec.authentication.methods[0].apiKey.selector: Secret shop/b (test): line 1 of `api_key` is not a valid key (sha256: needs 64 hex digits; at most 4096 bytes)',
      'spec.authentication.methods[0].apiKey.selector: Secret shop/b (test): a key is also held by consumer a; the first Secret by name keeps it',
    ]);
    assert.equal(answer(store, 'p.test', 'dup'), 'allow a');
    assert.equal(answer(store, 'p.test', 'b-key'), 'allow a');
  });
});

describe('the Secret index shares placements', () => {
  it('one label set across many namespaces and origins: each Secret keeps its own place, released with the last Secret', () => {
    const index = new SecretIndex();
    const made: { ns: string; origin: string; name: string }[] = [];
    for (let n = 0; n < 30; n++) for (const origin of ['a.yaml', 'b.yaml']) for (let i = 0; i < 3; i++) made.push({ ns: `ns-${n}`, origin, name: `s-${origin[0]}-${i}` });
    // A fixed shuffle (linear congruential), so that puts and deletes interleave namespaces and origins.
    let seed = 7;
    const shuffled = <T>(xs: readonly T[]): T[] => {
      const out = [...xs];
      for (let i = out.length - 1; i > 0; i--) {
        seed = (seed * 1103515245 + 12345) % 2147483648;
        const j = seed % (i + 1);
        [out[i], out[j]] = [out[j] as T, out[i] as T];
      }
      return out;
    };
    for (const m of shuffled(made)) index.put({ ...keySecret(m.name, 'g', 'k'), namespace: m.ns, origin: m.origin });
    const first = index.get('ns-0', 's-a-0');
    assert.ok(first !== undefined);
    for (const m of made) {
      const held = index.get(m.ns, m.name);
      assert.deepEqual([held?.namespace, held?.origin, held?.name], [m.ns, m.origin, m.name]);
      assert.equal(held?.labels, first.labels);
    }
    const order = shuffled(made);
    for (const [k, m] of order.entries()) {
      index.delete(m.ns, m.name);
      // What stays keeps its place while others leave.
      for (const r of order.slice(k + 1, k + 4)) assert.deepEqual([index.get(r.ns, r.name)?.namespace, index.get(r.ns, r.name)?.origin], [r.ns, r.origin]);
    }
    assert.equal(index.size, 0);
    index.put(keySecret('again', 'g', 'k'));
    assert.notEqual(index.get('shop', 'again')?.labels, first.labels, 'a label set no Secret holds is not kept');
  });

  it('Secrets with equal namespace, origin and labels hold one frozen label object, released with the last of them', () => {
    const index = new SecretIndex();
    index.put(keySecret('a', 'g', 'k'));
    index.put(keySecret('b', 'g', 'k'));
    const a = index.get('shop', 'a');
    const b = index.get('shop', 'b');
    assert.ok(a !== undefined && b !== undefined);
    assert.equal(a.labels, b.labels);
    assert.ok(Object.isFrozen(a.labels));
    // Placements (namespace, labels, origin) hold the one label object; each Secret reads its own.
    index.put({ ...keySecret('o', 'g', 'k'), origin: 'other.yaml' });
    index.put({ ...keySecret('n', 'g', 'k'), namespace: 'web' });
    const o = index.get('shop', 'o');
    const n = index.get('web', 'n');
    assert.deepEqual([a.namespace, a.origin, o?.namespace, o?.origin, n?.namespace, n?.origin], ['shop', 'test', 'shop', 'other.yaml', 'web', 'test']);
    assert.equal(o?.labels, a.labels);
    assert.equal(n?.labels, a.labels);
    assert.deepEqual(index.select('shop', { matchLabels: { 'gatehouse.dev/credential': 'g' }, requirements: [] }).map((s) => `${s.name} ${s.origin}`), ['a test', 'b test', 'o other.yaml']);
    index.delete('shop', 'o');
    index.delete('web', 'n');
    index.delete('shop', 'a');
    index.delete('shop', 'b');
    index.put(keySecret('c', 'g', 'k'));
    assert.notEqual(index.get('shop', 'c')?.labels, a.labels, 'a label set no Secret holds is not kept');
    assert.deepEqual(index.keys(), ['shop/c']);
    assert.deepEqual(index.select('shop', { matchLabels: { 'gatehouse.dev/credential': 'g' }, requirements: [] }).map((s) => s.name), ['c']);
    assert.equal(index.size, 1);
  });
});

describe('policies share equal compiled pieces', () => {
  it('two policies with equal pieces share them, and stay independent when one changes', () => {
    const store = new PolicyStore({ clock: Date.now });
    const denied = { response: { unauthenticated: { status: 401, body: { text: 'who are you?' } } } };
    store.upsertPolicy(keysPolicy('a', 'a.test', 'ga', denied));
    store.upsertPolicy(keysPolicy('b', 'b.test', 'gb', denied));
    store.upsertSecret(keySecret('alice', 'ga', 'alice-key'));
    store.upsertSecret(keySecret('bob', 'gb', 'bob-key'));
    store.markSynced();
    const [a, b] = [policyOf(store, 'a.test'), policyOf(store, 'b.test')];
    assert.equal(a.unauthenticated, b.unauthenticated);
    assert.equal(a.paths, b.paths);
    assert.equal(a.identityHeaders, b.identityHeaders);
    assert.ok(Object.isFrozen(a.unauthenticated) && Object.isFrozen(a.unauthenticated.headers));

    store.upsertPolicy(keysPolicy('b', 'b.test', 'gb', { response: { unauthenticated: { status: 401, body: { text: 'sign in first' } } }, paths: ['/api'] }));
    const d = decide(store, 'a.test', 'wrong');
    assert.ok(!(d instanceof Promise) && d.kind === 'deny');
    assert.deepEqual([d.status, d.body], [401, 'who are you?']);
    const e = decide(store, 'b.test', 'wrong', '/api');
    assert.ok(!(e instanceof Promise) && e.kind === 'deny');
    assert.deepEqual([e.status, e.body], [401, 'sign in first']);
    assert.deepEqual(policyOf(store, 'a.test').paths, ['/']);
    assert.equal(answer(store, 'a.test', 'alice-key'), 'allow alice');
    assert.equal(answer(store, 'a.test', 'bob-key'), 'deny 401');
  });
});

/** Whether V8 gives two objects one hidden class (a class of its own per object costs ~100-300 bytes). */
function sameShape(a: unknown, b: unknown): boolean {
  setFlagsFromString('--allow-natives-syntax');
  const native = new Function('a', 'b', 'return %HaveSameMap(a, b)') as (a: unknown, b: unknown) => boolean;
  setFlagsFromString('--no-allow-natives-syntax');
  return native(a, b);
}

describe('objects held per policy and per label set share their shapes', () => {
  it('the label sets of Secrets in many groups share one V8 hidden class', () => {
    const index = new SecretIndex();
    for (let i = 0; i < 50; i++) index.put(keySecret(`s${i}`, `g${i}`, `key-${i}`));
    const held = Array.from({ length: 50 }, (_, i) => index.get('shop', `s${i}`));
    const labels = held.map((h) => h?.labels);
    assert.deepEqual(labels[49], { 'gatehouse.dev/credential': 'g49' });
    assert.ok(labels.every((l) => l !== undefined && Object.isFrozen(l)));
    assert.deepEqual(
      labels.filter((l) => !sameShape(l, labels[0])).map((l) => l?.['gatehouse.dev/credential']),
      [],
    );
  });

  it('the statuses of many policies, ready or not, share one V8 hidden class', () => {
    const policies = Array.from({ length: 50 }, (_, i) => ({ ...keysPolicy(`p${i}`, `p${i}.test`, `g${i}`), generation: 1 + (i % 3) }));
    const store = synced([...policies, { ...keysPolicy('broken', 'broken.test', 'gx'), spec: { hosts: ['broken.test'] } }], [keySecret('alice', 'g0', 'alice-key')]);
    store.flush();
    const statuses = store.statuses();
    assert.equal(statuses.length, 51);
    assert.deepEqual(
      statuses.map((s) => s.reason).filter((r, i, all) => all.indexOf(r) === i),
      ['Compiled', 'Invalid'],
    );
    const [first] = statuses;
    assert.ok(first !== undefined);
    assert.deepEqual(
      statuses.filter((s) => !sameShape(s, first)).map((s) => s.name),
      [],
    );
  });
});
