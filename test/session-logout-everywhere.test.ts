// "Log out everywhere" with memory storage, through compilePolicy + PolicyIndex + Pipeline: one request
// ends every session of its consumer under the policy and nobody else's. Redis: session-redis-grpc.test.ts.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { Allow, Decision, Deny } from '../src/core/decision.js';
import { CheckInput } from '../src/core/input.js';
import { Pipeline } from '../src/core/pipeline.js';
import { compilePolicy } from '../src/policy/compile.js';
import type { CompileEnv } from '../src/policy/compile-context.js';
import { PolicyIndex } from '../src/policy/index.js';
import type { SecretResource } from '../src/config/resources.js';
import { SecretIndex } from '../src/config/secrets.js';
import { createSessionServices, type SessionRejectReason } from '../src/session/services.js';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const MIN = 60_000;
const EXPIRED = 'gh_session=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/; Secure; HttpOnly; SameSite=Strict';

function secret(name: string, data: Record<string, string>, consumer?: string): SecretResource {
  const labels: Record<string, string> = consumer === undefined ? {} : { 'gatehouse.dev/credential': 'partners' };
  const annotations: Record<string, string> = consumer === undefined ? {} : { 'gatehouse.dev/consumer-id': consumer };
  return { namespace: 'shop', name, labels, annotations, data: new Map(Object.entries(data).map(([k, v]) => [k, Buffer.from(v)])), origin: 'test' };
}

function spec(host: string, logout: Record<string, unknown>): Record<string, unknown> {
  return {
    hosts: [host],
    authentication: { methods: [{ name: 'keys', apiKey: { from: [{ header: 'apikey' }], selector: { matchLabels: { 'gatehouse.dev/credential': 'partners' } } } }] },
    session: { storage: 'memory', secretRef: { name: 'web-session' }, idleTimeout: '30m', renewBefore: '5m', logout },
  };
}

const LOGOUT = { path: '/logout', everywhere: { path: '/logout/everywhere', queryArg: 'logout_all', postArg: 'logout_all' } };

