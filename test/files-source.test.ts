// The file source: watched YAML, atomic swaps, broken edits keep the last good policies serving.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { eventually, startTestGatehouse, type TestGatehouse } from './support/gatehouse.js';

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

const secret = (key: string): string => `
apiVersion: v1
kind: Secret
metadata: {name: k1, namespace: web, labels: {team: web}, annotations: {gatehouse.dev/consumer-id: alice}}
stringData: {api_key: ${key}}
`;

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
});
