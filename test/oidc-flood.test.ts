// A flood of junk bearer tokens at an `oidc` method cannot become an outage: introspections under way
// at the provider are capped per provider (`introspection.maxInFlight`), callers past the cap wait
// briefly and then get 503 `oidc_introspection_busy`, inactive answers live in a cache of their own
// (so junk never evicts a real token's answer), and what cannot be a token never reaches the provider.
// Against the real in-process OpenID Provider, counting the introspections it receives.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { validatePaths } from '../src/commands/validate.js';
import { GatehouseError } from '../src/core/errors.js';
import { CallGate } from '../src/authn/oidc/call-gate.js';
import { createLogger } from '../src/telemetry/log.js';
import { LogLimiter } from '../src/telemetry/log-limiter.js';
import { dirWith } from './support/cli.js';
import { deniedOf, okOf, type DecodedCheckResponse } from './support/envoy-client.js';
import { eventually, startTestGatehouse, type TestGatehouse } from './support/gatehouse.js';
import { oidcBlock, shopFiles } from './support/oidc-browser.js';
import { API_RESOURCE, startLoginOp, type LoginOp } from './support/oidc-login-op.js';
import { seeded } from './support/random.js';

const BOUNDED = { timeout: 120_000 };
const INTROSPECTION = '/token/introspection';
/** maxInFlight 2: the busy path. */
const NARROW = 'narrow.example.com';
/** The default maxInFlight (64), inactive answers kept 10 minutes: eviction by size only. */
const WIDE = 'wide.example.com';

const CHALLENGE = 'Bearer realm="%s", error="invalid_token"';
const refusal = (host: string, code: string, message: string, status = 401) => ({
  status,
  headers: [
    ...(status === 401 ? [{ key: 'www-authenticate', value: CHALLENGE.replace('%s', host), append: false }] : []),
    { key: 'content-type', value: 'application/json', append: false },
  ],
  body: JSON.stringify({ code, message }),
});
const BUSY = (host: string) => refusal(host, 'oidc_introspection_busy', 'The identity provider is busy; try again in a moment', 503);
const INACTIVE = (host: string) => refusal(host, 'oidc_token_inactive', 'The token is not active');
const INVALID = (host: string) => refusal(host, 'oidc_token_invalid', 'Invalid authentication credentials');

/** A token the provider never issued, well-formed: the provider must be asked about it. */
const junk = (label: string, i: number): string => `junk-${label}-${i}-${'x'.repeat(32)}`;

