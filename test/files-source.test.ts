// The file source: watched YAML, atomic swaps, broken edits keep the last good policies serving.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { loadFiles } from '../src/sources/files.js';
import { eventually, startTestGatehouse, type TestGatehouse } from './support/gatehouse.js';
import { keptHeap } from './support/kept-heap.js';

const policy = (host: string, extra = ''): string => `
apiVersion: gatehouse.dev/v1alpha1
kind: AuthPolicy
metadata: {name: app, namespace: web}
spec:
  hosts: ["${host}"]
  authentication:
    methods:
      - name: keys
        apiKey:
          selector: {matchLabels: {team: web}}
${extra}`;

const secret = (key: string, name = 'k1'): string => `
apiVersion: v1
kind: Secret
metadata: {name: ${name}, namespace: web, labels: {team: web}, annotations: {gatehouse.dev/consumer-id: alice}}
stringData: {api_key: ${key}}
`;

const BROKEN = '\n---\nkind: [unclosed\n';

describe('file source', () => {
  let g: TestGatehouse;
  const status = async (host: string, key: string): Promise<number | undefined> => {
    const res = await g.envoy.check({ host, path: '/', headers: { apikey: key } });
    return res.kind === 'ok' ? 200 : res.kind === 'denied' ? res.denied.status : undefined;
  };

  before(async () => {
    g = await startTestGatehouse({ 'policy.yaml': policy('app.example.com'), 'secret.yaml': secret('first-key') });
  });
  after(async () => g.stop());

  it('serves what the files say', async () => {
    assert.equal(await status('app.example.com', 'first-key'), 200);
    assert.equal(await status('app.example.com', 'other'), 401);
  });

  it('a rotated key in a Secret file takes effect without a restart; the old key stops working', async () => {
    g.write('secret.yaml', secret('second-key'));
    await eventually(async () => (await status('app.example.com', 'second-key')) === 200, 5000, 'new key');
    assert.equal(await status('app.example.com', 'first-key'), 401);
  });

  it('a YAML syntax error keeps the file\'s previous content serving and logs file and document', async () => {
    g.write('policy.yaml', policy('app.example.com') + '\n---\nkind: [unclosed\n');
    await eventually(() => g.logs.some((l) => l.includes('policy file problem') && l.includes('policy.yaml')), 5000, 'problem log');
    const line = JSON.parse(g.logs.find((l) => l.includes('policy file problem')) ?? '{}') as Record<string, unknown>;
    assert.equal(line.doc, 2);
    assert.match(String(line.problem), /^YAML: /);
    assert.equal(await status('app.example.com', 'second-key'), 200);
  });

  it('a schema-invalid edit keeps the last good version serving and says which field is wrong', async () => {
    g.write('policy.yaml', policy('app.example.com', '  authentication: {mode: sometimes, methods: []}\n').replace(/  authentication:\n[\s\S]*?web\}\}\n/, ''));
    await eventually(() => g.gatehouse.store.status('web', 'app')?.reason === 'Invalid', 5000, 'invalid status');
    const s = g.gatehouse.store.status('web', 'app');
    assert.equal(s?.ready, false);
    assert.equal(s?.serving, 'last-good');
    assert.match(s?.message ?? '', /^spec\.authentication\.mode: must be one of "any", "all"; serving the last valid generation/);
    assert.equal(await status('app.example.com', 'second-key'), 200);
  });

  it('fixing the file serves the new version; a moved host stops being served', async () => {
    g.write('policy.yaml', policy('new.example.com'));
    await eventually(async () => (await status('new.example.com', 'second-key')) === 200, 5000, 'new host');
    assert.equal(await status('app.example.com', 'second-key'), 403);
    assert.equal(g.gatehouse.store.status('web', 'app')?.reason, 'Compiled');
  });

  it('a new policy that is invalid from the start denies its hosts (fail closed) with 503', async () => {
    g.write('broken.yaml', `
apiVersion: gatehouse.dev/v1alpha1
kind: AuthPolicy
metadata: {name: broken, namespace: web}
spec:
  hosts: ["broken.example.com"]
  authentication: {methods: [{name: k, apiKey: {selector: {}}}]}
`);
    await eventually(() => g.gatehouse.store.status('web', 'broken') !== undefined, 5000, 'broken status');
    const res = await g.envoy.check({ host: 'broken.example.com', path: '/' });
    assert.equal(res.kind, 'denied');
    if (res.kind !== 'denied') return;
    assert.equal(res.denied.status, 503);
    assert.equal(res.message, 'policy_invalid');
    assert.equal(g.gatehouse.store.status('web', 'broken')?.serving, 'deny');
    assert.match(g.gatehouse.store.status('web', 'broken')?.message ?? '', /spec\.authentication\.methods\[0\]\.apiKey\.selector: selector must have matchLabels/);
  });

  it('deleting a Secret file revokes its keys at once', async () => {
    g.write('secret.yaml', '# emptied\n');
    await eventually(async () => (await status('new.example.com', 'second-key')) === 401, 5000, 'revocation');
  });

  it('after the first load, garbage is collected and the young generation given back once it is quiet; the RSS is logged', { timeout: 40_000 }, async () => {
    await eventually(() => g.logs.some((l) => l.includes('"memory settled after the first load"')), 30_000, 'settled log');
    const line = JSON.parse(g.logs.find((l) => l.includes('"memory settled after the first load"')) ?? '{}') as Record<string, unknown>;
    assert.equal(line.level, 'info');
    assert.equal(typeof line.rssMb, 'number');
    assert.ok(Number(line.rssMb) > 0);
  });
});

