// RBAC exactly as used. One list of grants (WATCH_GRANTS): the Kubernetes source, run against an API
// server that enforces exactly that list, syncs, follows changes and writes status, and requests every
// grant in it (so none is spare); the chart (helm.test.ts), kustomize (packaging.test.ts) and the docs
// grant and describe that same list.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { eventually } from './support/eventually.js';
import { at } from './support/fake-apiserver/index.js';
import { keyPolicy, keySecret, keySpec } from './support/fixtures.js';
import { readyOf, startFakeServer, startSource, withSpec } from './support/kubernetes-kit.js';
import { WATCH_GRANTS } from './support/manifests.js';
import { repoRoot } from './support/tool-cache.js';

const TIMEOUT = { timeout: 30_000 };

describe('the Kubernetes source needs exactly the grants the manifests give', () => {
  for (const namespaces of [[], ['shop']]) {
    const scope = namespaces.length === 0 ? 'cluster-wide' : 'with --watch-namespace shop';
    it(`${scope}: it syncs, follows a change and writes status with them, and requests every one`, TIMEOUT, async (t) => {
      const server = await startFakeServer(t, { grants: WATCH_GRANTS });
      server.create(keyPolicy('shop', 'api', 'api.example.com'));
      server.create(keySecret('shop', 'acme', 'acme-key-1', 'acme'));
      const { source, logs } = startSource(t, server, { namespaces });
      await source.whenSynced();
      await eventually(() => readyOf(server, 'shop', 'api')?.status === 'True', 5000, 'Ready written');
      withSpec(server, 'shop', 'api', keySpec('api.example.org'));
      await eventually(() => readyOf(server, 'shop', 'api')?.observedGeneration === 2, 5000, 'the change seen through the watch and its status written');
      assert.equal(at(server.get('AuthPolicy', 'shop', 'api'), 'status', 'observedGeneration'), 2);
      assert.deepEqual(server.accessed, WATCH_GRANTS);
      assert.doesNotMatch(logs.join('\n'), /forbidden/i);
    });
  }

  it('the same source without the status grant serves its policies and says it cannot write status', TIMEOUT, async (t) => {
    const server = await startFakeServer(t, { grants: WATCH_GRANTS.filter((g) => !g.includes('/status')) });
    server.create(keyPolicy('shop', 'api', 'api.example.com'));
    const { source, store, logs } = startSource(t, server);
    await source.whenSynced();
    await eventually(() => logs.some((l) => l.includes('cannot write AuthPolicy status')), 5000, 'the refusal in the log');
    assert.deepEqual(store.counts(), { ready: 1, total: 1 });
    const line = JSON.parse(logs.find((l) => l.includes('cannot write AuthPolicy status')) ?? '{}') as Record<string, unknown>;
    assert.match(String(line['error']), /authpolicies\.gatehouse\.dev "api" is forbidden: User "system:serviceaccount:gatehouse-system:gatehouse" cannot patch resource "authpolicies\/status" in API group "gatehouse\.dev" in the namespace "shop"/);
  });
});

/** `group|resource|verb` grants of the first Markdown table after `heading` (columns: API group, resource, verbs, ...). */
function tableGrants(markdown: string, heading: string): string[] {
  const from = markdown.indexOf(heading);
  assert.ok(from >= 0, `no "${heading}"`);
  const lines = markdown.slice(from).split('\n');
  const start = lines.findIndex((l) => l.startsWith('|'));
  const table: string[] = [];
  for (const line of lines.slice(start)) {
    if (!line.startsWith('|')) break;
    table.push(line);
  }
  // The header and the separator line first.
  return table.slice(2).flatMap((row) => {
    const [group = '', resource = '', verbs = ''] = row.split('|').slice(1, 4).map((c) => c.trim().replace(/`/g, ''));
    return verbs.split(',').map((verb) => `${group === '""' ? 'core' : group}|${resource}|${verb.trim()}`);
  }).sort();
}

describe('the docs describe exactly those grants', () => {
  const read = (path: string): Promise<string> => readFile(join(repoRoot, path), 'utf8');

  for (const [path, heading] of [
    ['docs/kubernetes.md', '## Permissions'],
    ['docs/deploy.md', '### What Gatehouse may do in the cluster'],
    ['charts/gatehouse/README.md', '### Permissions'],
  ] as const) {
    it(`${path}: its table under "${heading}"`, async () => {
      const text = await read(path);
      assert.deepEqual(tableGrants(text, heading), WATCH_GRANTS);
      // No second, different account elsewhere in the file: a rules block, a grant on leases.
      assert.doesNotMatch(text, /coordination\.k8s\.io|verbs: \[/);
    });
  }
});
