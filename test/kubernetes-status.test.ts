// AuthPolicy status written back: its content, merge patches through the status subresource, written
// only when it differs from what the object carries (so replicas and re-lists add no writes), the
// transition time kept until the condition flips, rate limiting, and 409 conflicts retried.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PolicyStatus } from '../src/policy/store.js';
import { KubernetesApi } from '../src/sources/kubernetes-api.js';
import { type ObservedPolicy, toPolicy } from '../src/sources/kubernetes-convert.js';
import { StatusWriter } from '../src/sources/kubernetes-status.js';
import { silentLogger } from '../src/telemetry/log.js';
import { eventually } from './support/eventually.js';
import { at, type FakeApiServer, type JsonValue } from './support/fake-apiserver/index.js';
import { keyPolicy, keySecret, keySpec } from './support/fixtures.js';
import { readyOf, relabel, startFakeServer, startSource, withSpec, type TestSource } from './support/kubernetes-kit.js';

const TIMEOUT = { timeout: 30_000 };
const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;

/**
 * A positive barrier instead of a sleep: a policy created now reaches the source after every event
 * already sent, so once its status is written and the writer is idle, any write those events caused
 * has been made. Barrier policies live in the namespace `barrier`.
 */
async function settle(server: FakeApiServer, { source }: TestSource, name: string): Promise<void> {
  server.create(keyPolicy('barrier', name, `${name}.barrier.test`));
  await eventually(() => readyOf(server, 'barrier', name) !== undefined, 5000, `the status of barrier/${name}`);
  await source.statusIdle();
}

const shopWrites = (server: FakeApiServer): number => server.statusWrites.filter((w) => w.namespace === 'shop').length;

test('every policy gets observedGeneration and a Ready condition, by merge patch on /status', TIMEOUT, async (t) => {
  const server = await startFakeServer(t);
  server.create(keyPolicy('shop', 'api', 'api.example.com'));
  server.create(keySecret('shop', 'acme', 'acme-key-1', 'acme'));
  const { source } = startSource(t, server);
  await source.whenSynced();
  await eventually(() => server.statusWrites.length === 1, 5000, 'the status write');
  const status = server.get('AuthPolicy', 'shop', 'api')?.status;
  const time = readyOf(server, 'shop', 'api')?.lastTransitionTime;
  assert.match(String(time), RFC3339);
  assert.deepEqual(status, {
    observedGeneration: 1,
    conditions: [
      { type: 'Ready', status: 'True', reason: 'Compiled', message: '', lastTransitionTime: time, observedGeneration: 1 },
      { type: 'Enforced', status: 'True', reason: 'Enforcing', message: 'requests are refused as the policy says', lastTransitionTime: time, observedGeneration: 1 },
    ],
  });
  const write = server.statusWrites[0];
  assert.deepEqual([write?.method, write?.contentType, write?.httpStatus, write?.changed], ['PATCH', 'application/merge-patch+json', 200, true]);
  assert.equal(at(server.get('AuthPolicy', 'shop', 'api'), 'metadata', 'generation'), 1, 'the spec is untouched');
});

test('status is written only when it changes: re-lists, label edits and a second replica write nothing', TIMEOUT, async (t) => {
  const server = await startFakeServer(t);
  for (let i = 0; i < 20; i++) server.create(keyPolicy('shop', `p${i}`, `h${i}.example.com`));
  const first = startSource(t, server);
  await first.source.whenSynced();
  await eventually(() => server.statusWrites.length === 20, 5000, 'one write per policy');
  // Each write comes back as a MODIFIED event, which must not cause another write.
  await settle(server, first, 'after-sync');
  assert.equal(shopWrites(server), 20);

  // Changes missed while disconnected, then compacted away: the watches get 410 and list again, and
  // every unchanged object arrives again.
  const lists = server.stats.lists;
  await server.pause();
  server.create(keyPolicy('elsewhere', 'x', 'x.example.com'));
  server.delete('AuthPolicy', 'elsewhere', 'x');
  server.compact();
  await server.resume();
  await eventually(() => server.stats.lists === lists + 2, 5000, 'the re-lists');
  await settle(server, first, 'after-relist');
  assert.equal(shopWrites(server), 20);

  // A label edit is a MODIFIED event without a new generation.
  relabel(server, 'AuthPolicy', 'shop', 'p0', { team: 'a' });
  await settle(server, first, 'after-relabel');
  assert.equal(shopWrites(server), 20);

  // Another replica over the same objects computes the same status and finds nothing to write.
  const second = startSource(t, server);
  await second.source.whenSynced();
  await second.source.statusIdle();
  assert.equal(shopWrites(server), 20);
  assert.equal(first.source.statusWrites + second.source.statusWrites, server.statusWrites.length);
  assert.equal(second.source.statusWrites, 0);
});

