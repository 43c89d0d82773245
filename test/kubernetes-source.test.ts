// The Kubernetes source against the fake API server with the real client: AuthPolicies and Secrets
// reach the store as they are created, changed and deleted; namespaces and selectors scope what is read.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { eventually } from './support/eventually.js';
import { authPolicy, CREDENTIAL, keyMethod, keyPolicy, keySecret, keySpec, secret } from './support/fixtures.js';
import { readyOf, relabel, startFakeServer, startSource, withKeys, withSpec } from './support/kubernetes-kit.js';
import { policyOf } from './support/route.js';

const TIMEOUT = { timeout: 30_000 };

test('policies created, changed and deleted in the cluster are served without a restart', TIMEOUT, async (t) => {
  const server = await startFakeServer(t);
  server.create(keyPolicy('shop', 'api', 'api.example.com'));
  server.create(keySecret('shop', 'acme', 'acme-key-1', 'acme'));
  const { source, store } = startSource(t, server);
  await source.whenSynced();
  assert.equal(policyOf(store.index, 'api.example.com', '/', 'GET')?.id, 'shop/api');
  assert.equal(store.index?.keyCount, 1);

  server.create(keyPolicy('shop', 'web', 'web.example.com'));
  await eventually(() => policyOf(store.index, 'web.example.com', '/', 'GET')?.id === 'shop/web', 5000, 'the created policy');

  withSpec(server, 'shop', 'web', keySpec('www.example.com'));
  await eventually(() => policyOf(store.index, 'www.example.com', '/', 'GET')?.id === 'shop/web', 5000, 'the changed host');
  assert.equal(policyOf(store.index, 'web.example.com', '/', 'GET'), undefined);
  assert.equal(store.status('shop', 'web')?.observedGeneration, 2);

  server.delete('AuthPolicy', 'shop', 'web');
  await eventually(() => policyOf(store.index, 'www.example.com', '/', 'GET') === undefined, 5000, 'the deletion');
  assert.equal(store.status('shop', 'web'), undefined);
  assert.deepEqual(store.statuses().map((s) => s.id), ['shop/api']);
});

test('an invalid update keeps the last good generation serving and the status names the field', TIMEOUT, async (t) => {
  const server = await startFakeServer(t);
  server.create(keyPolicy('shop', 'api', 'api.example.com'));
  server.create(keySecret('shop', 'acme', 'acme-key-1', 'acme'));
  const { source, store } = startSource(t, server);
  await source.whenSynced();
  await eventually(() => readyOf(server, 'shop', 'api')?.status === 'True', 5000, 'the first Ready status');

  const spec = keySpec('api.example.com');
  withSpec(server, 'shop', 'api', { ...spec, authentication: { mode: 'sometimes', methods: [] } });
  await eventually(() => readyOf(server, 'shop', 'api')?.status === 'False', 5000, 'the Invalid status');
  const ready = readyOf(server, 'shop', 'api');
  assert.equal(ready?.reason, 'Invalid');
  assert.equal(ready?.observedGeneration, 2);
  assert.match(String(ready?.message), /^spec\.authentication\.mode: .*; serving the last valid generation 1$/);
  assert.equal(store.status('shop', 'api')?.serving, 'last-good');
  // The last good version still holds its key.
  assert.equal(policyOf(store.index, 'api.example.com', '/', 'GET')?.id, 'shop/api');
  assert.equal(store.index?.keyCount, 1);

  withSpec(server, 'shop', 'api', spec);
  await eventually(() => readyOf(server, 'shop', 'api')?.status === 'True', 5000, 'the fixed policy');
  assert.deepEqual({ ...readyOf(server, 'shop', 'api'), lastTransitionTime: '-' }, {
    type: 'Ready', status: 'True', reason: 'Compiled', message: '', lastTransitionTime: '-', observedGeneration: 3,
  });
});

test('a rotated Secret swaps keys and a deleted Secret revokes its keys at once', TIMEOUT, async (t) => {
  const server = await startFakeServer(t);
  server.create(keyPolicy('shop', 'api', 'api.example.com'));
  server.create(keySecret('shop', 'acme', 'acme-key-1', 'acme'));
  server.create(keySecret('shop', 'globex', 'globex-key-1', 'globex'));
  const { source, store } = startSource(t, server);
  await source.whenSynced();
  assert.equal(store.index?.keyCount, 2);

  withKeys(server, 'shop', 'acme', 'acme-key-2\nacme-key-3');
  await eventually(() => store.index?.keyCount === 3, 5000, 'the rotated keys');

  server.delete('Secret', 'shop', 'globex');
  await eventually(() => store.index?.keyCount === 2, 5000, 'the revoked key');
  assert.equal(store.secretCount, 1);
});

