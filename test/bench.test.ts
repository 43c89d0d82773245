// The Check benchmark measures what it claims: a short run of the real harness (server child process,
// load generator thread) whose sampled answers are the allows and denies the scenarios are named for.
// No timing is asserted: the machine running the tests is shared.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { runBench, type ScenarioResult } from '../bench/harness.js';
import { Histogram } from '../bench/histogram.js';
import { BenchUsageError, parseCli, select } from '../bench/options.js';
import { apiKeyTarget, apiKeyTenant } from '../bench/policies.js';
import { JWT_ALGORITHMS, jwtPolicies, jwtTenant } from '../bench/policies-jwt.js';
import { sessionTenant } from '../bench/policies-session.js';
import { formatTable } from '../bench/report.js';
import type { Scenario } from '../bench/scenarios.js';
import { readServerExtras } from '../bench/server-extras.js';
import type { DecodedHeader } from './support/envoy-client.js';

const SHORT = { durationMs: 500, warmupMs: 200, concurrency: 16, connections: 2, deadlineMs: 5000, timeLimitMs: 90_000 } as const;
const h = (key: string, value: string): DecodedHeader => ({ key, value, append: false });

function gone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

function byName(results: readonly ScenarioResult[], name: string): ScenarioResult {
  const r = results.find((x) => x.name === name);
  assert.ok(r !== undefined, `no result for ${name}`);
  return r;
}

