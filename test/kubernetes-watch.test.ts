// The informers survive what API servers do: dropped connections, an unreachable server, refused lists,
// watches ended by the server, and 410 Gone after compaction. The last known policies keep serving
// meanwhile, and the outage shows in the watch-down gauge and one stale-watch warning.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Metrics } from '../src/telemetry/metrics.js';
import { eventually } from './support/eventually.js';
import { keyPolicy, keySecret } from './support/fixtures.js';
import { metricValue, startFakeServer, startSource, withKeys } from './support/kubernetes-kit.js';
import { policyOf } from './support/route.js';

const TIMEOUT = { timeout: 30_000 };
const DOWN = 'gatehouse_kubernetes_watch_down_seconds';
const RESTARTS = 'gatehouse_kubernetes_watch_restarts_total';

/** Both watch-down gauges as the monitor last set them, in seconds. */
async function watchDown(metrics: Metrics): Promise<[number, number]> {
  return [await metricValue(metrics, DOWN, { resource: 'authpolicies' }), await metricValue(metrics, DOWN, { resource: 'secrets' })];
}

async function bothWatchesUp(metrics: Metrics): Promise<void> {
  await eventually(async () => (await watchDown(metrics)).every((s) => s === 0), 5000, 'both watch-down gauges back to 0');
}

test('while the API server is unreachable the last policies serve; changes made meanwhile arrive after', TIMEOUT, async (t) => {
  const server = await startFakeServer(t);
  server.create(keyPolicy('shop', 'api', 'api.example.com'));
  server.create(keySecret('shop', 'acme', 'acme-key-1', 'acme'));
  server.create(keySecret('shop', 'globex', 'globex-key-1', 'globex'));
  const { source, store, metrics } = startSource(t, server);
  await source.whenSynced();
  await eventually(() => server.stats.openWatches === 2, 5000, 'both watches');
  const index = store.index;

  await server.pause();
  server.create(keyPolicy('shop', 'web', 'web.example.com', 'others'));
  withKeys(server, 'shop', 'acme', 'acme-key-2\nacme-key-3\nacme-key-4');
  server.delete('Secret', 'shop', 'globex');
  // Both informers have noticed the outage once both gauges count it.
  await eventually(async () => (await watchDown(metrics)).every((s) => s > 0), 5000, 'both watch-down gauges above 0');
  assert.equal(store.index, index, 'nothing changes while disconnected');
  assert.equal(store.index?.keyCount, 2);
  assert.ok((await metricValue(metrics, RESTARTS, { resource: 'secrets' })) >= 1);

  await server.resume();
  await eventually(() => policyOf(store.index, 'web.example.com', '/', 'GET')?.id === 'shop/web', 5000, 'the policy created while down');
  await eventually(() => store.secretCount === 1 && store.index?.keyCount === 3, 5000, 'the rotation and the deletion made while down');
  await eventually(() => server.stats.openWatches === 2, 5000, 'both watches again');
  assert.deepEqual(server.stats.listsByResource, { authpolicies: 1, secrets: 1 }, 'resumed from the resourceVersion, no re-list');
  await bothWatchesUp(metrics);
});

test('a dropped watch is restarted with backoff and events after the drop arrive', TIMEOUT, async (t) => {
  const server = await startFakeServer(t);
  server.create(keyPolicy('shop', 'api', 'api.example.com'));
  const { source, store, metrics } = startSource(t, server);
  await source.whenSynced();
  await eventually(() => server.stats.openWatches === 2, 5000, 'both watches');
  assert.equal(server.dropWatches(), 2);
  server.create(keyPolicy('shop', 'web', 'web.example.com'));
  await eventually(() => store.status('shop', 'web') !== undefined, 5000, 'the policy created after the drop');
  await eventually(() => server.stats.openWatches === 2, 5000, 'both watches again');
  assert.equal(await metricValue(metrics, RESTARTS, { resource: 'authpolicies' }), 1);
  assert.equal(await metricValue(metrics, RESTARTS, { resource: 'secrets' }), 1);
  assert.equal(server.stats.lists, 2, 'no re-list');
});

test('a watch the server ends cleanly is resumed at once, counted as no failure', TIMEOUT, async (t) => {
  const server = await startFakeServer(t);
  const { source, store, metrics } = startSource(t, server);
  await source.whenSynced();
  await eventually(() => server.stats.openWatches === 2, 5000, 'both watches');
  const watches = server.stats.watches;
  assert.equal(server.closeWatches(), 2);
  await eventually(() => server.stats.watches === watches + 2 && server.stats.openWatches === 2, 5000, 'the resumed watches');
  server.create(keyPolicy('shop', 'api', 'api.example.com'));
  await eventually(() => store.status('shop', 'api') !== undefined, 5000, 'an event on the resumed watch');
  assert.equal(await metricValue(metrics, RESTARTS, { resource: 'authpolicies' }), 0);
  assert.equal(server.stats.lists, 2);
});