test('a host claimed by two policies: the younger one reports HostConflict naming the older', TIMEOUT, async (t) => {
  const server = await startFakeServer(t);
  // Seeded as created long ago; the younger sorts first by name, so only age makes the incumbent win.
  server.create(authPolicy('shop', 'incumbent', keySpec('api.example.com'), { creationTimestamp: '2024-01-01T00:00:00Z' }));
  const { source, store } = startSource(t, server);
  await source.whenSynced();
  server.create(keyPolicy('shop', 'challenger', 'api.example.com'));
  await eventually(() => readyOf(server, 'shop', 'challenger')?.reason === 'HostConflict', 5000, 'the conflict status');
  assert.equal(readyOf(server, 'shop', 'challenger')?.status, 'False');
  assert.equal(readyOf(server, 'shop', 'challenger')?.message, 'host api.example.com path / is already served by shop/incumbent');
  assert.equal(readyOf(server, 'shop', 'incumbent')?.status, 'True');
  assert.equal(policyOf(store.index, 'api.example.com', '/', 'GET')?.id, 'shop/incumbent');

  server.delete('AuthPolicy', 'shop', 'incumbent');
  await eventually(() => readyOf(server, 'shop', 'challenger')?.status === 'True', 5000, 'the conflict resolved');
  assert.equal(policyOf(store.index, 'api.example.com', '/', 'GET')?.id, 'shop/challenger');
});

test('with --watch-namespace only those namespaces are read, one informer per namespace', TIMEOUT, async (t) => {
  const server = await startFakeServer(t);
  server.create(keyPolicy('team-a', 'a', 'a.example.com'));
  server.create(keyPolicy('team-b', 'b', 'b.example.com'));
  server.create(keyPolicy('team-c', 'c', 'c.example.com'));
  server.create(keySecret('team-a', 'key-a', 'ka', 'a'));
  server.create(keySecret('team-b', 'key-b', 'kb', 'b'));
  const { source, store } = startSource(t, server, { namespaces: ['team-a', 'team-c', 'team-a'] });
  await source.whenSynced();
  assert.deepEqual(server.stats.listsByResource, { authpolicies: 2, secrets: 2 });
  server.create(keyPolicy('team-b', 'b2', 'b2.example.com'));
  server.create(keyPolicy('team-c', 'c2', 'c2.example.com'));
  // b2 was created first: a watch that could see team-b would have delivered it before c2.
  await eventually(() => store.status('team-c', 'c2') !== undefined, 5000, 'the watched namespace');
  assert.deepEqual(store.statuses().map((s) => s.id).sort(), ['team-a/a', 'team-c/c', 'team-c/c2']);
  assert.equal(store.secretCount, 1);
  assert.equal(server.get('AuthPolicy', 'team-b', 'b')?.status, undefined, 'no status on an ignored policy');
});

test('--policy-selector shards policies; Secrets are read only with the gatehouse.dev/credential label', TIMEOUT, async (t) => {
  const server = await startFakeServer(t);
  server.create(keyPolicy('shop', 'mine', 'mine.example.com', 'partners', { shard: 'one' }));
  server.create(keyPolicy('shop', 'theirs', 'theirs.example.com', 'partners', { shard: 'two' }));
  server.create(keySecret('shop', 'labelled', 'k1', 'c1'));
  server.create(secret('shop', 'unrelated', { password: 'hunter2' }));
  const { source, store } = startSource(t, server, { policySelector: 'shard=one' });
  await source.whenSynced();
  assert.equal(source.secretSelector, CREDENTIAL);
  assert.deepEqual(store.statuses().map((s) => s.id), ['shop/mine']);
  assert.equal(store.secretCount, 1);

  // A policy relabelled out of the shard leaves the selection: a DELETED event for this replica.
  relabel(server, 'AuthPolicy', 'shop', 'mine', { shard: 'two' });
  await eventually(() => store.statuses().length === 0, 5000, 'the policy leaving the shard');
  assert.equal(policyOf(store.index, 'mine.example.com', '/', 'GET'), undefined);
});

test('a policy referencing an unlabelled Secret by name reports SecretMissing with the label rule', TIMEOUT, async (t) => {
  const server = await startFakeServer(t);
  const spec = { hosts: ['shop.example.com'], authentication: { methods: [keyMethod()] }, session: { storage: 'cookie', secretRef: { name: 'shop-session' } } };
  server.create(authPolicy('shop', 'web', spec));
  server.create(secret('shop', 'shop-session', { k1: 'x'.repeat(48) }));
  const { source, store } = startSource(t, server);
  await source.whenSynced();
  await eventually(() => readyOf(server, 'shop', 'web') !== undefined, 5000, 'the status');
  const ready = readyOf(server, 'shop', 'web');
  assert.equal(ready?.reason, 'SecretMissing');
  assert.match(String(ready?.message), /shop-session/);
  assert.match(String(ready?.message), / \(gatehouse reads only Secrets labelled to match "gatehouse\.dev\/credential"\)$/);

  // Labelling the Secret is enough: it enters the selection and the policy compiles.
  relabel(server, 'Secret', 'shop', 'shop-session', { [CREDENTIAL]: 'session' });
  await eventually(() => readyOf(server, 'shop', 'web')?.status === 'True', 5000, 'the policy with its Secret');
  assert.equal(store.status('shop', 'web')?.reason, 'Compiled');
});