describe('the Check benchmark', () => {
  it('runs no-op, api-key allow and api-key deny with 1 policy over HTTP/2: requests, no errors, the answers they claim', { timeout: 120_000 }, async () => {
    const scenarios = select(['api-key allow (1 policy)', 'api-key deny (1 policy)']);
    assert.deepEqual(scenarios.map((s) => s.name), ['no-op', 'api-key allow (1 policy)', 'api-key deny (1 policy)']);
    const report = await runBench({ scenarios, client: 'http2', ...SHORT });

    assert.equal(report.ok, true, formatTable(report));
    for (const r of report.results) {
      assert.ok(r.requests > 0, `${r.name} completed no request`);
      assert.equal(r.errors, 0, `${r.name}: ${String(r.firstError)}`);
      assert.equal(r.problem, undefined);
      assert.ok(r.samples.length > 0, `${r.name} sampled no response`);
      assert.ok(gone(r.serverPid), `server ${r.serverPid} of ${r.name} is still running`);
      assert.ok(r.rps > 0 && Number.isFinite(r.serverMicrosPerCheck) && r.serverMicrosPerCheck > 0, `${r.name}: ${r.rps} req/s, ${r.serverMicrosPerCheck} µs/Check`);
    }

    const noop = byName(report.results, 'no-op');
    assert.equal(noop.ratio, 1);
    assert.equal(noop.policies, 0);
    for (const s of noop.samples) {
      assert.equal(s.kind, 'ok');
      assert.equal(s.grpcCode, 0);
      if (s.kind === 'ok') assert.deepEqual(s.ok.headers, []);
    }

    const tenant = apiKeyTenant(apiKeyTarget(1));
    const allow = byName(report.results, 'api-key allow (1 policy)');
    assert.equal(allow.policies, 1);
    for (const s of allow.samples) {
      assert.equal(s.kind, 'ok', JSON.stringify(s));
      assert.equal(s.grpcCode, 0);
      if (s.kind !== 'ok') continue;
      assert.deepEqual(s.ok.headers, [h('x-consumer-id', tenant.consumerId), h('x-credential-identifier', 'bench/tenant-0-key'), h('x-authenticated-groups', 'tenants')]);
      assert.deepEqual(s.ok.headersToRemove, ['x-consumer-username', 'x-consumer-custom-id', 'x-anonymous-consumer', 'apikey']);
    }

    const deny = byName(report.results, 'api-key deny (1 policy)');
    for (const s of deny.samples) {
      assert.equal(s.kind, 'denied', JSON.stringify(s));
      assert.equal(s.grpcCode, 16);
      assert.equal(s.message, 'key_unknown');
      if (s.kind !== 'denied') continue;
      assert.equal(s.denied.status, 401);
      assert.deepEqual(s.denied.headers, [h('www-authenticate', 'Key realm="bench"'), h('content-type', 'application/json')]);
      assert.deepEqual(JSON.parse(s.denied.body), { code: 'key_unknown', message: 'Invalid authentication credentials' });
    }

    const table = formatTable(report);
    for (const r of report.results) assert.match(table, new RegExp(`^\\| ${r.name.replace(/[()]/g, '\\$&')} `, 'm'));
  });

  it('runs the JWT scenarios: every algorithm allowed with the token\'s identity, first-seen on a server without the token cache', { timeout: 120_000 }, async () => {
    const report = await runBench({ scenarios: select(['jwt allow']), client: 'http2', ...SHORT });
    assert.equal(report.ok, true, formatTable(report));
    assert.equal(report.results.length, 7);
    for (const alg of JWT_ALGORITHMS) {
      const t = jwtTenant(alg);
      const [cached, firstSeen] = ['cached', 'first-seen'].map((label) => byName(report.results, `jwt allow (${alg}, ${label})`));
      assert.ok(cached !== undefined && firstSeen !== undefined);
      assert.notEqual(cached.serverPid, firstSeen.serverPid);
      for (const r of [cached, firstSeen]) {
        assert.equal(r.policies, 3);
        assert.equal(r.errors, 0, `${r.name}: ${String(r.firstError)}`);
        assert.ok(gone(r.serverPid), `server ${r.serverPid} of ${r.name} is still running`);
        for (const s of r.samples) {
          assert.equal(s.kind, 'ok', JSON.stringify(s));
          if (s.kind !== 'ok') continue;
          assert.deepEqual(s.ok.headers, [h('x-consumer-id', t.consumerId), h('x-credential-identifier', t.jti), h('x-authenticated-groups', 'partners, bench')]);
          assert.deepEqual(s.ok.headersToRemove, ['x-consumer-username', 'x-consumer-custom-id', 'x-anonymous-consumer', 'authorization']);
        }
      }
    }
    // What makes first-seen first-seen: its server is told to keep no verified tokens.
    const dirs = [true, false].map((tokenCache) => {
      const dir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-test-'));
      assert.equal(jwtPolicies({ tokenCache }).write(dir), 3);
      return dir;
    });
    try {
      assert.deepEqual(dirs.map((d) => readServerExtras(d)), [{}, { jwtTokenCacheSize: 0 }]);
    } finally {
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    }
  });

  it('runs the session scenarios: a sealed cookie and a Redis session each allowed as their user, no renewal', { timeout: 120_000 }, async () => {
    const report = await runBench({ scenarios: select(['session allow']), client: 'http2', ...SHORT });
    assert.equal(report.ok, true, formatTable(report));
    assert.deepEqual(report.results.map((r) => r.name), ['no-op', 'session allow (cookie)', 'session allow (redis)']);
    for (const storage of ['cookie', 'redis'] as const) {
      const t = sessionTenant(storage);
      const r = byName(report.results, `session allow (${storage})`);
      assert.equal(r.policies, 1);
      assert.equal(r.errors, 0, `${r.name}: ${String(r.firstError)}`);
      assert.ok(gone(r.serverPid), `server ${r.serverPid} of ${r.name} is still running`);
      for (const s of r.samples) {
        assert.equal(s.kind, 'ok', JSON.stringify(s));
        if (s.kind !== 'ok') continue;
        assert.deepEqual(s.ok.headers, [
          h('x-consumer-id', t.consumerId),
          h('x-consumer-username', t.username),
          h('x-credential-identifier', `bench/web-${storage}-login`),
          h('x-authenticated-groups', 'browsers'),
        ]);
        assert.deepEqual(s.ok.headersToRemove, ['x-consumer-custom-id', 'x-anonymous-consumer', 'cookie']);
        assert.deepEqual(s.ok.responseHeadersToAdd, []);
      }
    }
  });

  it('a scenario whose answers are not what it is named for fails the report', { timeout: 120_000 }, async () => {
    const [allow, deny] = select(['api-key allow (1 policy)', 'api-key deny (1 policy)']).slice(1);
    assert.ok(allow !== undefined && deny !== undefined);
    // Sends the unknown key but claims to measure allows.
    const mislabelled: Scenario = { name: 'mislabelled', server: deny.server, request: deny.request, expect: allow.expect };
    // Through the grpc-js client, so both load clients are shown to return the server's real bytes.
    const report = await runBench({ scenarios: [mislabelled], client: 'grpc-js', ...SHORT });
    assert.equal(report.ok, false);
    const r = byName(report.results, 'mislabelled');
    assert.equal(r.ratio, undefined);
    assert.equal(r.errors, 0);
    assert.match(r.problem ?? '', /^expected an allow, got denied \(status 16 key_unknown\)$/);
    assert.match(formatTable(report), /WRONG: expected an allow/);
    assert.ok(gone(r.serverPid));
  });

  it('its latency histogram is exact below 128 µs and within 1% above, also after a round trip through its counts', () => {
    const small = new Histogram();
    for (const v of [0, 5, 127, 127.9]) small.record(v);
    assert.deepEqual([small.quantile(0.25), small.quantile(0.5), small.quantile(0.75), small.total], [0, 5, 127, 4]);
    const h = new Histogram();
    for (let v = 1; v <= 100_000; v++) h.record(v);
    const copy = new Histogram(h.counts);
    assert.equal(copy.total, 100_000);
    for (const q of [0.5, 0.9, 0.99, 0.999]) {
      for (const got of [h.quantile(q), copy.quantile(q)]) {
        assert.ok(Math.abs(got - q * 100_000) <= q * 1000, `p${q * 100} = ${got}`);
      }
    }
    assert.ok(Number.isNaN(new Histogram().quantile(0.5)));
    assert.throws(() => new Histogram([1, 2, 3]), RangeError);
  });

  it('reads its flags and BENCH_* variables, and refuses bad ones by name', () => {
    const defaults = parseCli([], {});
    assert.equal(defaults.bench.durationMs, 5000);
    assert.equal(defaults.bench.warmupMs, 1000);
    assert.equal(defaults.bench.concurrency, 64);
    assert.equal(defaults.bench.client, 'http2');
    assert.equal(parseCli(['--client', 'grpc-js'], {}).bench.client, 'grpc-js');
    assert.throws(() => parseCli([], { BENCH_CLIENT: 'curl' }), { message: 'BENCH_CLIENT: "curl" is not one of grpc-js, http2' });
    assert.deepEqual(defaults.bench.scenarios.map((s) => s.name), [
      'no-op',
      'api-key allow (1 policy)',
      'api-key deny (1 policy)',
      'api-key allow (10,000 policies)',
      'api-key deny (10,000 policies)',
      'jwt allow (HS256, cached)',
      'jwt allow (RS256, cached)',
      'jwt allow (ES256, cached)',
      'jwt allow (HS256, first-seen)',
      'jwt allow (RS256, first-seen)',
      'jwt allow (ES256, first-seen)',
      'session allow (cookie)',
      'session allow (redis)',
    ]);
    assert.ok(defaults.bench.timeLimitMs < 300_000, `default time limit ${defaults.bench.timeLimitMs} ms`);
    assert.equal(parseCli([], { BENCH_DURATION: '0.5' }).bench.durationMs, 500);
    assert.equal(parseCli(['--duration', '2s'], { BENCH_DURATION: '0.5' }).bench.durationMs, 2000);
    assert.equal(parseCli(['--duration=750ms', '--json'], {}).json, true);
    assert.throws(() => parseCli(['--duration', 'soon'], {}), { name: 'BenchUsageError', message: /^--duration: "soon" is not a duration/ });
    assert.throws(() => parseCli([], { BENCH_CONCURRENCY: '0' }), { message: /^BENCH_CONCURRENCY: "0" is not a whole number from 1 to 10000$/ });
    assert.throws(() => parseCli(['--scenario', 'oidc'], {}), { message: '--scenario "oidc" matches no scenario' });
    assert.throws(() => parseCli(['--fast'], {}), (e: unknown) => e instanceof BenchUsageError && e.code === 'bench_usage' && e.message === 'unknown flag --fast');
  });
});
