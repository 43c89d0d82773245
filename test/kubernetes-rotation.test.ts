// A cluster whose key Secrets rotate all day: each rotation costs one watch event and one recompiled
// policy, never a re-list, a status write or a rebuilt index (which made a 10,000-policy process grow
// to 850 MB over 200 rotations). Measured at scale by bench/kubernetes.ts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CheckInput } from '../src/core/input.js';
import { Pipeline } from '../src/core/pipeline.js';
import type { PolicyIndex } from '../src/policy/index.js';
import { eventually } from './support/eventually.js';
import { keyPolicy, keySecret } from './support/fixtures.js';
import { startFakeServer, startSource, withKeys } from './support/kubernetes-kit.js';

const POLICIES = 100;
const ROTATIONS = 200;
const pipeline = new Pipeline({ onNoPolicy: 'deny' });

function accepts(index: PolicyIndex | undefined, host: string, key: string): boolean {
  const input = new CheckInput({ method: 'GET', scheme: 'https', host, path: '/', headers: new Map([['apikey', key]]), peer: '127.0.0.1' });
  const decision = pipeline.decide(index, input, Date.now());
  return !(decision instanceof Promise) && decision.kind === 'allow';
}

test('200 Secret rotations over 100 policies: each takes effect, with no re-list, no status write and no new index', { timeout: 60_000 }, async (t) => {
  const server = await startFakeServer(t);
  for (let p = 0; p < POLICIES; p++) {
    server.create(keyPolicy('shop', `api-${p}`, `api-${p}.example.com`, `group-${p}`));
    server.create(keySecret('shop', `consumer-${p}`, `key-${p}-0`, `consumer-${p}`, `group-${p}`));
  }
  const { source, store } = startSource(t, server);
  await source.whenSynced();
  await eventually(() => server.statusWrites.length === POLICIES, 10_000, 'the first status of every policy');
  await source.statusIdle();
  const index = store.index;
  assert.equal(index?.keyCount, POLICIES);
  const writes = server.statusWrites.length;

  for (let i = 1; i <= ROTATIONS; i++) {
    const p = (i * 37) % POLICIES;
    withKeys(server, 'shop', `consumer-${p}`, `key-${p}-${i}`);
    await eventually(() => accepts(store.index, `api-${p}.example.com`, `key-${p}-${i}`), 5000, `rotation ${i}`);
    assert.equal(accepts(store.index, `api-${p}.example.com`, `key-${p}-0`), false);
  }

  await source.statusIdle();
  assert.equal(store.index, index, 'a rotation rebuilt the index');
  assert.equal(store.index?.keyCount, POLICIES);
  assert.equal(server.statusWrites.length, writes);
  assert.deepEqual(server.stats.listsByResource, { authpolicies: 1, secrets: 1 });
});
