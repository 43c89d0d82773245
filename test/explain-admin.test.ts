// POST /debug/explain on a live replica: off unless --enable-explain; on, it decides a described request
// against the replica's current policies and Secrets exactly as the gRPC path does, in a dry run: a
// real redis-server sees no write (its own change counter), no session is created or ended, and no
// metric counts the explain as traffic. Bad input gets 400 naming every problem.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import type { Explanation } from '../src/core/trace.js';
import { type DecodedCheckResponse, okOf } from './support/envoy-client.js';
import { authPolicy, keyMethod, keySecret, yamlOf } from './support/fixtures.js';
import { eventually, startTestGatehouse, type TestGatehouse } from './support/gatehouse.js';
import { API_KEY, JWT_HOST, mintToken, REDIS_POLICIES, SESSION_HOST } from './support/redis-policies.js';
import { startRedis, type RedisServer } from './support/redis.js';

const BOUNDED = { timeout: 60_000 };

async function post(g: TestGatehouse, body: string, method = 'POST'): Promise<{ status: number; type: string | null; text: string }> {
  const res = await fetch(`${g.admin}/debug/explain`, { method, body: method === 'GET' ? undefined : body, headers: { 'content-type': 'application/json' } });
  return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
}

async function explained(g: TestGatehouse, request: Record<string, unknown>): Promise<Explanation> {
  const res = await post(g, JSON.stringify(request));
  assert.equal(res.status, 200, res.text);
  assert.equal(res.type, 'application/json');
  return JSON.parse(res.text) as Explanation;
}

/** Sum of every gatehouse_check_total sample, and of gatehouse_session_rejected_total. */
async function traffic(g: TestGatehouse): Promise<[number, number]> {
  const text = await (await fetch(`${g.admin}/metrics`)).text();
  const sum = (name: string): number => text.split('\n').filter((l) => l.startsWith(`${name}{`)).reduce((n, l) => n + Number(l.split(' ').at(-1)), 0);
  return [sum('gatehouse_check_total'), sum('gatehouse_session_rejected_total')];
}

describe('POST /debug/explain is off unless --enable-explain', BOUNDED, () => {
  let g: TestGatehouse;
  before(async () => {
    g = await startTestGatehouse({ 'p.yaml': yamlOf(authPolicy('shop', 'api', { hosts: ['api.example.com'], authentication: { methods: [keyMethod()] } }), keySecret('shop', 'acme', 'acme-key-1', 'acme')) });
  });
  after(() => g.stop());

  it('the path is answered as any unknown admin path: a POST refused (only GET, HEAD), a GET not found', async () => {
    const res = await fetch(`${g.admin}/debug/explain`, { method: 'POST', body: '{"host":"api.example.com"}' });
    assert.deepEqual([res.status, res.headers.get('allow'), await res.text()], [405, 'GET, HEAD', '']);
    assert.deepEqual(await post(g, '', 'GET'), { status: 404, type: 'text/plain', text: 'not found\n' });
  });
});

