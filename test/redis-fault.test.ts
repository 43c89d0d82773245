// Redis fails under load: the whole service with --redis-url against a real redis-server, a steady
// stream of Checks over gRPC (16 in flight) for Redis sessions and revocable JWTs, and mid-run
// redis-server is SIGKILLed and restarted 3 s later on the same port, or stalled (SIGSTOP) and
// resumed. Every answer is compared with the exact responses the service may give; the recovery
// time, the Redis command backlog and the heap are measured and bounded.
//
// The Redis runs with an fsynced append-only file, as production Redis for sessions and revocation
// must: a restarted Redis that came back empty would forget revocations, and a revoked token would
// then be allowed. With persistence the state (a live session, a revoked jti) survives the crash.
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createJwtServices } from '../src/authn/jwt/services.js';
import { pendingRedisCommands } from '../src/redis/client.js';
import { createLogger } from '../src/telemetry/log.js';
import { eventually, startTestGatehouse } from './support/gatehouse.js';
import { startRedis, type RedisServer } from './support/redis.js';
import {
  answersFor,
  askNamed,
  assertOnlyExpected,
  assertUp,
  between,
  EXPECTED,
  inTurn,
  KINDS,
  lastRefusal,
  login,
  logout,
  requestsFor,
  type Sample,
} from './support/redis-load.js';
import { mintToken, REDIS_POLICIES, REVOCATION_SCOPE } from './support/redis-policies.js';

const FAULT_AT_MS = 3_000;
const IN_FLIGHT = 16;
/** The service's promise: every valid credential is allowed again this soon after Redis is back. */
const RECOVERY_MS = 2_000;
// A revocation answer is reused this long (jwt services default): until then a JWT may still be
// answered from what Redis said before it died.
const REVOCATION_CACHE_MS = 1_000;
// A session record read before the fault is reused this long (--redis-session-cache-max-age default):
// a stalled Redis keeps the subscriber's link open, so until then a live session may still be allowed.
// Never a logged-out one: "no such session" is not kept.
const SESSION_CACHE_MS = 1_000;
// Every Check has at most two Redis commands out at once (a session's SET and index EVAL, or the
// two revocation GETs), and each of the two connections (sessions, revocation) sends its ready check
// (INFO) when it reconnects.
const MAX_PENDING = 2 * IN_FLIGHT + 2;
// A stalled Redis answers nothing: a command fails after its timeout (500 ms) but stays queued until
// the connection, silent for the socket timeout (2 s), is dropped. Until then each Check in flight
// piles up two commands per 500 ms; afterwards only the ready checks of reconnections (a few) wait.
const MAX_PENDING_STALLED = MAX_PENDING * (2000 / 500 + 1) + 8;
// Heap that survives a full collection (garbage awaiting collection says nothing about leaks).
const HEAP_GROWTH_LIMIT = 16 * 2 ** 20;
const RSS_GROWTH_LIMIT = 96 * 2 ** 20;

// A full collection on demand, without asking the test runner for --expose-gc.
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

const ANSWERS = answersFor('alice', 'jti-good');

/** A way for Redis to fail: `fail` at FAULT_AT_MS, `heal` `downMs` later; the run lasts `runMs`. */
interface Fault {
  readonly name: string;
  readonly downMs: number;
  readonly runMs: number;
  /** Most Redis commands pending at any time. */
  readonly maxPending: number;
  /** After the fault, how soon the Redis command backlog is back within `settledPending`. */
  readonly settleMs: number;
  readonly settledPending: number;
  fail(redis: RedisServer): Promise<void> | void;
  /** Resolves once Redis accepts connections and answers again. */
  heal(redis: RedisServer): Promise<void> | void;
}

