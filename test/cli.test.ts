// The `gatehouse` command as a user runs it: validate, settings errors, serve on the examples.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createEnvoyClient } from './support/envoy-client.js';
import { eventually } from './support/gatehouse.js';

const CLI = join(import.meta.dirname, '..', 'src', 'cli.js');
const ROOT = join(import.meta.dirname, '..', '..');

function run(args: string[], env: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '', ...env }, timeout: 20_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function dirWith(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-cli-'));
  for (const [n, c] of Object.entries(files)) writeFileSync(join(dir, n), c);
  return dir;
}

const GOOD = `apiVersion: gatehouse.dev/v1alpha1
kind: AuthPolicy
metadata: {name: good, namespace: ns}
spec:
  hosts: [good.example.com]
  authentication: {methods: [{name: k, apiKey: {selector: {matchLabels: {a: b}}}}]}
`;

describe('gatehouse validate', () => {
  it('accepts the shipped examples', () => {
    const r = run(['validate', join(ROOT, 'deploy', 'examples')]);
    assert.equal(r.stderr, '');
    assert.match(r.stdout, /^\d+ policies, \d+ secrets, 0 problems\n$/);
    assert.equal(r.status, 0);
  });

  it('rejects each kind of bad file with file, document and field path', () => {
    const dir = dirWith({
      'a-yaml.yaml': 'kind: [oops\n',
      'b-field.yaml': GOOD.replace('name: good', 'name: bad-field').replace('good.example.com', 'bad.example.com').replace('methods: [{', 'mode: maybe, methods: [{'),
      'c-secrets.yaml': `apiVersion: v1
kind: Secret
metadata: {name: empty, namespace: ns, labels: {a: b}}
stringData: {other: x}
---
apiVersion: v1
kind: Secret
metadata: {name: notbase64, namespace: ns}
data: {api_key: "***"}
---
apiVersion: v1
kind: Secret
metadata: {namespace: ns}
stringData: {api_key: k}
`,
      'd-dup.yaml': `${GOOD}---\n${GOOD.replace('name: good', 'name: twin')}`,
      'e-unknown-field.yaml': GOOD.replace('name: good', 'name: typo').replace('good.example.com', 'typo.example.com').replace('  hosts:', '  hostz: [x]\n  hosts:'),
    });
    const r = run(['validate', dir]);
    assert.equal(r.status, 1);
    const lines = r.stdout.trim().split('\n');
    const expect = [
      `${dir}/a-yaml.yaml#1: YAML: `,
      `${dir}/c-secrets.yaml#2: data.api_key: must be base64 (use stringData for plain text)`,
      `${dir}/c-secrets.yaml#3: metadata.name: is required`,
      `${dir}/b-field.yaml#1: spec.authentication.mode: must be one of "any", "all"`,
      `${dir}/d-dup.yaml#1: spec.authentication.methods[0].apiKey.selector: warning: Secret ns/empty (${dir}/c-secrets.yaml#1) has no \`api_key\` entry: it holds no key`,
      `${dir}/d-dup.yaml#2: spec.hosts: host good.example.com path / is already served by ns/good (${dir}/d-dup.yaml#1)`,
      `${dir}/e-unknown-field.yaml#1: spec.hostz: Unexpected property`,
    ];
    for (const e of expect) assert.ok(lines.some((l) => l.startsWith(e)), `missing line starting with: ${e}\n--- got:\n${r.stdout}`);
    assert.match(lines.at(-1) ?? '', /^4 policies, 1 secrets, 8 problems$/);
  });
});

describe('gatehouse validate, offline', () => {
  it('checks a Redis-stored session policy without contacting any Redis', () => {
    const example = readFileSync(join(ROOT, 'deploy', 'examples', 'session.yaml'), 'utf8');
    const redis = example.replace('storage: cookie ', 'storage: redis  ');
    assert.notEqual(redis, example);
    const r = run(['validate', dirWith({ 'session-redis.yaml': redis })]);
    assert.equal(r.stderr, '');
    assert.equal(r.stdout, '1 policies, 2 secrets, 0 problems\n');
    assert.equal(r.status, 0);
  });
});

describe('gatehouse serve settings', () => {
  it('a bad flag value exits 2 naming the flag and the field', () => {
    const r = run(['serve', '--policies', join(ROOT, 'deploy', 'examples'), '--grpc-address', 'nowhere']);
    assert.equal(r.status, 2);
    assert.equal(r.stderr, 'gatehouse: invalid --grpc-address (grpcAddress): "nowhere" is not host:port\n');
  });

  it('a bad environment value exits 2 naming the variable', () => {
    const r = run(['serve', '--policies', join(ROOT, 'deploy', 'examples')], { GATEHOUSE_LOG_LEVEL: 'loud' });
    assert.equal(r.status, 2);
    assert.equal(r.stderr, 'gatehouse: invalid GATEHOUSE_LOG_LEVEL (logLevel): "loud" is not one of debug, info, warn, error\n');
  });

  it('an unknown flag exits 2', () => {
    const r = run(['serve', '--polices', 'x']);
    assert.equal(r.status, 2);
    assert.equal(r.stderr, 'gatehouse: unknown flag --polices\n');
  });
});

describe('gatehouse serve', () => {
  it('serves the examples, answers a Check, reports ready, and exits 0 on SIGTERM', async (t) => {
    const child: ChildProcess = spawn(
      process.execPath,
      [CLI, 'serve', '--policies', join(ROOT, 'deploy', 'examples'), '--grpc-address', '127.0.0.1:0', '--admin-address', '127.0.0.1:0'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    t.after(() => child.kill('SIGKILL'));
    let out = '';
    child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    await eventually(() => out.includes('gatehouse started'), 10_000, 'startup log');
    const started = JSON.parse(out.split('\n').find((l) => l.includes('gatehouse started')) ?? '{}') as { grpcPort: number; adminPort: number };
    const ready = await fetch(`http://127.0.0.1:${started.adminPort}/readyz`);
    assert.equal(ready.status, 200);
    assert.equal(await ready.text(), 'ready\n');
    assert.equal((await fetch(`http://127.0.0.1:${started.adminPort}/healthz`)).status, 200);
    const envoy = await createEnvoyClient(`127.0.0.1:${started.grpcPort}`);
    const res = await envoy.check({ host: 'api.shop.example.com', path: '/orders', headers: { apikey: 'acme-demo-key-7c1f0e' } });
    envoy.close();
    assert.equal(res.kind, 'ok');
    if (res.kind === 'ok') assert.deepEqual(res.ok.headers[0], { key: 'x-consumer-id', value: 'acme', append: false });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
  });
});