test('lastTransitionTime changes only when Ready flips; other conditions are kept', TIMEOUT, async (t) => {
  const server = await startFakeServer(t);
  server.create(keyPolicy('shop', 'api', 'api.example.com'));
  const started = startSource(t, server);
  const { source, advance } = started;
  await source.whenSynced();
  await eventually(() => readyOf(server, 'shop', 'api')?.status === 'True', 5000, 'Ready');
  const since = readyOf(server, 'shop', 'api')?.lastTransitionTime;

  advance(60_000);
  const spec = keySpec('api.example.com');
  withSpec(server, 'shop', 'api', { ...spec, paths: ['/v1/'] });
  await eventually(() => readyOf(server, 'shop', 'api')?.observedGeneration === 2, 5000, 'generation 2 observed');
  assert.equal(readyOf(server, 'shop', 'api')?.lastTransitionTime, since, 'still True: the time is kept');
  assert.equal(at(server.get('AuthPolicy', 'shop', 'api'), 'status', 'observedGeneration'), 2);

  advance(60_000);
  withSpec(server, 'shop', 'api', { ...spec, hosts: ['bad host!'] });
  await eventually(() => readyOf(server, 'shop', 'api')?.status === 'False', 5000, 'the flip to False');
  const flipped = readyOf(server, 'shop', 'api')?.lastTransitionTime;
  assert.match(String(flipped), RFC3339);
  assert.ok(Date.parse(String(flipped)) >= Date.parse(String(since)) + 119_000, `${String(flipped)} is two minutes after ${String(since)}`);

  // Someone else's condition is kept, and a status wiped by hand is written again.
  const api = new KubernetesApi(server.kubeConfig());
  const conditions = at(server.get('AuthPolicy', 'shop', 'api'), 'status', 'conditions') as JsonValue[];
  await api.mergePatchStatus('authpolicies', 'shop', 'api', { status: { conditions: [...conditions, { type: 'Accepted', status: 'True', reason: 'Gateway' }] } });
  const writes = shopWrites(server);
  await settle(server, started, 'after-foreign-condition');
  assert.equal(shopWrites(server), writes, 'a foreign condition needs no write');
  assert.deepEqual((at(server.get('AuthPolicy', 'shop', 'api'), 'status', 'conditions') as JsonValue[]).map((c) => at(c, 'type')), ['Ready', 'Enforced', 'Accepted']);
  await api.mergePatchStatus('authpolicies', 'shop', 'api', { status: null });
  await eventually(() => readyOf(server, 'shop', 'api')?.status === 'False', 5000, 'the status written again');
  assert.equal(shopWrites(server), writes + 2);
  assert.equal(at(server.get('AuthPolicy', 'shop', 'api'), 'status', 'observedGeneration'), 3);
});

test('status writes are rate limited: 40 policies at 20/s after a burst of 5 take about 1.75 s', TIMEOUT, async (t) => {
  const server = await startFakeServer(t);
  for (let i = 0; i < 40; i++) server.create(keyPolicy('shop', `p${i}`, `h${i}.example.com`));
  const { source } = startSource(t, server, { statusRate: { perSecond: 20, burst: 5, concurrency: 2 } });
  await source.whenSynced();
  const started = Date.now();
  await eventually(() => server.statusWrites.length === 40, 10_000, 'every status');
  const ms = Date.now() - started;
  assert.ok(ms >= 1500, `40 writes took ${ms} ms; the limit allows no fewer than 1750`);
  assert.ok(server.statusWrites.every((w) => w.httpStatus === 200));
});

test('a write from a stale copy gets 409 Conflict and is retried from the fresh one', TIMEOUT, async (t) => {
  const server = await startFakeServer(t);
  const created = server.create(keyPolicy('shop', 'api', 'api.example.com'));
  const stale = toPolicy(created);
  assert.ok(stale.ok);
  relabel(server, 'AuthPolicy', 'shop', 'api', { moved: 'yes' });
  let seen: ObservedPolicy = stale.value;
  const desired: PolicyStatus = {
    id: 'shop/api', namespace: 'shop', name: 'api', observedGeneration: 1, ready: true, reason: 'Compiled', message: '', problems: [], serving: 'current', enforcement: 'enforce',
  };
  const writer = new StatusWriter({
    api: new KubernetesApi(server.kubeConfig()),
    desired: () => desired,
    observed: () => seen,
    written: () => undefined,
    logger: silentLogger,
    secretSelector: 'gatehouse.dev/credential',
  });
  t.after(() => writer.stop());
  writer.enqueue('shop/api');
  await eventually(() => server.statusWrites.length === 1, 5000, 'the refused write');
  assert.equal(server.statusWrites[0]?.httpStatus, 409);
  const fresh = toPolicy(server.get('AuthPolicy', 'shop', 'api'));
  assert.ok(fresh.ok);
  seen = fresh.value;
  await eventually(() => server.statusWrites.length === 2, 5000, 'the retry');
  assert.deepEqual(server.statusWrites.map((w) => w.httpStatus), [409, 200]);
  assert.equal(readyOf(server, 'shop', 'api')?.status, 'True');
  await eventually(() => writer.writes === 1, 5000, 'the answer to the retried write');
});
