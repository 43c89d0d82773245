// The `gatehouse` command as a user runs it: validate, settings errors, serve on the examples, and how
// serve ends: SIGTERM with Redis dead or stalled, or a listener that cannot bind.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type AddressInfo } from 'node:net';
import { describe, it, type TestContext } from 'node:test';
import { createEnvoyClient } from './support/envoy-client.js';
import { eventually } from './support/gatehouse.js';
import { startRedis, type RedisServer } from './support/redis.js';
import { API_KEY, redisPolicyDir, SESSION_HOST } from './support/redis-policies.js';

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

interface Serving {
  readonly child: ChildProcess;
  readonly stdout: () => string;
  readonly stderr: () => string;
  /** Resolves with the exit code (null when a signal ended it) and when it came. */
  readonly exited: Promise<{ code: number | null; signal: string | null; at: number }>;
  /** Waits for the `gatehouse started` log line and returns its ports. */
  started(): Promise<{ grpcPort: number; adminPort: number }>;
}

/** `gatehouse serve` as a real process on loopback ports; killed when the test ends. */
function serve(t: TestContext, args: string[]): Serving {
  const child = spawn(process.execPath, [CLI, 'serve', '--grpc-address', '127.0.0.1:0', '--admin-address', '127.0.0.1:0', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH ?? '' },
  });
  t.after(() => child.kill('SIGKILL'));
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<{ code: number | null; signal: string | null; at: number }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal, at: Date.now() })),
  );
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    started: async () => {
      await eventually(() => out.includes('gatehouse started'), 20_000, `startup log; stderr: ${err}`);
      return JSON.parse(out.split('\n').find((l) => l.includes('gatehouse started')) ?? '{}') as { grpcPort: number; adminPort: number };
    },
  };
}

describe('gatehouse serve', () => {
  it('serves the examples, answers a Check, reports ready, and exits 0 on SIGTERM', async (t) => {
    const g = serve(t, ['--policies', join(ROOT, 'deploy', 'examples')]);
    const started = await g.started();
    const ready = await fetch(`http://127.0.0.1:${started.adminPort}/readyz`);
    assert.equal(ready.status, 200);
    assert.equal(await ready.text(), 'ready\n');
    assert.equal((await fetch(`http://127.0.0.1:${started.adminPort}/healthz`)).status, 200);
    const envoy = createEnvoyClient(`127.0.0.1:${started.grpcPort}`);
    const res = await envoy.check({ host: 'api.shop.example.com', path: '/orders', headers: { apikey: 'acme-demo-key-7c1f0e' } });
    envoy.close();
    assert.equal(res.kind, 'ok');
    if (res.kind === 'ok') assert.deepEqual(res.ok.headers[0], { key: 'x-consumer-id', value: 'acme', append: false });
    g.child.kill('SIGTERM');
    assert.deepEqual(await g.exited.then(({ code, signal }) => ({ code, signal })), { code: 0, signal: null });
    assert.equal(g.stderr(), 'gatehouse: SIGTERM, shutting down\n');
  });
});

