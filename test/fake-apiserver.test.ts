// The fake API server driven by the client gatehouse itself uses (its KubernetesApi, for watch
// streams and status merge patches), and raw HTTP for the list/watch
// protocol details gatehouse depends on (selectors, pagination, bookmarks, 410, patch formats, refusals).
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { KubernetesApi, KubernetesApiError, type OpenWatch, type WatchParams } from '../src/sources/kubernetes-api.js';
import { eventually } from './support/eventually.js';
import { at, download, names, POLICIES_PATH, raw, type FakeApiServer } from './support/fake-apiserver/index.js';
import { authPolicy, CREDENTIAL, secret } from './support/fixtures.js';
import { startFakeServer } from './support/kubernetes-kit.js';

const TEST_TIMEOUT = { timeout: 20_000 };

interface WatchLog {
  /** `TYPE:namespace/name` per event, in order. */
  readonly lines: string[];
  readonly objects: unknown[];
  /** How the watch ended: null for a clean end, else the error. */
  readonly done: Promise<unknown>;
}

/** A watch opened as gatehouse's informers open theirs, ended when the test is. */
async function openWatch(t: TestContext, server: FakeApiServer, path: string, params: WatchParams, onEvent: (type: string, object: unknown) => void): Promise<OpenWatch> {
  const controller = new AbortController();
  t.after(() => controller.abort());
  return new KubernetesApi(server.kubeConfig()).watch(path, params, onEvent, controller.signal);
}

/** `namespace/name:resourceVersion` of an event's object. */
function objectName(object: unknown): { namespace: string; name: string; rv: string } {
  return { namespace: String(at(object, 'metadata', 'namespace') ?? ''), name: String(at(object, 'metadata', 'name') ?? ''), rv: String(at(object, 'metadata', 'resourceVersion') ?? '') };
}

/** A watch recording its events. */
async function watchLog(t: TestContext, server: FakeApiServer, path: string, params: WatchParams = {}): Promise<WatchLog> {
  const lines: string[] = [];
  const objects: unknown[] = [];
  const { ended: done } = await openWatch(t, server, path, params, (type, object) => {
    const { namespace, name } = objectName(object);
    lines.push(`${type}:${namespace}/${name}`);
    objects.push(object);
  });
  return { lines, objects, done };
}

test('a watch with a label selector sees Secrets enter the selection as ADDED and leave it as DELETED', TEST_TIMEOUT, async (t) => {
  const server = await startFakeServer(t);
  const selector = `${CREDENTIAL} in (partner-keys),tier!=retired`;
  server.create(secret('shop', 'in-1', { key: 'k1' }, { labels: { [CREDENTIAL]: 'partner-keys' } }));
  server.create(secret('shop', 'out-1', { key: 'k2' }, { labels: { [CREDENTIAL]: 'other' } }));
  const listed = await raw(server, `/api/v1/secrets?labelSelector=${encodeURIComponent(selector)}`);
  assert.deepEqual(names(listed.body), ['shop/in-1']);
  const [item] = at(listed.body, 'items') as unknown[];
  assert.deepEqual([at(item, 'kind'), at(item, 'type')], [undefined, 'Opaque'], 'built-in list items carry no kind, as on a real server');
  const watch = await watchLog(t, server, '/api/v1/secrets', { labelSelector: selector, resourceVersion: String(at(listed.body, 'metadata', 'resourceVersion')) });

  const relabel = (name: string, labels: Record<string, string>): void => {
    const current = server.get('Secret', 'shop', name);
    server.update({ ...current, metadata: { ...(at(current, 'metadata') as object), labels } });
  };
  relabel('out-1', { [CREDENTIAL]: 'partner-keys' });
  await eventually(() => watch.lines.length === 1, 5000, 'the Secret entering the selection');
  assert.equal(at(watch.objects[0], 'kind'), 'Secret', 'watch events carry kind');
  relabel('in-1', { [CREDENTIAL]: 'partner-keys', tier: 'retired' });
  server.create(secret('other', 'unselected', { key: 'k3' }));
  // A selected Secret created last: its event comes after any the unselected one could have caused.
  server.create(secret('other', 'selected', { key: 'k4' }, { labels: { [CREDENTIAL]: 'partner-keys' } }));
  await eventually(() => watch.lines.length >= 3, 5000, 'the Secret leaving the selection and the last one');
  assert.deepEqual(watch.lines, ['ADDED:shop/out-1', 'DELETED:shop/in-1', 'ADDED:other/selected']);
});