describe('POST /debug/explain with --enable-explain, over Redis sessions', BOUNDED, () => {
  let redis: RedisServer;
  let g: TestGatehouse;
  let probe: Redis;

  /** Writes Redis has applied since it started (INFO persistence; nothing is ever saved here). */
  const changes = async (): Promise<number> => Number(/rdb_changes_since_last_save:(\d+)/.exec(await probe.info('persistence'))?.[1] ?? 'NaN');

  before(async () => {
    redis = await startRedis();
    g = await startTestGatehouse(REDIS_POLICIES, { flags: ['--redis-url', redis.url, '--enable-explain'] });
    await eventually(() => g.gatehouse.store.index !== undefined, 5000, 'policies loaded');
    probe = new Redis(redis.url, { maxRetriesPerRequest: 1 });
  });
  after(async () => {
    probe?.disconnect();
    await g?.stop();
    await redis?.stop();
  });

  it('the answer explained is the answer the gRPC path gives for the same request', async () => {
    const token = await mintToken('alice', 'jti-parity');
    const e = await explained(g, { host: JWT_HOST, path: '/orders', headers: { authorization: `Bearer ${token}` } });
    const wire = okOf(await g.envoy.check({ host: JWT_HOST, path: '/orders', headers: { authorization: `Bearer ${token}` } }));
    assert.deepEqual(e.answer.setHeaders.map((h) => ({ key: h.name, value: h.value, append: false })), wire.headers);
    assert.deepEqual(e.answer.removeHeaders, wire.headersToRemove);
    assert.deepEqual(e.request.headers, [{ name: 'authorization', value: 'Bearer [redacted]' }]);
    assert.deepEqual(e.authentication?.methods.map((m) => [m.name, m.result, m.identity?.consumer]), [['tokens', 'success', 'alice']]);
  });

  it('a sign-in, a session and a logout explained write nothing to Redis and count nothing; the session still works', async () => {
    const beforeAll = await traffic(g);
    const unchanged = await changes();
    const signIn = await explained(g, { host: SESSION_HOST, path: '/', headers: { apikey: API_KEY } });
    assert.deepEqual(signIn.hooks, [{ name: 'session', ran: false }]);
    assert.deepEqual([signIn.answer.decision, signIn.answer.consumer, signIn.answer.responseHeaders], ['allow', 'acme', []]);
    assert.equal(await changes(), unchanged, 'no session record written');

    const login: DecodedCheckResponse = await g.envoy.check({ host: SESSION_HOST, path: '/', headers: { apikey: API_KEY } });
    const setCookie = okOf(login).responseHeadersToAdd[0]?.value ?? '';
    const cookie = setCookie.slice(0, setCookie.indexOf(';'));
    const written = await changes();
    assert.ok(written > unchanged, 'a real sign-in writes the session');
    const [checksBefore, rejectedBefore] = await traffic(g);
    assert.equal(checksBefore, beforeAll[0] + 1);

    const withSession = await explained(g, { host: SESSION_HOST, path: '/orders', headers: { cookie } });
    assert.deepEqual(withSession.authentication?.methods.map((m) => [m.name, m.result]), [['session', 'success'], ['keys', 'skipped']]);
    assert.deepEqual(withSession.request.headers, [{ name: 'cookie', value: 'gh_session=[redacted]' }]);
    const logout = await explained(g, { host: SESSION_HOST, path: '/logout', method: 'POST', headers: { cookie } });
    assert.deepEqual([logout.endpoint, logout.answer.status, logout.answer.code], ['session-logout', 200, 'session_logout']);
    const forged = await explained(g, { host: SESSION_HOST, path: '/', cookies: { gh_session: 'forged' } });
    assert.deepEqual(forged.authentication?.methods[0], { name: 'session', type: 'session', result: 'none' });
    assert.equal(await changes(), written, 'the logout explained deleted nothing');
    assert.deepEqual(await traffic(g), [checksBefore, rejectedBefore], 'no check and no refused session counted');

    const still = okOf(await g.envoy.check({ host: SESSION_HOST, path: '/orders', headers: { cookie } }));
    assert.equal(still.headers.find((h) => h.key === 'x-consumer-id')?.value, 'acme');
  });

  it('bad input gets 400 naming every problem; other methods 405', async () => {
    assert.deepEqual(await post(g, '', 'GET'), { status: 405, type: 'text/plain', text: 'POST a request description\n' });
    assert.deepEqual(await post(g, '{"host":'), { status: 400, type: 'application/json', text: JSON.stringify({ code: 'request_malformed', problems: ["body: not JSON: Unexpected end of JSON input"] }) });
    assert.deepEqual(await post(g, JSON.stringify({ path: 7, hedaers: {}, headers: { 'bad name': 'x', ok: 'a\nb' } })), {
      status: 400,
      type: 'application/json',
      text: JSON.stringify({
        code: 'request_malformed',
        problems: [
          'hedaers: unknown field (one of method, scheme, host, path, headers, cookies, body)',
          'host: is required',
          'path: must be one line of text',
          'headers.bad name: is not a header name',
          'headers.ok: must be one line of at most 64 KiB',
        ],
      }),
    });
    assert.deepEqual(await post(g, '[]'), { status: 400, type: 'application/json', text: JSON.stringify({ code: 'request_malformed', problems: ['request: must be an object'] }) });
  });
});
