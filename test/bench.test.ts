// The Check benchmark measures what it claims: short runs of the real instrument (server child
// processes, h2load pinned to its own core) whose verified answers are the allows and denies the
// scenarios are named for, and a scenario that measures the wrong path fails the run.
// No timing is asserted: the machine running the tests is shared.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { h2loadArgs, logQuantiles, parseH2loadOutput } from '../bench/h2load.js';
import { type BenchReport, median, pairedMedian, runBench, type ScenarioResult } from '../bench/harness.js';
import { parseServerCommand, parseServerMessage } from '../bench/protocol.js';
import { BenchUsageError, parseCli, QUICK, select } from '../bench/options.js';
import { apiKeyPolicies, apiKeyTarget, apiKeyTenant } from '../bench/policies.js';
import { OIDC_TENANT } from '../bench/policies-oidc.js';
import { sessionTenant } from '../bench/policies-session.js';
import { jwtPolicies, jwtTenant } from '../bench/policies-jwt.js';
import { readServerExtras } from '../bench/server-extras.js';
import { goalRows } from '../bench/goals.js';
import { formatTable } from '../bench/report.js';
import { nodeFlagsFor } from '../bench/servers.js';
import { SERVING_NODE_FLAGS } from '../src/service/startup-heap.js';
import type { Scenario } from '../bench/scenarios.js';
import type { Sample } from '../bench/window.js';
import type { DecodedHeader } from './support/envoy-client.js';

const h = (key: string, value: string): DecodedHeader => ({ key, value, append: false });
/**
 * Windows long enough to carry requests on a machine busy with other tests (250 ms once completed none
 * while two other test files ran), short enough for a test.
 */
const TINY = { rounds: 1, durationMs: 1000, warmupMs: 200, rateDurationMs: 1000, deadlineMs: 5000, timeLimitMs: 110_000 } as const;

function gone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

function byName(report: BenchReport, name: string): ScenarioResult {
  const r = report.results.find((x) => x.name === name);
  assert.ok(r !== undefined, `no result for ${name}`);
  return r;
}

function grpcHeaders(sample: Sample | undefined): { headers: readonly DecodedHeader[]; remove: readonly string[] } {
  assert.ok(sample?.transport === 'grpc' && sample.response.kind === 'ok', JSON.stringify(sample));
  return { headers: sample.response.ok.headers, remove: sample.response.ok.headersToRemove };
}