describe('file source: a file that cannot be read', () => {
  let g: TestGatehouse;
  const status = async (key: string): Promise<number | undefined> => {
    const res = await g.envoy.check({ host: 'app.example.com', path: '/', headers: { apikey: key } });
    return res.kind === 'ok' ? 200 : res.kind === 'denied' ? res.denied.status : undefined;
  };
  const problems = (): number => g.logs.filter((l) => l.includes('policy file problem') && l.includes('secret.yaml')).length;

  before(async () => {
    g = await startTestGatehouse({ 'policy.yaml': policy('app.example.com'), 'secret.yaml': secret('first-key'), 'other.yaml': secret('other-key', 'k2') });
  });
  after(async () => g.stop());

  it('a Secret file broken mid-edit keeps serving its previous content; the part of the edit that still reads does not apply', async () => {
    assert.equal(await status('first-key'), 200);
    // The first document reads (a new key), the second does not: the file keeps its previous content whole.
    g.write('secret.yaml', secret('edited-key') + BROKEN);
    await eventually(() => problems() > 0, 5000, 'problem log');
    assert.equal(await status('first-key'), 200);
    assert.equal(await status('edited-key'), 401);
    assert.equal(await status('other-key'), 200);
  });

  it('while it stays broken, the other files still change what is served', async () => {
    unlinkSync(join(g.dir, 'other.yaml'));
    await eventually(async () => (await status('other-key')) === 401, 5000, 'other file removed');
    assert.equal(await status('first-key'), 200);
  });

  it('a second broken edit still serves the last content read, not the first broken one', async () => {
    const before = problems();
    g.write('secret.yaml', secret('second-edit') + BROKEN + BROKEN);
    await eventually(() => problems() > before, 5000, 'second problem log');
    assert.equal(await status('first-key'), 200);
    assert.equal(await status('second-edit'), 401);
  });

  it('once it reads again, its new content replaces the old: the old key stops working', async () => {
    g.write('secret.yaml', secret('fixed-key'));
    await eventually(async () => (await status('fixed-key')) === 200, 5000, 'fixed file');
    assert.equal(await status('first-key'), 401);
  });

  it('a broken file that then disappears takes its Secrets with it', async () => {
    g.write('secret.yaml', secret('fixed-key') + BROKEN);
    const before = problems();
    await eventually(() => problems() > before, 5000, 'broken again');
    assert.equal(await status('fixed-key'), 200);
    unlinkSync(join(g.dir, 'secret.yaml'));
    await eventually(async () => (await status('fixed-key')) === 401, 5000, 'file removed');
  });
});

describe('loadFiles', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-load-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'half.yaml');
  writeFileSync(file, secret('half-key') + BROKEN);

  it('a file that cannot be read and is served from before is left out and listed as kept', () => {
    const loaded = loadFiles([file], { serves: (f) => f === file });
    assert.deepEqual(loaded.kept, [file]);
    assert.deepEqual(loaded.secrets, []);
    assert.deepEqual(loaded.problems.map((p) => [p.doc, p.message.slice(0, 6)]), [[2, 'YAML: ']]);
  });

  it('the first time, what it can read is used (nothing earlier to keep)', () => {
    const loaded = loadFiles([file], { serves: () => false });
    assert.deepEqual(loaded.kept, []);
    assert.deepEqual(loaded.secrets.map((s) => `${s.namespace}/${s.name}`), ['web/k1']);
  });
});

describe('YAML strings and memory', () => {
  it('a name kept from a parsed file keeps only itself, not the file it came in', { timeout: 60_000 }, () => {
    // 400 files of ~256 KiB, each one Secret with a 40-character name and consumer id; the Secrets'
    // names and annotations are kept, the texts dropped. Were a string a view into its file's text,
    // the kept strings would hold ~100 MB.
    const manifests = fileURLToPath(new URL('../src/sources/manifests.js', import.meta.url));
    const setup = `
      const { parseManifests } = await import(${JSON.stringify(manifests)});
      parseManifests('apiVersion: v1\\nkind: Secret\\nmetadata: {name: warm-up-secret-name}\\nstringData: {api_key: k}\\n', 'warm.yaml');
    `;
    const out = keptHeap(setup, `
      for (let i = 0; i < 400; i++) {
        const name = 'n'.repeat(36) + String(1000 + i);
        const text = '# ' + 'p'.repeat(256 * 1024) + '\\napiVersion: v1\\nkind: Secret\\nmetadata:\\n  name: ' + name + '\\n  namespace: web\\n  annotations: {gatehouse.dev/consumer-id: c' + name + '}\\nstringData: {api_key: k}\\n';
        const s = parseManifests(text, 'f' + i + '.yaml').secrets[0];
        if (s.name !== name || s.annotations['gatehouse.dev/consumer-id'] !== 'c' + name) throw new Error('parsed ' + s.name);
        kept.push(s.name, s.annotations);
      }
    `);
    assert.equal(out.kept, 800);
    assert.ok(out.grown < 8 * 1024 * 1024, `heap grew by ${(out.grown / 1048576).toFixed(1)} MB for 800 kept values`);
  });
});