describe('the call gate', () => {
  const deferred = () => {
    let resolve!: (v: string) => void;
    let reject!: (e: Error) => void;
    const promise = new Promise<string>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };
  const isBusy = (e: unknown): boolean => e instanceof GatehouseError && e.code === 'oidc_introspection_busy' && e.kind === 'unavailable';

  it('runs at most max calls at once, lets waiters in first come first served, and refuses at once past 4 waiters per slot', async () => {
    const gate = new CallGate(2, 'test', 60_000);
    const calls = Array.from({ length: 10 }, deferred);
    const started: number[] = [];
    const results = calls.map((d, i) =>
      gate.run(() => {
        started.push(i);
        return d.promise;
      }),
    );
    const refused = gate.run(() => Promise.resolve('never'));
    await assert.rejects(refused, isBusy);
    assert.deepEqual([gate.active, gate.waiting, gate.queueMax], [2, 8, 8]);
    assert.deepEqual(started, [0, 1]);
    calls[1]?.resolve('one');
    assert.equal(await results[1], 'one');
    assert.deepEqual(started, [0, 1, 2]);
    // A failed call frees its slot too, and its caller hears the failure.
    calls[0]?.reject(new Error('provider down'));
    await assert.rejects(results[0] ?? Promise.resolve(), { message: 'provider down' });
    assert.deepEqual(started, [0, 1, 2, 3]);
    for (const [i, d] of calls.entries()) d.resolve(`r${i}`);
    assert.deepEqual(await Promise.all(results.slice(2)), ['r2', 'r3', 'r4', 'r5', 'r6', 'r7', 'r8', 'r9']);
    assert.deepEqual(started, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.deepEqual([gate.active, gate.waiting], [0, 0]);
  });

  it('a call that waited its time is refused as busy, leaves the queue, and the gate serves later calls', async () => {
    const gate = new CallGate(1, 'test', 10);
    const first = deferred();
    const running = gate.run(() => first.promise);
    let ran = false;
    await assert.rejects(
      gate.run(() => {
        ran = true;
        return Promise.resolve('late');
      }),
      (e: unknown) => isBusy(e) && (e as Error).message === 'test: 1 calls under way, no slot freed in 10 ms',
    );
    assert.equal(ran, false);
    assert.deepEqual([gate.active, gate.waiting], [1, 0]);
    first.resolve('first');
    assert.equal(await running, 'first');
    assert.equal(await gate.run(() => Promise.resolve('next')), 'next');
  });

  it('refuses a limit below 1', () => {
    for (const bad of [0, -1, 1.5, Number.NaN]) assert.throws(() => new CallGate(bad, 'test'), { name: 'RangeError' });
  });
});

describe('introspection.maxInFlight', () => {
  it('takes a whole number from 1 to 1024; validate names the field of any other', async () => {
    const policy = (name: string, value: number): string => `apiVersion: gatehouse.dev/v1alpha1
kind: AuthPolicy
metadata: {name: ${name}, namespace: shop}
spec:
  hosts: [${name}.example.com]
  authentication:
    methods:
      - name: idp
        oidc: {issuer: "https://id.example.com", clientId: api, bearerOnly: true, introspection: {maxInFlight: ${value}}}
`;
    const dir = dirWith({ 'p.yaml': [policy('zero', 0), policy('over', 1025), policy('part', 1.5), policy('one', 1), policy('most', 1024)].join('---\n') });
    try {
      const report = await validatePaths([dir]);
      const field = 'spec.authentication.methods[0].oidc.introspection.maxInFlight';
      assert.deepEqual(report.lines, [
        `${join(dir, 'p.yaml')}:9:99: ${field}: Expected integer to be greater or equal to 1`,
        `${join(dir, 'p.yaml')}:19:99: ${field}: Expected integer to be less or equal to 1024`,
        `${join(dir, 'p.yaml')}:29:99: ${field}: Expected integer`,
      ]);
      assert.deepEqual([report.errors, report.policies], [3, 5]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('a flood of junk bearer tokens at an oidc method', () => {
  let op: LoginOp;
  let g: TestGatehouse;
  /** Warnings and errors only: thousands of Checks are refused with 401, which logs nothing at this level. */
  const logs: string[] = [];
  /** The clock of the warning limiter (10 s windows), moved by the test. */
  let logTime = 0;

  before(async () => {
    op = await startLoginOp();
    const block = (extra: Record<string, unknown>) =>
      oidcBlock(op, { bearerOnly: true, accessTokenAudiences: [API_RESOURCE], logout: undefined, timeout: '60s', ...extra });
    const narrow = shopFiles([op], { methods: [{ name: 'idp', oidc: block({ introspection: { maxInFlight: 2 } }) }], rest: { hosts: [NARROW] } }, 'narrow');
    const wide = shopFiles([], { methods: [{ name: 'idp', oidc: block({ introspection: { inactiveCacheTtl: '10m' } }) }], rest: { hosts: [WIDE] } }, 'wide');
    g = await startTestGatehouse({ ...narrow, 'wide.yaml': wide['policy.yaml'] ?? '' }, {
      logger: createLogger('warn', (line) => void logs.push(line)),
      // The test moves the window's clock; a sweep on the real clock in between would report the window
      // the next line is asserted to carry, so the sweep is an hour away.
      logLimiter: new LogLimiter({ clock: () => logTime, sweepEveryMs: 3_600_000 }),
    });
    await eventually(() => ['narrow', 'wide'].every((p) => g.gatehouse.store.status('shop', p)?.ready === true) && op.requests('/.well-known/openid-configuration') > 0, 10_000, 'discovery');
  });
  after(async () => {
    await g?.stop();
    await op?.close();
  });

  const check = (host: string, token: string): Promise<DecodedCheckResponse> =>
    g.envoy.check({ host, path: '/v1/orders', headers: { authorization: `Bearer ${token}` } }, { deadlineMs: 60_000 });

  it('N distinct junk tokens at once: at most maxInFlight introspections at the provider, the rest wait or get 503 oidc_introspection_busy', BOUNDED, async () => {
    op.resetPeak(INTROSPECTION);
    logs.length = 0;
    const before = op.requests(INTROSPECTION);
    const release = op.hold(INTROSPECTION);
    // 2 under way + 8 waiting (4 per slot) + 20 more, refused at once.
    const answers = Array.from({ length: 30 }, (_, i) => check(NARROW, junk('burst', i)));
    let settled = 0;
    for (const a of answers) void a.then(() => settled++);
    await eventually(() => settled >= 20 && op.inFlight(INTROSPECTION) === 2, 30_000, 'the refusals past the queue, maxInFlight held at the provider');
    release();
    const denied = (await Promise.all(answers)).map(deniedOf);
    const introspected = op.requests(INTROSPECTION) - before;
    assert.equal(op.peakInFlight(INTROSPECTION), 2);
    assert.equal(denied.filter((d) => d.status === 503).length, 30 - introspected);
    assert.ok(introspected >= 2 && introspected <= 10, `introspected ${introspected}`);
    for (const d of denied) assert.deepEqual(d, d.status === 503 ? BUSY(NARROW) : INACTIVE(NARROW));
    // Metrics and the alert on dependencies count the refusals by their code.
    const metrics = await (await fetch(`${g.admin}/metrics`)).text();
    const busy = /^gatehouse_check_total\{[^}]*code="oidc_introspection_busy"[^}]*\} (\d+)$/m.exec(metrics);
    assert.equal(Number(busy?.[1]), 30 - introspected, metrics.split('\n').filter((l) => l.includes('introspection_busy')).join('\n'));
    // And the log: one warning for the whole burst (the rest counted), never with the token.
    const warnings = (): Record<string, unknown>[] =>
      logs
        .splice(0)
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .filter((l) => l.msg === 'check failed')
        .map(({ msg, code, policy, method, status, suppressed }) => ({ msg, code, policy, method, status, suppressed }));
    const warning = { msg: 'check failed', code: 'oidc_introspection_busy', policy: 'shop/narrow', method: undefined, status: 503 };
    assert.deepEqual(logs.filter((l) => l.includes('junk-burst')), []);
    assert.deepEqual(warnings(), [{ ...warning, suppressed: undefined }]);
    // Once the window has passed, the next refusal's line says how many were not logged.
    logTime += 10_000;
    const held = op.hold(INTROSPECTION);
    // 2 under way + 8 waiting + 2 refused at once.
    const more = Array.from({ length: 12 }, (_, i) => check(NARROW, junk('more', i)));
    let refused = 0;
    for (const a of more) void a.then((d) => void (deniedOf(d).status === 503 && refused++));
    await eventually(() => refused >= 2, 30_000, 'the refusals past the queue');
    held();
    await Promise.all(more);
    assert.deepEqual(warnings(), [{ ...warning, suppressed: 30 - introspected - 1 }]);
  });

  // About 20 s alone; several times that on a machine busy with other test files.
  it('a real token stays allowed and cached, with no further introspection, through a junk flood larger than any cache', { timeout: 360_000 }, async () => {
    const { access_token: real } = await op.userTokens('alice');
    assert.equal(okOf(await check(WIDE, real)).headers[0]?.value, 'alice');
    const start = op.requests(INTROSPECTION);
    // More junk than the active answers' cache holds (10,000), the real token unread meanwhile: one
    // cache for both would have evicted it.
    // Waves of maxInFlight (64): no call ever waits for a slot, however slow a busy machine makes the provider.
    const FLOOD = 10_200;
    for (let i = 0; i < FLOOD; i += 64) {
      const wave = await Promise.all(Array.from({ length: Math.min(64, FLOOD - i) }, (_, j) => check(WIDE, junk('flood', i + j))));
      for (const d of wave) assert.deepEqual(deniedOf(d), INACTIVE(WIDE));
    }
    assert.equal(op.requests(INTROSPECTION) - start, FLOOD, 'one introspection per junk token');
    assert.equal(okOf(await check(WIDE, real)).headers[0]?.value, 'alice');
    assert.equal(op.requests(INTROSPECTION) - start, FLOOD, 'none for the real token');
    // Inactive answers are kept 1,000 at most: the newest junk is still known, older junk is asked about again.
    assert.deepEqual(deniedOf(await check(WIDE, junk('flood', FLOOD - 1))), INACTIVE(WIDE));
    assert.equal(op.requests(INTROSPECTION) - start, FLOOD);
    assert.deepEqual(deniedOf(await check(WIDE, junk('flood', FLOOD - 1001))), INACTIVE(WIDE));
    assert.equal(op.requests(INTROSPECTION) - start, FLOOD + 1);
  });

  it('malformed and over-long tokens are refused with 401 oidc_token_invalid and never reach the provider (generated cases)', BOUNDED, async () => {
    const rnd = seeded(6750);
    const b64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/';
    // Visible ASCII outside RFC 6750's b64token, and `=` anywhere but the end.
    const bad = [...'!"#$%&\'()*,:;<>?@[\\]^`{|}', '='];
    const word = (n: number): string => Array.from({ length: n }, () => rnd.pick([...b64])).join('');
    const cases: string[] = [];
    for (let i = 0; i < 200; i++) cases.push(`${word(1 + rnd.int(40))}${rnd.pick(bad)}${word(1 + rnd.int(40))}`);
    for (let i = 0; i < 20; i++) cases.push(`${word(8193 + rnd.int(4000))}`);
    cases.push(`${'a'.repeat(8192)}=`, 'two words', 'a\tb');
    const before = op.requests(INTROSPECTION);
    for (const token of cases) assert.deepEqual(deniedOf(await check(WIDE, token)), INVALID(WIDE), JSON.stringify(token.slice(0, 80)));
    assert.equal(op.requests(INTROSPECTION) - before, 0);
    // At the limits: 8192 characters, trailing `=` padding, every b64token character: asked about, inactive.
    for (const token of ['a'.repeat(8192), 'abc==', b64]) assert.deepEqual(deniedOf(await check(WIDE, token)), INACTIVE(WIDE));
    assert.equal(op.requests(INTROSPECTION) - before, 3);
  });
});