test('status merge patches, as gatehouse writes them, change only status, are recorded, and are refused when stale', TEST_TIMEOUT, async (t) => {
  const server = await startFakeServer(t);
  const created = server.create(authPolicy('shop', 'one', { hosts: ['shop.example.com'] }));
  const watch = await watchLog(t, server, POLICIES_PATH, { resourceVersion: server.resourceVersion });
  const api = new KubernetesApi(server.kubeConfig());
  const status = { observedGeneration: 1, conditions: [{ type: 'Ready', status: 'True' }] };
  const patched = await api.mergePatchStatus('authpolicies', 'shop', 'one', { status, spec: { hosts: ['evil.example.com'] } });
  assert.deepEqual(at(patched, 'status'), status);
  assert.deepEqual(at(patched, 'spec', 'hosts'), ['shop.example.com'], 'the status subresource ignores spec');
  assert.equal(at(patched, 'metadata', 'generation'), 1);
  assert.ok(Number(at(patched, 'metadata', 'resourceVersion')) > Number(at(created, 'metadata', 'resourceVersion')));

  const rv = server.resourceVersion;
  await api.mergePatchStatus('authpolicies', 'shop', 'one', { status });
  assert.equal(server.resourceVersion, rv, 'an unchanged status writes nothing');
  const stale = { resourceVersion: String(at(created, 'metadata', 'resourceVersion')) };
  await assert.rejects(
    api.mergePatchStatus('authpolicies', 'shop', 'one', { metadata: stale, status: { observedGeneration: 3 } }),
    (e: unknown) => e instanceof KubernetesApiError && e.status === 409 && e.reason === 'Conflict',
  );
  // The last write changes the status again; its event comes after any the earlier writes caused.
  await api.mergePatchStatus('authpolicies', 'shop', 'one', { metadata: { resourceVersion: rv }, status: { observedGeneration: 2 } });
  await eventually(() => watch.lines.length >= 2, 5000, 'the MODIFIED events of both changes');
  assert.deepEqual(watch.lines, ['MODIFIED:shop/one', 'MODIFIED:shop/one'], 'one event per change, none for the unchanged or refused write');
  assert.deepEqual(
    server.statusWrites.map((w) => [w.method, w.contentType, w.httpStatus, w.changed]),
    [
      ['PATCH', 'application/merge-patch+json', 200, true],
      ['PATCH', 'application/merge-patch+json', 200, false],
      ['PATCH', 'application/merge-patch+json', 409, false],
      ['PATCH', 'application/merge-patch+json', 200, true],
    ],
  );
  assert.deepEqual(server.statusWrites[3]?.status, { observedGeneration: 2, conditions: [{ type: 'Ready', status: 'True' }] });
});

test('a paused server cuts open watches and refuses connections until it resumes', TEST_TIMEOUT, async (t) => {
  const server = await startFakeServer(t);
  const cut = await watchLog(t, server, POLICIES_PATH);
  await eventually(() => server.stats.openWatches === 1, 5000, 'the open watch');
  await server.pause();
  assert.notEqual(await cut.done, null, 'the cut watch ends with an error, not cleanly');
  await assert.rejects(fetch(`${server.url}/healthz`), (err) => err instanceof TypeError);
  await server.resume();
  const again = await raw(server, POLICIES_PATH);
  assert.equal(again.status, 200);
  const resumed = await watchLog(t, server, POLICIES_PATH, { resourceVersion: String(at(again.body, 'metadata', 'resourceVersion')) });
  server.create(authPolicy('shop', 'after', { hosts: ['a.example.com'] }));
  await eventually(() => resumed.lines.length === 1, 5000, 'events after the resume');
  assert.deepEqual(resumed.lines, ['ADDED:shop/after']);
});

test('the raw watch stream reports an expired resourceVersion as a 410 Status inside a 200 response', TEST_TIMEOUT, async (t) => {
  const server = await startFakeServer(t);
  server.create(authPolicy('shop', 'one', { hosts: ['a.example.com'] }));
  server.update({ ...server.get('AuthPolicy', 'shop', 'one'), spec: { hosts: ['b.example.com'] } });
  server.compact();
  const events: Array<{ type: string; object: unknown }> = [];
  const { ended: done } = await openWatch(t, server, POLICIES_PATH, { resourceVersion: '1' }, (type, object) => events.push({ type, object }));
  assert.equal(await done, null, 'the stream ends cleanly');
  assert.equal(events.length, 1);
  assert.equal(events[0]?.type, 'ERROR');
  assert.deepEqual(events[0]?.object, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'too old resource version: 1 (2)', reason: 'Expired', code: 410 });
});