const FAULTS: readonly Fault[] = [
  {
    name: 'killed (SIGKILL) and restarted 3 s later',
    downMs: 3_000,
    runMs: 12_000,
    maxPending: MAX_PENDING,
    // A dead Redis refuses connections: nothing can be queued once the client has seen the socket
    // close (within a second even on a loaded machine; the commands sent before it fail with it).
    settleMs: 1000,
    settledPending: 0,
    fail: (r) => r.kill(),
    // restart() resolves on the first PONG (it polls every 25 ms).
    heal: (r) => r.restart(),
  },
  {
    name: 'stalled (SIGSTOP) for 6.5 s, then resumed',
    downMs: 6_500,
    runMs: 14_000,
    maxPending: MAX_PENDING_STALLED,
    // Once the silent connections are dropped, the Checks' commands fail at once; only the ready
    // checks of reconnections wait on the stalled Redis. The revocation connection goes silent last:
    // it sends nothing while the answers it reuses (1 s) are fresh. Timers on a busy machine lag.
    settleMs: REVOCATION_CACHE_MS + 2000 + 1500,
    settledPending: MAX_PENDING,
    fail: (r) => r.pause(),
    heal: (r) => r.resume(),
  },
];

async function checkThroughFault(t: TestContext, fault: Fault): Promise<void> {
  const redis = await startRedis({ persistent: true });
  t.after(() => redis.stop());
  // Logs are counted, not kept: a kept line per refused Check would read as heap growth.
  let logLines = 0;
  const logger = createLogger('info', () => void logLines++);
  const g = await startTestGatehouse(REDIS_POLICIES, { flags: ['--redis-url', redis.url], logger });
  t.after(() => g.stop());
  await eventually(() => g.gatehouse.store.index !== undefined, 5000, 'policies loaded');
  const writer = createJwtServices({ redisUrl: redis.url });
  t.after(() => writer.close());
  await writer.revocation.ready(5000);
  // The credentials, each checked once while Redis is healthy.
  const loggedOut = await login(g.envoy);
  await logout(g.envoy, loggedOut);
  await writer.revocation.revokeToken(REVOCATION_SCOPE, 'jti-bad', 600_000);
  const requests = requestsFor({
    session: await login(g.envoy),
    loggedOut,
    goodJwt: await mintToken('alice', 'jti-good'),
    revokedJwt: await mintToken('mallory', 'jti-bad'),
  });
  for (const kind of KINDS) assert.equal(await askNamed(g.envoy, requests[kind], ANSWERS), EXPECTED[kind].up, kind);

  // The run: IN_FLIGHT workers, each sending the kinds in turn, while a sampler watches the
  // Redis command backlog and the heap, and the fault is injected on a fixed schedule.
  const t0 = Date.now();
  const samples: Sample[] = [];
  const backlog: { at: number; pending: number }[] = [];
  const memory: { at: number; heap: number; rss: number }[] = [];
  const worker = async (offset: number): Promise<void> => {
    for (let i = offset; Date.now() - t0 < fault.runMs; i++) {
      const kind = KINDS[i % KINDS.length] ?? 'valid session';
      const start = Date.now();
      const answer = await askNamed(g.envoy, requests[kind], ANSWERS);
      samples.push({ kind, start, end: Date.now(), answer });
    }
  };
  const sampler = setInterval(() => backlog.push({ at: Date.now(), pending: pendingRedisCommands() }), 50);
  const weigher = setInterval(() => {
    collectGarbage();
    const { heapUsed, rss } = process.memoryUsage();
    memory.push({ at: Date.now(), heap: heapUsed, rss });
  }, 1000);
  const schedule = (async () => {
    await new Promise((r) => setTimeout(r, FAULT_AT_MS));
    await fault.fail(redis);
    const failedAt = Date.now();
    await new Promise((r) => setTimeout(r, fault.downMs));
    const healAt = Date.now();
    await fault.heal(redis);
    return { failedAt, healAt, upAt: Date.now() };
  })();
  await Promise.all(Array.from({ length: IN_FLIGHT }, (_, i) => worker(i)));
  clearInterval(sampler);
  clearInterval(weigher);
  const { failedAt, healAt, upAt } = await schedule;
  await eventually(() => pendingRedisCommands() === 0, 2000, 'no Redis command left pending after the run');

  // No wrong allow, no unexpected answer, at any time; healthy before the fault.
  assertOnlyExpected(samples);
  assertUp(samples, t0, failedAt - 100, 'before the fault', 1);
  for (const kind of KINDS) {
    // Down: every Check sent after the fault (and after the revocation answers and session records it
    // may reuse have expired) and answered before Redis was restarted or resumed gets the down answer;
    // plenty do.
    const reused = kind.endsWith('jwt') ? REVOCATION_CACHE_MS : kind === 'valid session' ? SESSION_CACHE_MS : 0;
    const downFrom = failedAt + reused;
    const down = between(samples, kind, downFrom, healAt);
    assert.ok(down.length >= 20, `${kind}: only ${down.length} Checks while Redis was down`);
    assert.deepEqual(new Set(down.map((s) => s.answer)), new Set([EXPECTED[kind].down]), `${kind} while Redis was down`);
  }
  // Back: from RECOVERY_MS after Redis answers again, only the up answer.
  assertUp(samples, upAt + RECOVERY_MS, Number.POSITIVE_INFINITY, 'after Redis came back', 20);

  // Recovery: the last refusal of a valid credential, measured from Redis answering again.
  const recoveryMs = (lastRefusal(samples, failedAt) ?? upAt) - upAt;
  t.diagnostic(`${samples.length} Checks; Redis down ${upAt - failedAt} ms; valid credentials allowed again ${recoveryMs} ms after Redis answered`);
  assert.ok(recoveryMs <= RECOVERY_MS, `valid credentials were refused until ${recoveryMs} ms after Redis came back`);

  // Bounded backlog: never more than the Checks in flight can hold (a stalled Redis holds more
  // until its connection is dropped), and once the fault has settled, no growth while it lasts.
  const maxPending = Math.max(...backlog.map((b) => b.pending));
  const settled = backlog.filter((b) => b.at > failedAt + fault.settleMs && b.at < healAt);
  const pendingSettled = Math.max(...settled.map((b) => b.pending));
  t.diagnostic(`Redis commands pending: at most ${maxPending}; ${fault.settleMs} ms after the fault, at most ${pendingSettled}`);
  assert.ok(settled.length >= 10, `only ${settled.length} backlog samples while the fault lasted`);
  assert.ok(maxPending <= fault.maxPending, `up to ${maxPending} Redis commands pending`);
  assert.ok(pendingSettled <= fault.settledPending, `${pendingSettled} Redis commands pending while the fault lasted`);

  // Bounded memory: what the process holds after the fault stays near what it held under the
  // same load before it.
  const peak = (from: number, to: number, field: 'heap' | 'rss'): number => Math.max(...memory.filter((m) => m.at >= from && m.at < to).map((m) => m[field]));
  const mb = (n: number): string => `${(n / 2 ** 20).toFixed(1)} MB`;
  const heapBefore = peak(t0, failedAt, 'heap');
  const heapAfter = peak(failedAt, Number.POSITIVE_INFINITY, 'heap');
  const rssBefore = peak(t0, failedAt, 'rss');
  const rssAfter = peak(failedAt, Number.POSITIVE_INFINITY, 'rss');
  t.diagnostic(`live heap ${mb(heapBefore)} before the fault, at most ${mb(heapAfter)} after; rss ${mb(rssBefore)} -> ${mb(rssAfter)}; ${logLines} log lines`);
  assert.ok(heapAfter - heapBefore <= HEAP_GROWTH_LIMIT, `heap grew by ${mb(heapAfter - heapBefore)}`);
  assert.ok(rssAfter - rssBefore <= RSS_GROWTH_LIMIT, `rss grew by ${mb(rssAfter - rssBefore)}`);
}

describe('Redis fails under a steady stream of Checks', { timeout: 120_000 }, () => {
  for (const fault of FAULTS) {
    it(`Redis ${fault.name}: no logged-out, revoked or missing credential allowed, 503 while down, every valid credential allowed again within 2 s, backlog and heap bounded`, (t) =>
      // Two load runs side by side on this 2-core machine would measure each other.
      inTurn(() => checkThroughFault(t, fault)));
  }
});
