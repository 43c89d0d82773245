// The `gatehouse` command as a user runs it: help and version, validate, settings errors, serve on the
// examples, and how serve ends: SIGTERM with Redis dead or stalled, or a listener that cannot bind.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type AddressInfo } from 'node:net';
import { describe, it, type TestContext } from 'node:test';
import { CHECK_FLAGS } from '../src/commands/check.js';
import { TOKEN_FLAGS } from '../src/commands/token.js';
import { VALIDATE_FLAGS } from '../src/commands/validate.js';
import { envName, type Flag } from '../src/args/flags.js';
import { SETTINGS } from '../src/service/settings.js';
import { CLI, closedPort, ROOT, run } from './support/cli.js';
import { createEnvoyClient } from './support/envoy-client.js';
import { eventually } from './support/gatehouse.js';
import { startRedis, type RedisServer } from './support/redis.js';
import { API_KEY, redisPolicyDir, SESSION_HOST } from './support/redis-policies.js';

const USAGE = `usage: gatehouse <command> [flags]

commands:
  serve [flags]               run the ext_authz gRPC server and the admin endpoint
  validate <file|dir>...      check AuthPolicy and Secret manifests as serve would compile them
  check --host <host> ...     ask a running server about one request and print its decision
  token mint|revoke [flags]   issue a token with a policy's jwt method, or revoke tokens
  crd                         print the AuthPolicy CustomResourceDefinition
  explain [flags]             why serve would allow or refuse a request, phase by phase
  test <file|dir>... [flags]  check requests against the answers expected (policy tests)
  help [command]              this text, or a command's flags (also: gatehouse <command> --help)

gatehouse --version prints the version.
`;

describe('gatehouse help and version', () => {
  it('--version prints the version in package.json', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    assert.match(pkg.version, /^\d+\.\d+\.\d+/);
    assert.deepEqual(run(['--version']), { status: 0, stdout: `${pkg.version}\n`, stderr: '' });
  });

  it('help, --help and -h print the commands; no command at all prints them as an error', () => {
    for (const help of ['help', '--help', '-h']) assert.deepEqual(run([help]), { status: 0, stdout: USAGE, stderr: '' }, help);
    assert.deepEqual(run([]), { status: 2, stdout: '', stderr: USAGE });
  });

  it('an unknown command exits 2 with the nearest command, if any, and the usage', () => {
    assert.deepEqual(run(['serv']), { status: 2, stdout: '', stderr: `gatehouse: unknown command "serv"; did you mean serve?\n${USAGE}` });
    assert.deepEqual(run(['help', 'tokn']), { status: 2, stdout: '', stderr: `gatehouse: unknown command "tokn"; did you mean token?\n${USAGE}` });
    assert.deepEqual(run(['deploy']), { status: 2, stdout: '', stderr: `gatehouse: unknown command "deploy"\n${USAGE}` });
  });

  const tables: [string, readonly Flag[]][] = [
    ['serve', SETTINGS],
    ['token', [...TOKEN_FLAGS.mint, ...TOKEN_FLAGS.revoke]],
    ['validate', VALIDATE_FLAGS],
    ['check', CHECK_FLAGS],
    ['crd', []],
  ];
  for (const [command, rows] of tables) {
    it(`gatehouse ${command} --help and gatehouse help ${command} list every flag of its table with its variable and default`, () => {
      const help = run([command, '--help']);
      assert.equal(help.stderr, '');
      assert.equal(help.status, 0);
      assert.deepEqual(run(['help', command]), help);
      assert.ok(help.stdout.startsWith(`usage: gatehouse ${command}`), help.stdout);
      assert.ok(help.stdout.endsWith('  -h, --help\n      print this help\n'), help.stdout);
      for (const row of rows) {
        const metavar = row.metavar ?? row.type.metavar;
        const more = [row.required === true ? 'required' : '', row.env === true ? envName(row.flag) : '', row.fallback ? `default ${row.fallback}` : ''].filter((m) => m !== '');
        const names = `${row.short === undefined ? '' : `-${row.short}, `}--${row.flag}`;
        const block = [`  ${names}${metavar === '' ? '' : ` ${metavar}`}`, `      ${row.help}`, ...(more.length === 0 ? [] : [`      ${more.join(', ')}`])];
        assert.ok(help.stdout.includes(`\n${block.join('\n')}\n`), `--${row.flag} is listed as\n${block.join('\n')}\n--- got:\n${help.stdout}`);
      }
      // Nothing listed that the table does not hold (token lists its shared rows once per subcommand).
      assert.equal(help.stdout.split('\n').filter((l) => /^  (-\w, )?--/.test(l) && l !== '  -h, --help').length, rows.length);
    });
  }

  it('serve -h reads as written: a flag, what it does, its variable and default', () => {
    const { stdout } = run(['serve', '-h']);
    assert.ok(
      stdout.startsWith(`usage: gatehouse serve [flags]

Runs the ext_authz gRPC server and the admin endpoint. Every flag is also an environment
variable (named under it); a flag wins over its variable.

flags:
  --policies <file|dir>
      AuthPolicy/Secret YAML files or directories (repeatable, or comma separated)
      GATEHOUSE_POLICIES
  --kubernetes
      read AuthPolicies and Secrets from the Kubernetes API (default in a pod without --policies)
      GATEHOUSE_KUBERNETES
`),
      stdout,
    );
    assert.ok(stdout.includes('\n  --log-level <debug|info|warn|error>\n      least severe level logged\n      GATEHOUSE_LOG_LEVEL, default info\n'), stdout);
  });

  it('crd --help: a command without flags still says so', () => {
    assert.deepEqual(run(['crd', '--help']), {
      status: 0,
      stderr: '',
      stdout: `usage: gatehouse crd

Prints the AuthPolicy CustomResourceDefinition (YAML), generated from the policy schema.

flags:
  -h, --help
      print this help
`,
    });
    assert.deepEqual(run(['crd', 'extra']), { status: 2, stdout: '', stderr: 'gatehouse crd: unexpected argument "extra"\n' });
  });
});