test('a watch sends BOOKMARK events carrying only the resourceVersion when asked', TEST_TIMEOUT, async (t) => {
  const server = await startFakeServer(t, { bookmarkIntervalMs: 100 });
  server.create(authPolicy('shop', 'one', { hosts: ['shop.example.com'] }));
  const withBookmarks: Array<{ type: string; object: unknown }> = [];
  const without: string[] = [];
  await openWatch(t, server, POLICIES_PATH, { allowWatchBookmarks: true, resourceVersion: server.resourceVersion }, (type, object) => withBookmarks.push({ type, object }));
  await openWatch(t, server, POLICIES_PATH, { resourceVersion: server.resourceVersion }, (type) => without.push(type));
  await eventually(() => withBookmarks.length >= 2, 5000, 'two bookmarks');
  server.create(authPolicy('shop', 'two', { hosts: ['two.example.com'] }));
  await eventually(() => withBookmarks.some((e) => e.type === 'ADDED') && withBookmarks.at(-1)?.type === 'BOOKMARK', 5000, 'a bookmark after the event');
  assert.deepEqual(withBookmarks[0], { type: 'BOOKMARK', object: { apiVersion: 'gatehouse.dev/v1alpha1', kind: 'AuthPolicy', metadata: { resourceVersion: '1' } } });
  assert.deepEqual(withBookmarks.at(-1)?.object, { apiVersion: 'gatehouse.dev/v1alpha1', kind: 'AuthPolicy', metadata: { resourceVersion: '2' } });
  assert.deepEqual(without, ['ADDED']);
});

test('a watch starts with ADDED for RV 0, resumes after a given RV and ends at timeoutSeconds', TEST_TIMEOUT, async (t) => {
  const server = await startFakeServer(t);
  server.create(authPolicy('shop', 'one', { hosts: ['a.example.com'] }));
  server.create(authPolicy('shop', 'two', { hosts: ['b.example.com'] }));
  const after = server.resourceVersion;
  server.update({ ...server.get('AuthPolicy', 'shop', 'one'), spec: { hosts: ['c.example.com'] } });
  server.delete('AuthPolicy', 'shop', 'two');
  const collect = async (params: Record<string, string | number>): Promise<{ lines: string[]; ms: number }> => {
    const lines: string[] = [];
    const started = Date.now();
    const { ended } = await openWatch(t, server, POLICIES_PATH, { ...params, timeoutSeconds: 1 }, (type, object) => {
      const { name, rv } = objectName(object);
      lines.push(`${type}:${name}:${rv}`);
    });
    assert.equal(await ended, null, 'timeoutSeconds ends the stream cleanly');
    return { lines, ms: Date.now() - started };
  };
  const fromZero = await collect({ resourceVersion: '0' });
  assert.deepEqual(fromZero.lines, ['ADDED:one:3']);
  assert.ok(fromZero.ms >= 900 && fromZero.ms < 3000, `timeoutSeconds=1 closed the stream after ${fromZero.ms} ms`);
  const resumed = await collect({ resourceVersion: after });
  assert.deepEqual(resumed.lines, ['MODIFIED:one:3', 'DELETED:two:4']);
});