describe('the Check benchmark', () => {
  it("servers start with node's serving flags as the image runs gatehouse, or as BENCH_NODE_FLAGS says", () => {
    const gatehouse = { kind: 'gatehouse', policiesDir: '/p' } as const;
    const noop = { kind: 'noop' } as const;
    assert.deepEqual([nodeFlagsFor(gatehouse, undefined), nodeFlagsFor(noop, undefined), nodeFlagsFor(noop, '')], [SERVING_NODE_FLAGS, [], []]);
    assert.deepEqual([nodeFlagsFor(gatehouse, 'serving'), nodeFlagsFor(noop, 'serving')], [SERVING_NODE_FLAGS, SERVING_NODE_FLAGS]);
    assert.deepEqual([nodeFlagsFor(gatehouse, 'none'), nodeFlagsFor(noop, 'none')], [[], []]);
    assert.throws(() => nodeFlagsFor(noop, 'fast'), /BENCH_NODE_FLAGS must be serving or none, not fast/);
  });

  it('--quick measures an API-key Check over gRPC and nginx forward-auth against their no-op floors, every figure filled in', { timeout: 90_000 }, async () => {
    const cli = parseCli(['--quick'], {});
    // Envoy's 1 s deadline can pass on a machine busy with other tests, and a 300 ms window can carry no
    // answer: a test asks for verified answers, not speed.
    // The fixed-rate window gets its own length, longer than the others here, and is sized by it.
    const rateDurationMs = 1500;
    const report = await runBench({ ...cli.bench, deadlineMs: TINY.deadlineMs, durationMs: TINY.durationMs, rateDurationMs });
    assert.equal(report.ok, true, formatTable(report));
    assert.deepEqual([report.rounds, report.durationMs, report.warmupMs, report.rateDurationMs], [QUICK.rounds, TINY.durationMs, QUICK.warmupMs, rateDurationMs]);
    assert.deepEqual(report.results.map((r) => [r.name, r.transport, r.policies]), [
      ['api-key allow (1 policy)', 'grpc', 1],
      ['forward-auth allow (nginx, api-key)', 'http', 1],
    ]);
    for (const r of report.results) {
      assert.ok(gone(r.serverPid), `server ${r.serverPid} of ${r.name} is still running`);
      for (const f of [r.gatehouse, r.floor]) {
        for (const v of [f.rps, f.meanMicros, f.p50Micros, f.p99Micros, f.p999Micros, f.bytesPerCheck, f.serverCpu]) assert.ok(Number.isFinite(v) && v > 0, `${r.name}: ${JSON.stringify(f)}`);
        // CPU time comes in 10 ms clock ticks: a short window of h2load may read 0.
        assert.ok(Number.isFinite(f.loadCpu) && f.loadCpu >= 0, `${r.name}: ${JSON.stringify(f)}`);
        assert.ok(f.p50Micros <= f.p99Micros && f.p99Micros <= f.p999Micros, `${r.name}: ${JSON.stringify(f)}`);
        // The fixed rate asked is half the floor's best throughput (at most 90% of gatehouse's), the same for both servers.
        assert.equal(f.rate, Math.max(1, Math.floor(Math.min(r.floor.rps / 2, r.gatehouse.rps * 0.9))));
        assert.ok(Number.isFinite(f.achievedRate) && f.achievedRate > 0, `${r.name}: ${JSON.stringify(f)}`);
        // h2load -n: connections × the requests each sends at its share of the rate over warm-up + the fixed-rate window.
        const connections = r.transport === 'http' ? 16 : 10;
        assert.equal(f.rateRequests, connections * Math.ceil((f.rate * (QUICK.warmupMs + rateDurationMs)) / 1000 / connections), `${r.name}: ${JSON.stringify(f)}`);
        assert.ok(Number.isInteger(f.lateChecks) && f.lateChecks >= 0, `${r.name}: ${JSON.stringify(f)}`);
      }
      assert.equal(r.ratio, r.gatehouse.rps / r.floor.rps);
      assert.equal(r.addedMicros, r.gatehouse.meanMicros - r.floor.meanMicros);
      // One round: each window is its server's best, and the paired figures are the best-of ones.
      for (const f of [r.gatehouse, r.floor, r.beside]) assert.deepEqual([f.rpsByRound, f.meanByRound], [[f.rps], [f.meanMicros]], `${r.name}: ${JSON.stringify(f)}`);
      assert.deepEqual([r.pairedRatio, r.pairedAddedMicros], [r.ratio, r.addedMicros]);
      assert.deepEqual([r.besidePairedRatio, r.besidePairedAddedMicros], [r.besideRatio, r.besideAddedMicros]);
      for (const f of [r.gatehouse, r.floor, r.beside]) {
        for (const v of [f.rps, f.meanMicros, f.cpuMicrosPerCheck, f.cpuMicrosPerCheckAt1]) assert.ok(Number.isFinite(v) && v > 0, `${r.name}: ${JSON.stringify(f)}`);
      }
      // The same-process floor runs throughput and latency windows only.
      for (const v of [r.beside.achievedRate, r.beside.p50Micros, r.beside.bytesPerCheck]) assert.ok(Number.isNaN(v), `${r.name}: ${JSON.stringify(r.beside)}`);
      assert.equal(r.besideRatio, r.gatehouse.rps / r.beside.rps);
      assert.equal(r.besideAddedMicros, r.gatehouse.meanMicros - r.beside.meanMicros);
      assert.equal(r.besideAddedCpuMicros, r.gatehouse.cpuMicrosPerCheck - r.beside.cpuMicrosPerCheck);
      assert.equal(r.besideAddedCpuMicrosAt1, r.gatehouse.cpuMicrosPerCheckAt1 - r.beside.cpuMicrosPerCheckAt1);
      assert.ok(r.rssIdleBytes > 10e6 && r.rssAfterBytes > 10e6, `${r.name}: RSS ${r.rssIdleBytes} / ${r.rssAfterBytes}`);
    }
    const tenant = apiKeyTenant(apiKeyTarget(1));
    const grpc = grpcHeaders(byName(report, 'api-key allow (1 policy)').sample);
    assert.deepEqual(grpc.headers, [h('x-consumer-id', tenant.consumerId), h('x-credential-identifier', 'bench/tenant-0-key'), h('x-authenticated-groups', 'tenants')]);
    assert.deepEqual(grpc.remove, ['x-consumer-username', 'x-consumer-custom-id', 'x-anonymous-consumer', 'apikey']);
    const http = byName(report, 'forward-auth allow (nginx, api-key)').sample;
    assert.ok(http?.transport === 'http');
    assert.equal(http.status, 200);
    assert.equal(http.headers['x-consumer-id'], tenant.consumerId);
    assert.equal(http.headers['x-authenticated-groups'], 'tenants');
    assert.equal(report.scaling, undefined);
    assert.equal(report.scalingRaw, undefined);

    const table = formatTable(report);
    for (const r of report.results) assert.match(table, new RegExp(`^\\| ${r.name.replace(/[()]/g, '\\$&')} `, 'm'));
    assert.match(table, /^\| no-op floor \(one process, whole run\) /m);
    // Each scenario has a row in the speed table, the same-process table and the memory table.
    for (const r of report.results) assert.equal(table.match(new RegExp(`^\\| ${r.name.replace(/[()]/g, '\\$&')} `, 'gm'))?.length, 3, table);
    assert.match(table, /^\| scenario +\| +req\/s \| same-process floor req\/s \| ratio \|/m);
    assert.match(table, /^scaling: mean latency at 10,000 policies \+ 100,000 keys \/ 1 policy = - \(not run\)$/m);
    // The goals of the scenarios that ran: api-key's throughput and added latency, the highest RSS.
    assert.deepEqual(
      goalRows(report).map((g) => [g.goal, g.scenario]),
      [
        ['throughput / floor at 64 in flight', 'api-key allow (1 policy)'],
        ['added µs at 1 in flight', 'api-key allow (1 policy)'],
        ['RSS after load / floor, highest', report.results.reduce((w, r) => (r.rssAfterBytes > w.rssAfterBytes ? r : w)).name],
      ],
    );
    assert.match(table, /^\| added µs at 1 in flight +\| api-key allow \(1 policy\) +\| +-?\d+ \| +-?\d+ \| +≤ 10 \| +(yes|no|best-of only|paired only) \| +\|$/m);
  });

  it('the cached JWT, cookie, Redis and OIDC session scenarios are each allowed as their user', { timeout: 120_000 }, async () => {
    const report = await runBench({ ...TINY, scenarios: select(['ES256, cached', 'session allow']) });
    assert.equal(report.ok, true, formatTable(report));
    assert.deepEqual(report.results.map((r) => r.name), ['jwt allow (ES256, cached)', 'session allow (cookie)', 'session allow (redis)', 'session allow (oidc)']);
    const es = jwtTenant('ES256');
    const jwt = grpcHeaders(byName(report, 'jwt allow (ES256, cached)').sample);
    assert.deepEqual(jwt.headers, [h('x-consumer-id', es.consumerId), h('x-credential-identifier', es.jti), h('x-authenticated-groups', 'partners, bench')]);
    for (const storage of ['cookie', 'redis'] as const) {
      const t = sessionTenant(storage);
      const r = grpcHeaders(byName(report, `session allow (${storage})`).sample);
      assert.deepEqual(r.headers, [
        h('x-consumer-id', t.consumerId),
        h('x-consumer-username', t.username),
        h('x-credential-identifier', `bench/web-${storage}-login`),
        h('x-authenticated-groups', 'browsers'),
      ]);
    }
    const oidc = grpcHeaders(byName(report, 'session allow (oidc)').sample);
    const values = new Map(oidc.headers.map((x) => [x.key, x.value]));
    assert.equal(values.get('x-consumer-id'), OIDC_TENANT.consumerId);
    assert.equal(values.get('x-consumer-username'), OIDC_TENANT.username);
    assert.equal(values.get('x-access-token'), OIDC_TENANT.accessToken);
    assert.deepEqual(JSON.parse(Buffer.from(values.get('x-userinfo') ?? '', 'base64').toString('utf8')), { sub: OIDC_TENANT.consumerId, email: 'oidc-user@bench.test' });
    for (const r of report.results) assert.ok(gone(r.serverPid), `server ${r.serverPid} of ${r.name} is still running`);
  });

  it('first-seen ES256 is measured beside its signature floor, which refuses tokens its key does not verify', { timeout: 120_000 }, async () => {
    const [firstSeen] = select(['jwt allow (ES256, first-seen)']);
    assert.ok(firstSeen?.signatureFloor !== undefined);
    const report = await runBench({ ...TINY, scenarios: [firstSeen] });
    assert.equal(report.ok, true, formatTable(report));
    const r = byName(report, 'jwt allow (ES256, first-seen)');
    assert.ok(r.signature !== undefined && r.signature.rps > 0 && r.signature.meanMicros > 0, JSON.stringify(r.signature));
    assert.equal(r.signatureRatio, r.signature.rps / r.floor.rps);
    assert.equal(r.overSignature, r.gatehouse.rps / r.signature.rps);
    const [row] = goalRows(report);
    assert.deepEqual([row?.scenario, row?.bound], ['jwt allow (ES256, first-seen)', { measured: r.signatureRatio, paired: r.signaturePairedRatio }]);
    assert.match(formatTable(report), /^- jwt allow \(ES256, first-seen\): signature floor [\d,]+ req\/s, mean \d+ µs at 1 in flight; gatehouse served \d\.\d\d of it \(paired \d\.\d\d\)$/m);
    // The other scenarios have none.
    const [cached] = select(['jwt allow (ES256, cached)']);
    assert.equal(cached?.signatureFloor, undefined);

    const stranger = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const wrong = await runBench({ ...TINY, scenarios: [{ ...firstSeen, signatureFloor: () => ({ alg: 'ES256', key: stranger }) }] });
    assert.equal(wrong.ok, false);
    assert.match(wrong.results[0]?.problem ?? '', /^signature floor, throughput: /);
    for (const x of [...report.results, ...wrong.results]) assert.ok(gone(x.serverPid), `server ${x.serverPid} of ${x.name} is still running`);
  });

  it('a scenario whose answers are not what it is named for fails the report', { timeout: 60_000 }, async () => {
    const [allow] = select(['api-key allow (1 policy)']);
    const [deny] = select(['api-key deny (1 policy)']);
    assert.ok(allow !== undefined && deny !== undefined);
    // Sends the unknown key but claims to measure allows.
    const mislabelled: Scenario = { ...deny, name: 'mislabelled', expect: allow.expect };
    const report = await runBench({ ...TINY, scenarios: [mislabelled] });
    assert.equal(report.ok, false);
    const r = byName(report, 'mislabelled');
    assert.equal(r.problem, 'gatehouse, throughput: expected an allow, got denied (status 16 key_unknown)');
    assert.match(formatTable(report), /^- mislabelled: WRONG: gatehouse, throughput: expected an allow/m);
    assert.ok(gone(r.serverPid));
  });

  it('reads h2load\'s summary and per-request log, and asks it for what each window needs', () => {
    const summary = [
      'finished in 4.01s, 1678.67 req/s, 73.98KB/s',
      'requests: 5036 total, 5037 started, 5036 done, 5035 succeeded, 1 failed, 0 errored, 0 timeout',
      'status codes: 5035 2xx, 0 3xx, 0 4xx, 0 5xx',
      '                     min         max         mean         sd        +/- sd',
      'time for request:     3.65ms    423.78ms     38.28ms     57.84ms    93.65%',
    ].join('\n');
    assert.deepEqual(parseH2loadOutput(summary), { done: 5036, succeeded: 5035, failed: 1, status2xx: 5035, rps: 1678.67, meanMicros: 38280 });
    assert.throws(() => parseH2loadOutput('invalid URI'), { name: 'H2loadError', message: /^h2load printed no req\/s/ });
    // Start times 1 ms apart; the first 10 ms are warm-up and left out.
    const log = Array.from({ length: 1010 }, (_, i) => `${1_000_000 + i * 1000}\t200\t${i < 10 ? 999_999 : i - 9}`).join('\n');
    assert.deepEqual(logQuantiles(log, [0.5, 0.99, 0.999, 1], 10), [500, 990, 999, 1000]);
    assert.deepEqual(logQuantiles('', [0.5], 0), [Number.NaN]);
    assert.deepEqual(
      h2loadArgs({ url: 'http://127.0.0.1:1/p', h1: false, bodyFile: '/tmp/b', headers: ['te: trailers'], connections: 1, inFlight: 64, durationMs: 2000, warmupMs: 1000 }),
      ['-c', '1', '-m', '64', '-D', '2000ms', '--warm-up-time', '1000ms', '-d', '/tmp/b', '-H', 'te: trailers', 'http://127.0.0.1:1/p'],
    );
    // Fixed rate: a request count instead of a duration, connections opened 1 ms apart.
    assert.deepEqual(
      h2loadArgs({ url: 'http://127.0.0.1:1/a', h1: true, headers: [], connections: 10, inFlight: 1, durationMs: 2000, warmupMs: 1000, ratePerConnection: 123.45, requests: 3700, logFile: '/tmp/l' }),
      ['-c', '10', '-m', '1', '-n', '3700', '-r', '1', '--rate-period', '1ms', '--h1', '--rps', '123.45', '--log-file', '/tmp/l', 'http://127.0.0.1:1/a'],
    );
  });

  it('first-seen JWTs are measured on a server told to keep no verified tokens', () => {
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

  it('the scaling policy set gives each tenant its own Secret of several keys, one per line', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-test-'));
    try {
      assert.equal(apiKeyPolicies(3, 4).write(dir), 3);
      const docs = parseAllDocuments(readFileSync(join(dir, 'tenants-000000.yaml'), 'utf8')).map((d) => d.toJS() as { kind: string; stringData?: { api_key: string } });
      assert.deepEqual(docs.map((d) => d.kind), ['AuthPolicy', 'Secret', 'AuthPolicy', 'Secret', 'AuthPolicy', 'Secret']);
      const keys = docs[3]?.stringData?.api_key.split('\n') ?? [];
      assert.equal(keys.length, 4);
      assert.equal(keys[0], apiKeyTenant(1).key);
      assert.equal(new Set(docs.flatMap((d) => d.stringData?.api_key.split('\n') ?? [])).size, 12);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reads the server child\'s ready message with and without its same-process no-op servers, and refuses malformed ones', () => {
    const base = { type: 'ready', grpcPort: 5001, httpPort: 5002, policiesReady: 1, policiesInvalid: 0 };
    assert.deepEqual(parseServerMessage(base), base);
    assert.deepEqual(parseServerMessage({ ...base, beside: { grpcPort: 5003, httpPort: 5004 } }), { ...base, beside: { grpcPort: 5003, httpPort: 5004 } });
    for (const beside of [{ grpcPort: 5003 }, { grpcPort: -1, httpPort: 5004 }, { grpcPort: '5003', httpPort: 5004 }, 7, null]) {
      assert.equal(parseServerMessage({ ...base, beside }), undefined, JSON.stringify(beside));
    }
    assert.deepEqual(parseServerCommand({ type: 'tally-beside' }), { type: 'tally-beside' });
    assert.equal(parseServerCommand({ type: 'tally-everything' }), undefined);
  });

  it('takes the median of the finite values', () => {
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.equal(median([5, Number.NaN, 1, Number.POSITIVE_INFINITY, 3]), 3);
    assert.ok(Number.isNaN(median([])));
    assert.ok(Number.isNaN(median([Number.NaN])));
  });

  it('pairs figures by round: a slow round lowers both of its windows and moves the paired ratio less than the best-of one', () => {
    // Round 2 was quiet for the floor only, round 3 for gatehouse only; the bests come from different rounds.
    const gatehouse = [90, 80, 100, 85, 88];
    const floor = [100, 120, 105, 95, 100];
    assert.equal(Math.max(...gatehouse) / Math.max(...floor), 100 / 120);
    // Per round: 0.9, 0.667, 0.952, 0.895, 0.88 -> median 0.895.
    assert.equal(pairedMedian(gatehouse, floor, (x, y) => x / y), 85 / 95);
    assert.equal(pairedMedian([30, 31, 29, 40], [22, 25, 24, 23], (x, y) => x - y), (6 + 8) / 2);
    // Only rounds both measured count; a failed window (NaN) is left out.
    assert.equal(pairedMedian([10, 20, 30], [1, 2], (x, y) => x / y), 10);
    assert.equal(pairedMedian([10, Number.NaN, 30], [1, 1, 1], (x, y) => x / y), 20);
    assert.ok(Number.isNaN(pairedMedian([], [1], (x, y) => x / y)));
  });

  it('reads its flags and BENCH_* variables, and refuses bad ones by name', () => {
    const defaults = parseCli([], {});
    assert.deepEqual(
      [defaults.bench.rounds, defaults.bench.durationMs, defaults.bench.warmupMs, defaults.bench.rateDurationMs, defaults.bench.settleMs, defaults.bench.deadlineMs],
      [6, 1000, 250, 2000, 5000, 1000],
    );
    assert.deepEqual(defaults.bench.scenarios.map((s) => s.name), [
      'api-key allow (1 policy)',
      'jwt allow (ES256, cached)',
      'session allow (cookie)',
      'session allow (redis)',
      'session allow (oidc)',
      'jwt allow (ES256, first-seen)',
      'forward-auth allow (nginx, api-key)',
      'api-key allow (10,000 policies, 100,000 keys)',
    ]);
    // `npm run bench` stays bounded: the default plan aborts a run past 15 minutes.
    assert.ok(defaults.bench.timeLimitMs <= 900_000, `default time limit ${defaults.bench.timeLimitMs} ms`);
    const quick = parseCli(['--quick'], {}).bench;
    assert.deepEqual([quick.rounds, quick.durationMs, quick.warmupMs, quick.rateDurationMs, quick.settleMs], [QUICK.rounds, QUICK.durationMs, QUICK.warmupMs, QUICK.durationMs, 0]);
    assert.equal(parseCli(['--rate-duration', '3s'], { BENCH_RATE_DURATION: '9' }).bench.rateDurationMs, 3000);
    assert.equal(parseCli([], { BENCH_RATE_DURATION: '1.5' }).bench.rateDurationMs, 1500);
    assert.throws(() => parseCli(['--rate-duration', '50ms'], {}), { message: '--rate-duration: "50ms" is not a duration of at least 100 ms (e.g. 500ms, 5s, 2.5)' });
    assert.equal(parseCli(['--settle', '2s'], { BENCH_SETTLE: '9' }).bench.settleMs, 2000);
    assert.deepEqual(parseCli(['--quick', '--scenario', 'redis'], {}).bench.scenarios.map((s) => s.name), ['session allow (redis)']);
    assert.deepEqual(select(['HS256']).map((s) => s.name), ['jwt allow (HS256, cached)', 'jwt allow (HS256, first-seen)', 'jwt deny (HS256, forged signature)']);
    assert.equal(parseCli([], { BENCH_DURATION: '0.5' }).bench.durationMs, 500);
    assert.equal(parseCli(['--duration', '2s'], { BENCH_DURATION: '0.5' }).bench.durationMs, 2000);
    assert.equal(parseCli(['--rounds=5', '--json'], {}).bench.rounds, 5);
    assert.throws(() => parseCli(['--duration', 'soon'], {}), { name: 'BenchUsageError', message: /^--duration: "soon" is not a duration/ });
    assert.throws(() => parseCli([], { BENCH_ROUNDS: '0' }), { message: 'BENCH_ROUNDS: "0" is not a whole number from 1 to 20' });
    assert.throws(() => parseCli(['--scenario', 'grpc-web'], {}), { message: '--scenario "grpc-web" matches no scenario' });
    assert.throws(() => parseCli(['--client', 'http2'], {}), (e: unknown) => e instanceof BenchUsageError && e.code === 'bench_usage' && e.message === 'unknown flag --client');
  });
});