describe('gatehouse serve settings', () => {
  it('a bad flag value exits 2 naming the flag and its variable', () => {
    const r = run(['serve', '--policies', join(ROOT, 'deploy', 'examples'), '--grpc-address', 'nowhere']);
    assert.deepEqual(r, { status: 2, stdout: '', stderr: 'gatehouse: invalid --grpc-address (GATEHOUSE_GRPC_ADDRESS): "nowhere" is not host:port\n' });
  });

  it('a bad environment value exits 2 naming the variable and its flag', () => {
    const r = run(['serve', '--policies', join(ROOT, 'deploy', 'examples')], { GATEHOUSE_LOG_LEVEL: 'loud' });
    assert.deepEqual(r, { status: 2, stdout: '', stderr: 'gatehouse: invalid GATEHOUSE_LOG_LEVEL (--log-level): "loud" is not one of debug, info, warn, error\n' });
  });

  it('a misspelt flag exits 2 with the flag it is closest to, and its value is not a second problem', () => {
    const r = run(['serve', '--policies', join(ROOT, 'deploy', 'examples'), '--grpc-adress', '127.0.0.1:9001']);
    assert.deepEqual(r, { status: 2, stdout: '', stderr: 'gatehouse: unknown flag --grpc-adress; did you mean --grpc-address?\n' });
  });

  it('a flag like no other exits 2 pointing at serve --help', () => {
    const r = run(['serve', '--frobnicate']);
    assert.deepEqual(r, { status: 2, stdout: '', stderr: 'gatehouse: unknown flag --frobnicate (gatehouse serve --help lists the flags)\n' });
  });

  it('a misspelt GATEHOUSE_ variable is a warning with the nearest name; Kubernetes service links pass silently', () => {
    // What a pod gets for Services named gatehouse and gatehouse-metrics, unless enableServiceLinks is false.
    const links = {
      GATEHOUSE_SERVICE_HOST: '10.96.0.12',
      GATEHOUSE_SERVICE_PORT: '9001',
      GATEHOUSE_SERVICE_PORT_GRPC: '9001',
      GATEHOUSE_PORT: 'tcp://10.96.0.12:9001',
      GATEHOUSE_PORT_9001_TCP: 'tcp://10.96.0.12:9001',
      GATEHOUSE_PORT_9001_TCP_PROTO: 'tcp',
      GATEHOUSE_PORT_9001_TCP_PORT: '9001',
      GATEHOUSE_PORT_9001_TCP_ADDR: '10.96.0.12',
      GATEHOUSE_METRICS_SERVICE_HOST: '10.96.0.13',
      GATEHOUSE_METRICS_PORT_9090_TCP_ADDR: '10.96.0.13',
    };
    const r = run(['serve'], { ...links, GATEHOUSE_POLICES: join(ROOT, 'deploy', 'examples') });
    assert.deepEqual(r, {
      status: 2,
      stdout: '',
      stderr: [
        'gatehouse: warning: GATEHOUSE_POLICES is not a setting and is ignored; did you mean GATEHOUSE_POLICIES?',
        'gatehouse: no policy source: give --policies (GATEHOUSE_POLICIES) or --kubernetes (GATEHOUSE_KUBERNETES)',
        '',
      ].join('\n'),
    });
  });

  it('a --redis-url with a scheme Redis does not speak exits 2 naming the flag, before any connection is tried', () => {
    const examples = join(ROOT, 'deploy', 'examples');
    assert.deepEqual(run(['serve', '--policies', examples, '--redis-url', 'http://user:hunter2@cache:6379']), {
      status: 2,
      stdout: '',
      stderr: 'gatehouse: invalid --redis-url (GATEHOUSE_REDIS_URL): unknown scheme; use one of redis, rediss, redis+sentinel, rediss+sentinel, redis+cluster, rediss+cluster\n',
    });
    assert.deepEqual(run(['serve', '--policies', examples], { GATEHOUSE_REDIS_URL: 'redis://cache:6379/zero' }), {
      status: 2,
      stdout: '',
      stderr: 'gatehouse: invalid GATEHOUSE_REDIS_URL (--redis-url): db must be a number\n',
    });
  });

  it('--policies naming a path that does not exist exits 2 saying so, for each such path', () => {
    const r = run(['serve', '--policies', 'deploy/exampels', '--policies', `${join(ROOT, 'README.md')}/policies`]);
    assert.deepEqual(r, {
      status: 2,
      stdout: '',
      stderr: [
        'gatehouse: --policies (GATEHOUSE_POLICIES) deploy/exampels: no such file or directory',
        `gatehouse: --policies (GATEHOUSE_POLICIES) ${join(ROOT, 'README.md')}/policies: no such file or directory (a part of it is a file)`,
        '',
      ].join('\n'),
    });
  });

  it('--kubernetes with no cluster configured exits 1 at once with one line saying what was looked for', () => {
    const home = mkdtempSync(join(tmpdir(), 'gatehouse-home-'));
    const listeners = ['--grpc-address', '127.0.0.1:0', '--admin-address', '127.0.0.1:0', '--http-address', '127.0.0.1:0'];
    // An exit at all (within run's bound) is the point: client-node alone would retry localhost:8080 for ever.
    assert.deepEqual(run(['serve', '--kubernetes', ...listeners], { HOME: home }), {
      status: 1,
      stdout: '',
      stderr:
        `gatehouse: --kubernetes: no cluster configured: KUBECONFIG is not set, ${home}/.kube/config does not exist and this is not a pod ` +
        '(no /var/run/secrets/kubernetes.io/serviceaccount/token); point KUBECONFIG at a kubeconfig, or read policy files with --policies\n',
    });
    assert.deepEqual(run(['serve', '--kubernetes', ...listeners], { HOME: home, KUBECONFIG: join(home, 'kubeconfig') }), {
      status: 1,
      stdout: '',
      stderr: `gatehouse: --kubernetes: KUBECONFIG names ${join(home, 'kubeconfig')}, which does not exist\n`,
    });
    writeFileSync(join(home, 'kubeconfig'), 'apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n');
    assert.deepEqual(run(['serve', '--kubernetes', ...listeners], { HOME: home, KUBECONFIG: join(home, 'kubeconfig') }), {
      status: 1,
      stdout: '',
      stderr: `gatehouse: --kubernetes: the kubeconfig (${join(home, 'kubeconfig')}) has no current context with a cluster; choose one with kubectl config use-context\n`,
    });
  });

  it('--policies with --kubernetes exits 2 before anything is dialled', async () => {
    const r = run(['serve', '--policies', join(ROOT, 'deploy', 'examples'), '--redis-url', `redis://127.0.0.1:${await closedPort()}`], { GATEHOUSE_KUBERNETES: 'true' });
    // No log line at all: no Redis connection was tried, no kubeconfig read.
    assert.deepEqual(r, {
      status: 2,
      stdout: '',
      stderr: 'gatehouse: --policies (GATEHOUSE_POLICIES) and GATEHOUSE_KUBERNETES (--kubernetes) are both given: read policies from files or from Kubernetes, not both\n',
    });
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

/** `gatehouse serve` as a real process on loopback ports, without a shutdown delay; killed when the test ends. */
function serve(t: TestContext, args: string[]): Serving {
  // No shutdown delay unless a test asks for one (later flags win): nothing here drains a load balancer.
  const child = spawn(process.execPath, [CLI, 'serve', '--grpc-address', '127.0.0.1:0', '--admin-address', '127.0.0.1:0', '--http-address', '127.0.0.1:0', '--shutdown-delay', '0s', ...args], {
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
  // No shutdown delay, --shutdown-grace 1s: the process must be gone within delay + grace + 1 s.
  const BUDGET_MS = 0 + 1000 + 1000;
  const faults: { name: string; inject: (r: RedisServer) => Promise<void> | void }[] = [
    { name: 'killed (SIGKILL: connections refused)', inject: (r) => r.kill() },
    { name: 'stalled (SIGSTOP: connections open, nothing answers)', inject: (r) => r.pause() },
  ];
  for (const fault of faults) {
    it(`SIGTERM with Redis ${fault.name} while session Checks stream in: exit 0 within ${BUDGET_MS} ms`, async (t) => {
      const redis = await startRedis();
      t.after(() => redis.stop());
      const g = serve(t, ['--policies', redisPolicyDir(), '--redis-url', redis.url, '--shutdown-grace', '1s']);
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
    const g = serve(t, ['--policies', redisPolicyDir(), '--redis-url', `redis://127.0.0.1:${await closedPort()}`, '--shutdown-grace', '1s']);
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
    { flag: '--http-address', env: 'GATEHOUSE_HTTP_ADDRESS', other: '--grpc-address' },
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
