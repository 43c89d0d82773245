// Scale-out on real Redis topologies: two gatehouse replicas share a Redis Cluster (three masters
// with a replica each) or a Sentinel group (a master, its replica, three Sentinels). What one replica
// does (a sign-in, a logout, a revocation) holds on the other; a master failover under a steady
// stream of Checks over both replicas never allows what it must not, refuses a valid credential with
// 503 at most (never 401: the replica has the data), and full service is back within 5 s.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { rmSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { createJwtServices, type JwtServices } from '../src/authn/jwt/services.js';
import { runTokenCommand } from '../src/commands/token.js';
import { closeRedis, createRedisClient, waitForRedis, type RedisConnection } from '../src/redis/client.js';
import { createLogger } from '../src/telemetry/log.js';
import type { EnvoyClient, SimpleHttpRequest } from './support/envoy-client.js';
import { eventually, startTestGatehouse, type TestGatehouse } from './support/gatehouse.js';
import { startRedisCluster, startSentinelGroup } from './support/redis.js';
import {
  answersFor,
  askNamed,
  assertOnlyExpected,
  assertUp,
  EXPECTED,
  inTurn,
  KINDS,
  lastRefusal,
  login,
  logout,
  requestsFor,
  type Answer,
  type Answers,
  type Sample,
} from './support/redis-load.js';
import { JWT_HOST, mintToken, REDIS_POLICIES, redisPolicyDir, REVOCATION_SCOPE, SESSION_HOST } from './support/redis-policies.js';

const IN_FLIGHT = 16;
const FAILOVER_AT_MS = 3_000;
/** The promise: every valid credential is allowed again this soon after the failover completed. */
const RECOVERY_MS = 5_000;
// After the recovery bound the run goes on this long, to show full service on both replicas.
const AFTER_RECOVERY_MS = 3_000;
// A revocation answer is reused this long (jwt services default, docs/sessions.md): a revocation
// made elsewhere holds on a replica within it. Timers on this shared 2-core machine lag a little.
const REVOCATION_CACHE_MS = 1_000;
const SCHEDULING_SLACK_MS = 500;
// A failover that has not completed by then fails the test.
const FAILOVER_BOUND_MS = 20_000;

interface Failover {
  readonly startedAt: number;
  /** When the topology named the new master. */
  readonly completedAt: number;
  readonly what: string;
}

interface Topology {
  readonly url: string;
  /** Whether `key` lives on the master the failover replaces (after it: on its successor). */
  onFailingMaster(key: string): Promise<boolean>;
  /** Replaces that master by its replica; resolves once the topology names the replica master. */
  failOver(): Promise<Failover>;
  stop(): Promise<void>;
}

/** Three masters with a replica each; the failover is CLUSTER FAILOVER sent to one replica. */
async function clusterTopology(): Promise<Topology> {
  const cluster = await startRedisCluster({ replicas: 1 });
  let master = cluster.masters[0] ?? 0;
  return {
    url: cluster.url,
    onFailingMaster: async (key) => (await cluster.masterOf(key, master)) === master,
    async failOver() {
      const startedAt = Date.now();
      const promoted = await cluster.failOver(master, FAILOVER_BOUND_MS);
      const completedAt = Date.now();
      const what = `CLUSTER FAILOVER: replica ${promoted} took over from master ${master}`;
      master = promoted;
      return { startedAt, completedAt, what };
    },
    stop: () => cluster.stop(),
  };
}

/** One master and its replica under three Sentinels; the failover is the master SIGKILLed. */
async function sentinelTopology(): Promise<Topology> {
  const group = await startSentinelGroup();
  return {
    url: group.url,
    // One master holds every key.
    onFailingMaster: async () => true,
    async failOver() {
      // Replication is asynchronous: a write acknowledged in the last moment before a crash can be
      // lost. Everything this test wrote is on the replica first, as for sessions not brand new.
      await group.replicated();
      const [first, second] = group.servers;
      const [master, replica] = (await group.masterPort()) === first.port ? [first, second] : [second, first];
      const startedAt = Date.now();
      await master.kill();
      await eventually(async () => (await group.masterPort()) === replica.port, FAILOVER_BOUND_MS, 'the Sentinels to promote the replica');
      return { startedAt, completedAt: Date.now(), what: `master ${master.port} SIGKILLed, the Sentinels promoted replica ${replica.port}` };
    },
    stop: () => group.stop(),
  };
}