describe('log out everywhere (memory storage)', () => {
  let now = T0;
  const reasons: SessionRejectReason[] = [];
  const services = createSessionServices({ onReject: (r) => void reasons.push(r) });
  const env: CompileEnv = { clock: () => now, sessions: services };
  const secrets = new SecretIndex();
  for (const s of [secret('acme', { api_key: 'acme-key' }, 'acme'), secret('globex', { api_key: 'globex-key' }, 'globex'), secret('web-session', { k: 'k'.repeat(40) })]) {
    secrets.put(s);
  }
  const policies = [
    ['web', spec('web.example.com', LOGOUT)],
    ['other', spec('other.example.com', LOGOUT)],
    ['away', spec('away.example.com', { ...LOGOUT, redirectTo: '/signed-out' })],
  ] as const;
  const index = new PolicyIndex(
    policies.map(([name, s]) => {
      const r = compilePolicy({ namespace: 'shop', name, generation: 1, creationTimestamp: undefined, origin: 't', spec: s }, secrets, env);
      assert.ok(r.ok, JSON.stringify(r.problems));
      return { policy: r.policy, createdAt: undefined };
    }),
  );
  const pipeline = new Pipeline({ onNoPolicy: 'deny' });
  after(() => services.close());

  const check = async (host: string, path: string, headers: Record<string, string>, method = 'GET', body?: string): Promise<Decision> =>
    pipeline.decide(index, new CheckInput({ method, scheme: 'https', host, path, headers: new Map(Object.entries(headers)), peer: '127.0.0.1', body }), now);
  const login = async (key: string, host = 'web.example.com'): Promise<string> => {
    const d = await check(host, '/', { apikey: key });
    assert.equal(d.kind, 'allow');
    const sc = (d as Allow).responseHeaders.filter((h) => h.name === 'set-cookie');
    assert.equal(sc.length, 1);
    const v = sc[0]?.value ?? '';
    return v.slice(0, v.indexOf(';'));
  };
  const whoIs = async (cookie: string, host = 'web.example.com'): Promise<string> => {
    const d = await check(host, '/', { cookie });
    return d.kind === 'allow' ? (d.identity?.consumerId ?? '-') : String(d.status);
  };
  const deny = (d: Decision): Deny => {
    assert.equal(d.kind, 'deny');
    return d as Deny;
  };
  const answer = (sessions: number): Pick<Deny, 'status' | 'code' | 'headers' | 'body'> => ({
    status: 200,
    code: 'session_logout_everywhere',
    headers: [
      { name: 'set-cookie', value: EXPIRED },
      { name: 'cache-control', value: 'no-store' },
      { name: 'content-type', value: 'application/json' },
    ],
    body: JSON.stringify({ message: 'Logged out everywhere', sessions }),
  });
  // One character of the signature changed (not the last one, whose low bits are padding).
  const flip = (cookie: string): string => {
    const i = cookie.length - 5;
    return `${cookie.slice(0, i)}${cookie[i] === 'A' ? 'B' : 'A'}${cookie.slice(i + 1)}`;
  };
  const summary = (d: Deny): Pick<Deny, 'status' | 'code' | 'headers' | 'body'> => ({ status: d.status, code: d.code, headers: d.headers, body: d.body });

  const triggers: [string, string, string, Record<string, string>, string | undefined][] = [
    ['path', 'POST', '/logout/everywhere', {}, undefined],
    ['query arg', 'DELETE', '/account?logout_all=1', {}, undefined],
    ['form argument', 'POST', '/account', { 'content-type': 'application/x-www-form-urlencoded' }, 'logout_all=yes'],
  ];
  for (const [how, method, path, extra, body] of triggers) {
    it(`by ${how}: both sessions of one consumer end; another consumer's and another policy's live on`, async () => {
      now = T0;
      const laptop = await login('acme-key');
      const phone = await login('acme-key');
      const neighbour = await login('globex-key');
      const elsewhere = await login('acme-key', 'other.example.com');
      assert.deepEqual([await whoIs(laptop), await whoIs(phone), await whoIs(neighbour)], ['acme', 'acme', 'globex']);
      const d = deny(await check('web.example.com', path, { cookie: laptop, ...extra }, method, body));
      assert.deepEqual(summary(d), answer(2));
      reasons.length = 0;
      assert.deepEqual([await whoIs(laptop), await whoIs(phone)], ['401', '401']);
      assert.deepEqual(reasons, ['not_found', 'not_found']);
      assert.equal(await whoIs(neighbour), 'globex');
      assert.equal(await whoIs(elsewhere, 'other.example.com'), 'acme');
    });
  }

  it('plain logout still ends only the session it is sent with', async () => {
    now = T0;
    const laptop = await login('acme-key');
    const phone = await login('acme-key');
    assert.equal(deny(await check('web.example.com', '/logout', { cookie: laptop }, 'POST')).code, 'session_logout');
    assert.deepEqual([await whoIs(laptop), await whoIs(phone)], ['401', 'acme']);
  });

  it('without a live session it ends nothing: no cookie, a forged one, an idle-expired one', async () => {
    now = T0;
    const phone = await login('acme-key');
    const stale = await login('acme-key');
    assert.deepEqual(summary(deny(await check('web.example.com', '/logout/everywhere', {}, 'POST'))), answer(0));
    assert.deepEqual(summary(deny(await check('web.example.com', '/logout/everywhere', { cookie: flip(phone) }, 'POST'))), answer(0));
    // Keep the phone active while the stale session idles out; its cookie then cannot end the phone's.
    now = T0 + 26 * MIN;
    const renewed = await check('web.example.com', '/', { cookie: phone });
    assert.equal(renewed.kind, 'allow');
    now = T0 + 31 * MIN;
    assert.deepEqual(summary(deny(await check('web.example.com', '/logout/everywhere', { cookie: stale }, 'POST'))), answer(0));
    assert.equal(await whoIs(phone), 'acme');
  });

  it('only the configured methods (POST, DELETE by default): a GET of the path is a normal request', async () => {
    now = T0;
    const laptop = await login('acme-key');
    assert.equal(await whoIs(laptop), 'acme');
    const d = await check('web.example.com', '/logout/everywhere', { cookie: laptop });
    assert.equal(d.kind, 'allow');
    assert.equal(await whoIs(laptop), 'acme');
  });

  it('answers with the redirect when the policy has one', async () => {
    now = T0;
    const one = await login('acme-key', 'away.example.com');
    const two = await login('acme-key', 'away.example.com');
    const d = deny(await check('away.example.com', '/logout/everywhere', { cookie: one }, 'POST'));
    assert.deepEqual(summary(d), {
      status: 302,
      code: 'session_logout_everywhere',
      headers: [
        { name: 'set-cookie', value: EXPIRED },
        { name: 'cache-control', value: 'no-store' },
        { name: 'location', value: '/signed-out' },
      ],
      body: '',
    });
    assert.deepEqual([await whoIs(one, 'away.example.com'), await whoIs(two, 'away.example.com')], ['401', '401']);
  });
});