describe('gatehouse serve stops in bounded time whatever Redis does', { timeout: 120_000 }, () => {
  // --shutdown-delay 0s --shutdown-grace 1s: the process must be gone within delay + grace + 1 s.
  const BUDGET_MS = 0 + 1000 + 1000;
  const faults: { name: string; inject: (r: RedisServer) => Promise<void> | void }[] = [
    { name: 'killed (SIGKILL: connections refused)', inject: (r) => r.kill() },
    { name: 'stalled (SIGSTOP: connections open, nothing answers)', inject: (r) => r.pause() },
  ];
  for (const fault of faults) {
    it(`SIGTERM with Redis ${fault.name} while session Checks stream in: exit 0 within ${BUDGET_MS} ms`, async (t) => {
      const redis = await startRedis();
      t.after(() => redis.stop());
      const g = serve(t, ['--policies', redisPolicyDir(), '--redis-url', redis.url, '--shutdown-delay', '0s', '--shutdown-grace', '1s']);
      const envoy = createEnvoyClient(`127.0.0.1:${(await g.started()).grpcPort}`);
      t.after(() => envoy.close());
      const login = await envoy.check({ host: SESSION_HOST, path: '/', headers: { apikey: API_KEY } });
      const cookie = (login.kind === 'ok' ? login.ok.responseHeadersToAdd[0]?.value ?? '' : '').split(';')[0] ?? '';
      assert.match(cookie, /^gh_session=/);
      // Eight Checks in flight at all times, each reading the session from Redis, until the exit.
      let running = true;
      const answers = new Map<string, number>();
      const load = Array.from({ length: 8 }, async () => {
        while (running) {
          const res = await envoy.check({ host: SESSION_HOST, path: '/', headers: { cookie } }, { deadlineMs: 3000 }).catch(() => undefined);
          if (!running || res === undefined) return;
          const name = res.kind === 'denied' ? `${res.denied.status} ${res.message}` : res.kind;
          answers.set(name, (answers.get(name) ?? 0) + 1);
        }
      });
      await fault.inject(redis);
      await eventually(() => (answers.get('503 session_store_unavailable') ?? 0) >= 8, 5000, 'session Checks answered 503');
      const sent = Date.now();
      g.child.kill('SIGTERM');
      const { code, signal, at } = await g.exited;
      running = false;
      await Promise.all(load);
      const tookMs = at - sent;
      t.diagnostic(`exit ${code} after ${tookMs} ms; answers ${JSON.stringify(Object.fromEntries(answers))}`);
      assert.deepEqual({ code, signal }, { code: 0, signal: null });
      assert.ok(tookMs <= BUDGET_MS, `exited ${tookMs} ms after SIGTERM`);
      assert.equal(g.stderr(), 'gatehouse: SIGTERM, shutting down\n');
      assert.match(g.stdout(), /"msg":"gatehouse stopped"/);
      assert.doesNotMatch(g.stdout(), /not closed in time/);
    });
  }

  it('SIGTERM while startup still waits for an unreachable Redis: exit 0 at once, nothing served', async (t) => {
    const g = serve(t, ['--policies', redisPolicyDir(), '--redis-url', `redis://127.0.0.1:${await closedPort()}`, '--shutdown-delay', '0s', '--shutdown-grace', '1s']);
    // The revocation client logs each refused connection: startup is inside its Redis wait.
    await eventually(() => g.stdout().includes('ECONNREFUSED'), 20_000, 'a refused Redis connection during startup');
    const sent = Date.now();
    g.child.kill('SIGTERM');
    const { code, signal, at } = await g.exited;
    assert.deepEqual({ code, signal }, { code: 0, signal: null });
    assert.ok(at - sent <= BUDGET_MS, `exited ${at - sent} ms after SIGTERM`);
    assert.equal(g.stderr(), 'gatehouse: SIGTERM, shutting down\n');
    assert.doesNotMatch(g.stdout(), /gatehouse started/);
  });
});

describe('gatehouse serve cannot bind a listener', { timeout: 60_000 }, () => {
  const listeners = [
    { flag: '--admin-address', env: 'GATEHOUSE_ADMIN_ADDRESS', other: '--grpc-address' },
    { flag: '--grpc-address', env: 'GATEHOUSE_GRPC_ADDRESS', other: '--admin-address' },
  ];
  for (const l of listeners) {
    it(`${l.flag} on a port already in use: exit 1 with one line naming the flag, its variable and the address`, async (t) => {
      // A Redis too, so there are connections that must be closed for the process to end.
      const redis = await startRedis();
      t.after(() => redis.stop());
      const taken = createServer();
      await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
      t.after(() => taken.close());
      const address = `127.0.0.1:${(taken.address() as AddressInfo).port}`;
      const g = serve(t, ['--policies', redisPolicyDir(), '--redis-url', redis.url, l.other, '127.0.0.1:0', l.flag, address]);
      const { code, signal } = await g.exited;
      assert.deepEqual({ code, signal }, { code: 1, signal: null });
      assert.equal(g.stderr(), `gatehouse: ${l.flag} (${l.env}) ${address}: address in use\n`);
      assert.doesNotMatch(g.stdout(), /gatehouse started/);
    });
  }
});

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}