// Key layouts of src/session/redis-store.ts and src/revocation/redis.ts (their header comments).
const sessionKey = (cookie: string): string => `gatehouse:sess:${cookie.slice('gh_session='.length, cookie.indexOf('.'))}`;
const hashed = (s: string): string => createHash('sha256').update(s).digest('base64url').slice(0, 32);
const revocationKey = (kind: 'j' | 'c', id: string): string => `gatehouse:jwt-revoked:${hashed(REVOCATION_SCOPE)}:${kind}:${hashed(id)}`;

const TOPOLOGIES: readonly (readonly [string, () => Promise<Topology>])[] = [
  ['a Redis Cluster of three masters with a replica each', clusterTopology],
  ['a Sentinel group: one master, one replica, three Sentinels', sentinelTopology],
];

for (const [name, start] of TOPOLOGIES) {
  describe(`two gatehouse replicas sharing ${name}`, { timeout: 240_000 }, () => {
    let topology: Topology | undefined;
    let probe: RedisConnection | undefined;
    // A's JWT services: revocations "on A" go through A's own revocation list.
    let servicesA: JwtServices | undefined;
    const instances: TestGatehouse[] = [];
    // Logs are dropped: a kept line per Check would only grow the heap.
    const logger = createLogger('info', () => {});

    const instance = (i: number): TestGatehouse => {
      const g = instances[i % 2];
      if (g === undefined) throw new Error('gatehouse A and B did not start');
      return g;
    };

    before(async () => {
      topology = await start();
      const flags = ['--redis-url', topology.url];
      servicesA = createJwtServices({ redisUrl: topology.url });
      instances.push(await startTestGatehouse(REDIS_POLICIES, { flags, logger, jwt: servicesA }));
      instances.push(await startTestGatehouse(REDIS_POLICIES, { flags, logger }));
      for (const g of instances) await eventually(() => g.gatehouse.store.index !== undefined, 5000, 'policies loaded');
      probe = createRedisClient({ url: topology.url }).connection;
      await waitForRedis(probe, 5000);
    }, { timeout: 700_000 });
    after(async () => {
      // Stopping A closes its JWT services too.
      for (const g of instances) await g.stop();
      if (probe !== undefined) await closeRedis(probe);
      await topology?.stop();
    }, { timeout: 30_000 });

    it('a session created on A is accepted on B, a logout on A is refused on B, a revocation on A or by `gatehouse token revoke` holds on both within 1 s', async (t) => {
      const [a, b] = [instance(0), instance(1)];
      assert.ok(topology !== undefined && servicesA !== undefined);
      const policyDir = redisPolicyDir();
      t.after(() => rmSync(policyDir, { recursive: true, force: true }));
      const answers = answersFor('bob', 'jti-bob');
      const web = (cookie: string): SimpleHttpRequest => ({ host: SESSION_HOST, path: '/orders', headers: { cookie } });
      const api = (token: string): SimpleHttpRequest => ({ host: JWT_HOST, path: '/orders', headers: { authorization: `Bearer ${token}` } });

      // B keeps the session in its replica cache; A's logout reaches it as the invalidation B hears.
      const metrics = b.gatehouse.metrics;
      const heardOnB = async (): Promise<number> => (await metrics.sessionCacheInvalidations.get()).values[0]?.value ?? 0;
      await eventually(async () => (await metrics.sessionCacheSubscribed.get()).values[0]?.value === 1, 10_000, "B's session cache to be subscribed");
      const beforeLogin = await heardOnB();
      const cookie = await login(a.envoy);
      await eventually(async () => (await heardOnB()) > beforeLogin, 5000, 'B to hear the login');
      for (let i = 0; i < 2; i++) assert.equal(await askNamed(b.envoy, web(cookie), answers), 'allowed: session');
      const beforeLogout = await heardOnB();
      await logout(a.envoy, cookie);
      await eventually(async () => (await heardOnB()) > beforeLogout, 5000, 'B to hear the logout');
      assert.equal(await askNamed(b.envoy, web(cookie), answers), '401 no API key');
      assert.equal(await askNamed(a.envoy, web(cookie), answers), '401 no API key');

      // B has just seen the token valid and reuses that answer for up to 1 s.
      const bob = await mintToken('bob', 'jti-bob');
      for (const g of [a, b]) assert.equal(await askNamed(g.envoy, api(bob), answers), 'allowed: jwt');
      await servicesA.revocation.revokeToken(REVOCATION_SCOPE, 'jti-bob', 600_000);
      assert.equal(await askNamed(a.envoy, api(bob), answers), '401 revoked', 'A refuses at once');
      const revokedAt = Date.now();
      await refusedWithin(b.envoy, api(bob), answers, 'B to refuse the token revoked on A');
      const onB = Date.now() - revokedAt;

      const carol = await mintToken('carol', 'jti-carol');
      const carolAnswers = answersFor('carol', 'jti-carol');
      for (const g of [a, b]) assert.equal(await askNamed(g.envoy, api(carol), carolAnswers), 'allowed: jwt');
      // Tokens issued within the next minute are covered too: the watermark has whole seconds.
      const before = new Date(Math.ceil(Date.now() / 1000) * 1000 + 60_000).toISOString();
      let out = '';
      let err = '';
      const io = { stdout: (s: string) => void (out += s), stderr: (s: string) => void (err += s), env: {} };
      const argv = ['revoke', '--policies', policyDir, '--policy', 'shop/api', '--method', 'tokens', '--consumer', 'carol', '--before', before, '--redis-url', topology.url];
      assert.equal(await runTokenCommand(argv, io), 0, err);
      assert.equal(out, `revoked tokens of consumer carol issued before ${before} (shop/api tokens)\n`);
      const revokedByCli = Date.now();
      await Promise.all([a, b].map((g, i) => refusedWithin(g.envoy, api(carol), carolAnswers, `${'AB'[i]} to refuse carol's token revoked by the CLI`)));
      t.diagnostic(`a revocation on A held on B after ${onB} ms; one by the CLI on both after ${Date.now() - revokedByCli} ms`);
    });

    it('a master failover under 16 Checks in flight over both replicas: no wrong allow, 503 at most for valid credentials, every one allowed again within 5 s', (t) =>
      // Two load runs side by side on this 2-core machine would measure each other.
      inTurn(async () => {
        const top = topology;
        assert.ok(top !== undefined && servicesA !== undefined && probe !== undefined);
        // Every credential's keys live on the master that fails over: their Checks need it.
        const sessionOnIt = async (): Promise<string> => {
          for (let i = 0; i < 60; i++) {
            const cookie = await login(instance(i).envoy);
            if (await top.onFailingMaster(sessionKey(cookie))) return cookie;
          }
          throw new Error('no session of 60 landed on the master that fails over');
        };
        const jwtOnIt = async (name: string): Promise<{ sub: string; jti: string }> => {
          for (let i = 0; i < 300; i++) {
            const [sub, jti] = [`${name}-${i}`, `jti-${name}-${i}`];
            if ((await top.onFailingMaster(revocationKey('j', jti))) && (await top.onFailingMaster(revocationKey('c', sub)))) return { sub, jti };
          }
          throw new Error(`no ${name} token of 300 has its revocation keys on the master that fails over`);
        };
        const session = await sessionOnIt();
        const loggedOut = await sessionOnIt();
        await logout(instance(1).envoy, loggedOut);
        const good = await jwtOnIt('alice');
        const bad = await jwtOnIt('mallory');
        await servicesA.revocation.revokeToken(REVOCATION_SCOPE, bad.jti, 600_000);
        assert.equal(await probe.get(revocationKey('j', bad.jti)), '1', 'the revocation key layout is the one this test expects');
        const keys = [sessionKey(session), sessionKey(loggedOut), revocationKey('j', good.jti), revocationKey('c', good.sub), revocationKey('j', bad.jti), revocationKey('c', bad.sub)];
        const answers = answersFor(good.sub, good.jti);
        const requests = requestsFor({ session, loggedOut, goodJwt: await mintToken(good.sub, good.jti), revokedJwt: await mintToken(bad.sub, bad.jti) });
        for (const i of [0, 1]) for (const kind of KINDS) assert.equal(await askNamed(instance(i).envoy, requests[kind], answers), EXPECTED[kind].up, `${kind} on ${'AB'[i]}`);

        // The run: IN_FLIGHT workers, half on each instance, each sending the kinds in turn; the
        // failover starts at FAILOVER_AT_MS and the run ends AFTER_RECOVERY_MS past the recovery bound.
        const t0 = Date.now();
        const samples: InstanceSample[] = [];
        let running = true;
        const worker = async (w: number): Promise<void> => {
          for (let i = w; running; i++) {
            const kind = KINDS[i % KINDS.length] ?? 'valid session';
            const start = Date.now();
            const answer = await askNamed(instance(w).envoy, requests[kind], answers);
            samples.push({ instance: w % 2 === 0 ? 'A' : 'B', kind, start, end: Date.now(), answer });
          }
        };
        const workers = Array.from({ length: IN_FLIGHT }, (_, w) => worker(w));
        let failover: Failover;
        try {
          await delay(FAILOVER_AT_MS);
          failover = await top.failOver();
          await delay(RECOVERY_MS + AFTER_RECOVERY_MS);
        } finally {
          running = false;
          await Promise.all(workers);
        }
        const { startedAt, completedAt, what } = failover;

        assertOnlyExpected(samples);
        assertUp(samples, t0, startedAt, 'before the failover', 20);
        const during = samples.filter((s) => s.start >= startedAt && s.start <= completedAt);
        assert.ok(during.length >= 10, `only ${during.length} Checks were sent while the failover lasted`);
        for (const r of ['A', 'B'] as const) {
          assertUp(samples.filter((s) => s.instance === r), completedAt + RECOVERY_MS, Number.POSITIVE_INFINITY, `on ${r} from 5 s after the failover`, 10);
        }
        const refusedUntil = lastRefusal(samples, t0);
        const recoveryMs = refusedUntil === undefined ? 0 : Math.max(0, refusedUntil - completedAt);
        const unavailable = samples.filter((s) => s.answer.startsWith('503'));
        t.diagnostic(
          `${what} in ${completedAt - startedAt} ms; ${samples.length} Checks, ${unavailable.length} answered 503; ` +
            `every valid credential allowed again ${recoveryMs} ms after the failover completed` +
            (refusedUntil === undefined ? ' (none was ever refused)' : ''),
        );
        assert.ok(recoveryMs <= RECOVERY_MS, `valid credentials were refused until ${recoveryMs} ms after the failover completed`);
        for (const key of keys) assert.ok(await top.onFailingMaster(key), `${key} is served by the new master`);
      }));
  });
}

interface InstanceSample extends Sample {
  readonly instance: 'A' | 'B';
}

/** Polls `request` until it is refused as revoked, within the revocation cache window; allowed meanwhile, nothing else. */
async function refusedWithin(envoy: EnvoyClient, request: SimpleHttpRequest, answers: Answers, what: string): Promise<void> {
  const permitted: readonly (Answer | string)[] = ['allowed: jwt', '401 revoked'];
  await eventually(
    async () => {
      const answer = await askNamed(envoy, request, answers);
      assert.ok(permitted.includes(answer), `${what}: got ${answer}`);
      return answer === '401 revoked';
    },
    REVOCATION_CACHE_MS + SCHEDULING_SLACK_MS,
    what,
  );
}