test('label and field selectors follow the API grammar and bad ones get 400', TEST_TIMEOUT, async (t) => {
  const server = await startFakeServer(t);
  server.create(secret('a', 's1', { key: 'x' }, { labels: { app: 'shop', tier: 'web' } }));
  server.create(secret('a', 's2', { key: 'x' }, { labels: { app: 'shop' } }));
  server.create(secret('b', 's3', { key: 'x' }, { labels: { app: 'cart', tier: 'db' } }));
  server.create(secret('b', 's4', { key: 'x' }));
  const cases: Array<[string, string[]]> = [
    ['labelSelector=app%3Dshop', ['a/s1', 'a/s2']],
    ['labelSelector=app%3D%3Dshop', ['a/s1', 'a/s2']],
    ['labelSelector=app!%3Dshop', ['b/s3', 'b/s4']],
    ['labelSelector=app%20in%20(shop,cart),tier', ['a/s1', 'b/s3']],
    ['labelSelector=tier%20notin%20(web)', ['a/s2', 'b/s3', 'b/s4']],
    ['labelSelector=!tier', ['a/s2', 'b/s4']],
    ['fieldSelector=metadata.name%3Ds3', ['b/s3']],
    ['fieldSelector=metadata.namespace!%3Da,metadata.name!%3Ds3', ['b/s4']],
  ];
  for (const [query, expected] of cases) {
    const res = await raw(server, `/api/v1/secrets?${query}`);
    assert.equal(res.status, 200, query);
    assert.deepEqual(names(res.body), expected, query);
  }
  const namespaced = await raw(server, '/api/v1/namespaces/a/secrets?labelSelector=tier');
  assert.deepEqual(names(namespaced.body), ['a/s1']);
  for (const bad of ['labelSelector=app%20in%20()', 'labelSelector=a%20b', 'fieldSelector=spec.x%3D1', 'labelSelector=-bad-']) {
    const res = await raw(server, `/api/v1/secrets?${bad}`);
    assert.equal(res.status, 400, bad);
    assert.equal(at(res.body, 'reason'), 'BadRequest', bad);
  }
});

test('limit and continue page through a consistent snapshot, and a compacted token gets 410', TEST_TIMEOUT, async (t) => {
  const server = await startFakeServer(t);
  for (let i = 0; i < 25; i++) server.create(authPolicy('shop', `p${String(i).padStart(2, '0')}`, { hosts: ['h.example.com'] }));
  const first = await raw(server, `${POLICIES_PATH}?limit=10`);
  assert.equal(first.status, 200);
  assert.equal(names(first.body).length, 10);
  assert.equal(at(first.body, 'kind'), 'AuthPolicyList');
  assert.equal(at(first.body, 'metadata', 'resourceVersion'), '25');
  assert.equal(at(first.body, 'metadata', 'remainingItemCount'), 15);
  server.delete('AuthPolicy', 'shop', 'p20');
  server.create(authPolicy('shop', 'p99', { hosts: ['h.example.com'] }));
  const token = String(at(first.body, 'metadata', 'continue'));
  const second = await raw(server, `${POLICIES_PATH}?limit=10&continue=${encodeURIComponent(token)}`);
  const third = await raw(server, `${POLICIES_PATH}?limit=10&continue=${encodeURIComponent(String(at(second.body, 'metadata', 'continue')))}`);
  const paged = [...names(first.body), ...names(second.body), ...names(third.body)];
  assert.deepEqual(paged, Array.from({ length: 25 }, (_, i) => `shop/p${String(i).padStart(2, '0')}`), 'the snapshot of the first page');
  assert.equal(at(third.body, 'metadata', 'continue'), undefined);
  assert.equal(at(third.body, 'metadata', 'resourceVersion'), '25');
  server.compact();
  const expired = await raw(server, `${POLICIES_PATH}?limit=10&continue=${encodeURIComponent(token)}`);
  assert.equal(expired.status, 410);
  assert.equal(at(expired.body, 'reason'), 'Expired');
});