for (const mode of ['event', 'http'] as const) {
  test(`410 Gone (${mode === 'event' ? 'an Expired ERROR event' : 'an HTTP 410 answer'}) makes the informers list again and apply what they missed`, TIMEOUT, async (t) => {
    const server = await startFakeServer(t, { expiredWatchMode: mode });
    server.create(keyPolicy('shop', 'old', 'old.example.com'));
    server.create(keySecret('shop', 'acme', 'acme-key-1', 'acme'));
    const { source, store, metrics } = startSource(t, server);
    await source.whenSynced();
    await eventually(() => server.stats.openWatches === 2, 5000, 'both watches');

    await server.pause();
    server.delete('AuthPolicy', 'shop', 'old');
    server.create(keyPolicy('shop', 'new', 'new.example.com'));
    server.delete('Secret', 'shop', 'acme');
    server.compact();
    await server.resume();
    await eventually(() => server.stats.lists === 4, 5000, 'one re-list per informer');
    await eventually(() => store.status('shop', 'new') !== undefined && store.status('shop', 'old') === undefined && store.secretCount === 0, 5000, 'the missed changes');
    assert.equal(policyOf(store.index, 'old.example.com', '/', 'GET')?.id, undefined);
    assert.equal(store.index?.keyCount, 0);
    await eventually(() => server.stats.openWatches === 2, 5000, 'watching again');
    server.create(keyPolicy('shop', 'after', 'after.example.com'));
    await eventually(() => store.status('shop', 'after') !== undefined, 5000, 'events after the re-list');
    assert.ok((await metricValue(metrics, RESTARTS, { resource: 'authpolicies' })) >= 1, 'the pause itself was a failure');
  });
}

test('refused lists are retried with backoff until the first sync', TIMEOUT, async (t) => {
  const server = await startFakeServer(t);
  server.create(keyPolicy('shop', 'api', 'api.example.com'));
  server.failRequests(3, 500, { verb: 'list', kind: 'AuthPolicy' });
  const { source, store, metrics } = startSource(t, server);
  // Two more refusals are due after the first one, so the source cannot have synced yet.
  await eventually(async () => (await metricValue(metrics, RESTARTS, { resource: 'authpolicies' })) >= 1, 5000, 'the first refused list');
  assert.equal(store.index?.size, undefined, 'nothing is served before the first full list');
  assert.equal(source.synced, false);
  await source.whenSynced();
  assert.equal(server.stats.listsByResource.authpolicies, 4);
  assert.equal(await metricValue(metrics, RESTARTS, { resource: 'authpolicies' }), 3);
  assert.equal(await metricValue(metrics, 'gatehouse_source_synced', { source: 'kubernetes' }), 1);
  assert.equal(policyOf(store.index, 'api.example.com', '/', 'GET')?.id, 'shop/api');
});

test('an unreachable server at start: not synced, watch-down grows, one stale warning per watch, then sync', TIMEOUT, async (t) => {
  const server = await startFakeServer(t);
  server.create(keyPolicy('shop', 'api', 'api.example.com'));
  const kubeConfig = server.kubeConfig();
  await server.pause();
  const { source, store, metrics, logs, advance } = startSource(t, server, { kubeConfig, staleAfterMs: 300 });
  const stale = (): Array<Record<string, unknown>> =>
    logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => String(l.msg).startsWith('kubernetes watch down for longer'));
  await eventually(async () => (await watchDown(metrics)).every((s) => s > 0), 5000, 'both watches down');
  // The source's clock moves on 0.4 s at once: past --watch-stale-after, without waiting for it.
  advance(400);
  await eventually(async () => (await watchDown(metrics)).every((s) => s >= 0.4), 5000, 'watch-down at 0.4 s');
  assert.deepEqual(stale().map((l) => [l.level, l.resource, l.namespace]), [['warn', 'authpolicies', '*'], ['warn', 'secrets', '*']]);
  assert.match(String(stale()[0]?.error), /ECONNREFUSED/);
  // Later monitor rounds of the same outage warn no more.
  advance(400);
  await eventually(async () => (await watchDown(metrics)).every((s) => s >= 0.8), 5000, 'watch-down at 0.8 s');
  assert.equal(stale().length, 2);
  assert.equal(source.synced, false);
  assert.equal(store.index?.size, undefined);
  assert.equal(await metricValue(metrics, 'gatehouse_source_synced', { source: 'kubernetes' }), 0);

  await server.resume();
  await source.whenSynced();
  assert.equal(policyOf(store.index, 'api.example.com', '/', 'GET')?.id, 'shop/api');
  await bothWatchesUp(metrics);
});