test('patch formats, the main object\'s generation and the refusals of a real server', TEST_TIMEOUT, async (t) => {
  const server = await startFakeServer(t);
  server.create(authPolicy('shop', 'one', { hosts: ['a.example.com'] }, { labels: { team: 'x' } }));
  server.create(secret('shop', 'keys', { key: 'v1' }));
  const policy = '/apis/gatehouse.dev/v1alpha1/namespaces/shop/authpolicies/one';
  const patch = (path: string, type: string, body: unknown): Promise<{ status: number; body: unknown }> =>
    raw(server, path, { method: 'PATCH', headers: { 'content-type': type }, body: JSON.stringify(body) });
  const merged = await patch(policy, 'application/merge-patch+json', { metadata: { labels: { team: null } }, spec: { paths: ['/api/'] } });
  assert.equal(merged.status, 200);
  assert.deepEqual(at(merged.body, 'spec'), { hosts: ['a.example.com'], paths: ['/api/'] });
  assert.equal(at(merged.body, 'metadata', 'labels'), undefined);
  assert.equal(at(merged.body, 'metadata', 'generation'), 2);
  const labelsOnly = await patch(policy, 'application/merge-patch+json', { metadata: { labels: { team: 'y' } } });
  assert.equal(at(labelsOnly.body, 'metadata', 'generation'), 2, 'metadata changes keep the generation');
  const strategic = await patch('/api/v1/namespaces/shop/secrets/keys', 'application/strategic-merge-patch+json', { stringData: { extra: 'e' } });
  assert.deepEqual(at(strategic.body, 'data'), { key: Buffer.from('v1').toString('base64'), extra: Buffer.from('e').toString('base64') });
  const refusals: Array<[Promise<{ status: number; body: unknown }>, number, string]> = [
    [patch(policy, 'application/strategic-merge-patch+json', {}), 415, 'UnsupportedMediaType'],
    [patch(policy, 'application/apply-patch+yaml', {}), 415, 'UnsupportedMediaType'],
    [patch(policy, 'application/json-patch+json', [{ op: 'test', path: '/spec/hosts/0', value: 'nope' }]), 422, 'Invalid'],
    [patch(policy, 'application/json-patch+json', [{ op: 'jump', path: '/spec' }]), 400, 'BadRequest'],
    [patch(policy, 'application/merge-patch+json', { metadata: { resourceVersion: '1' } }), 409, 'Conflict'],
    [raw(server, policy, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{not json' }), 400, 'BadRequest'],
    [raw(server, POLICIES_PATH, { method: 'POST', body: '{}' }), 405, 'MethodNotAllowed'],
    [raw(server, `${POLICIES_PATH}?watch=true&resourceVersion=999`), 504, 'Timeout'],
    [raw(server, `${POLICIES_PATH}?watch=1&resourceVersion=abc`), 400, 'BadRequest'],
    [raw(server, '/apis/other.dev/v1/things'), 404, 'NotFound'],
    [raw(server, `${policy}?dryRun=All`, { method: 'DELETE' }), 400, 'BadRequest'],
    [raw(server, `${policy}`, { method: 'DELETE', body: JSON.stringify({ preconditions: { resourceVersion: '1' } }) }), 409, 'Conflict'],
  ];
  for (const [pending, status, reason] of refusals) {
    const res = await pending;
    assert.deepEqual([res.status, at(res.body, 'reason'), at(res.body, 'kind')], [status, reason, 'Status']);
  }
  assert.equal(server.count('AuthPolicy'), 1);
});

test('requests without the bearer token are refused with 401', TEST_TIMEOUT, async (t) => {
  const server = await startFakeServer(t);
  const anonymous = await raw(server, POLICIES_PATH, { headers: { authorization: 'Bearer wrong' } });
  assert.equal(anonymous.status, 401);
  assert.deepEqual(anonymous.body, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'Unauthorized', reason: 'Unauthorized', code: 401 });
  assert.equal(server.stats.lists, 0);
});

test('10,000 AuthPolicies and 100,000 Secrets are listed whole, in one answer each', { timeout: 60_000 }, async (t) => {
  const server = await startFakeServer(t);
  for (let i = 0; i < 10_000; i++) server.create(authPolicy(`ns-${i % 50}`, `policy-${i}`, { hosts: [`h${i}.example.com`] }, { labels: { app: 'bench' } }));
  for (let i = 0; i < 100_000; i++) server.create(secret(`ns-${i % 50}`, `secret-${i}`, { key: `value-${i}` }, { labels: { 'gatehouse.dev/credential': 'bench' } }));
  for (const [path, expected] of [[POLICIES_PATH, 10_000], ['/api/v1/secrets?labelSelector=gatehouse.dev%2Fcredential%3Dbench', 100_000]] as const) {
    const started = performance.now();
    const { status, bytes } = await download(`${server.url}${path}`, server.token);
    const ms = performance.now() - started;
    assert.equal(status, 200);
    const body: unknown = JSON.parse(bytes.toString('utf8'));
    assert.equal((at(body, 'items') as unknown[]).length, expected);
    // Time is reported, not asserted: the machine is shared. `node dist/bench/kubernetes.js` measures it.
    t.diagnostic(`${path}: ${expected} items in ${ms.toFixed(0)} ms`);
  }
});

test('a watch whose event handler throws ends with that error instead of losing it', TEST_TIMEOUT, async (t) => {
  const server = await startFakeServer(t);
  const failure = new Error('handler failed');
  const seen: string[] = [];
  const { ended } = await openWatch(t, server, POLICIES_PATH, {}, (type) => {
    seen.push(type);
    throw failure;
  });
  server.create(authPolicy('shop', 'one', { hosts: ['a.example.com'] }));
  server.create(authPolicy('shop', 'two', { hosts: ['b.example.com'] }));
  assert.equal(await ended, failure);
  assert.deepEqual(seen, ['ADDED']);
});
