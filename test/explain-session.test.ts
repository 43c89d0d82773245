// Explaining requests of a browser-session policy changes nothing: a sign-in creates no session, a
// logout ends none, a renewal due is not written, a refused cookie is not counted. Each test proves its
// point by the store or list itself (memory session store, memory revocation list), then shows that the
// same request decided for real does write: the proof could fail.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { Decision } from '../src/core/decision.js';
import type { SessionStore } from '../src/session/store.js';
import { asJson, ExplainWorld } from './support/explain-world.js';
import { authPolicy, keyMethod, keySecret, secret, yamlOf } from './support/fixtures.js';

const T0 = Date.UTC(2030, 0, 1);
const MIN = 60_000;
const SESSION = { absoluteTimeout: '2h', idleTimeout: '30m', renewBefore: '5m', logout: { path: '/logout', methods: ['POST'] }, createdBy: ['keys'] };
const FILES = {
  'web.yaml': yamlOf(
    authPolicy('shop', 'web', { hosts: ['web.example.com'], authentication: { methods: [keyMethod('partners')] }, session: { ...SESSION, storage: 'memory', secretRef: { name: 'web-session' } } }),
    authPolicy('shop', 'sealed', { hosts: ['sealed.example.com'], authentication: { methods: [keyMethod('partners')] }, session: { ...SESSION, storage: 'cookie', secretRef: { name: 'web-session' } } }),
    secret('shop', 'web-session', { k1: 'a'.repeat(40) }),
    keySecret('shop', 'acme', 'acme-key-1', 'acme'),
  ),
};

/** Write calls a store receives, counted on the real store the policy uses. */
function countWrites(store: SessionStore): string[] {
  const writes: string[] = [];
  const target = store as unknown as Record<string, (...args: unknown[]) => unknown>;
  for (const name of ['put', 'replace', 'delete', 'deleteAllFor']) {
    const real = target[name]?.bind(store);
    if (real === undefined) throw new Error(`store has no ${name}`);
    target[name] = (...args: unknown[]) => {
      writes.push(name);
      return real(...args);
    };
  }
  return writes;
}

function setCookies(d: Decision): string[] {
  const headers = d.kind === 'allow' ? d.responseHeaders : d.headers;
  return headers.filter((h) => h.name === 'set-cookie').map((h) => h.value);
}

/** `gh_session=<value>` from the Set-Cookie of a sign-in. */
function cookieOf(d: Decision): string {
  const [first] = setCookies(d);
  assert.ok(first !== undefined, `a session cookie in ${JSON.stringify(d)}`);
  return first.split(';')[0] ?? '';
}

describe('explaining session requests writes nothing (memory store)', () => {
  const world = new ExplainWorld({ now: T0 });
  let writes: string[] = [];
  before(async () => {
    await world.load(FILES);
    writes = countWrites(world.sessions.memory('shop/web', () => world.now));
  });
  beforeEach(() => {
    world.now = T0;
    writes.length = 0;
  });
  after(() => world.close());

  const signIn = { host: 'web.example.com', path: '/account', headers: { apikey: 'acme-key-1' } };

  it('a sign-in explained creates no session: the hook is shown as not run and no cookie is set', async () => {
    const e = asJson(await world.explain(signIn));
    assert.deepEqual(e.hooks, [{ name: 'session', ran: false }]);
    assert.deepEqual([e.answer.decision, e.answer.code, e.answer.consumer, e.answer.responseHeaders], ['allow', 'authenticated', 'acme', []]);
    assert.deepEqual(writes, []);
    const live = await world.decide(signIn);
    assert.match(cookieOf(live), /^gh_session=.+/);
    assert.deepEqual(writes, ['put'], 'the same request decided for real creates the session');
  });

  it('a session cookie explained: the session identifies, the cookie value is redacted, the key method is not needed', async () => {
    const cookie = cookieOf(await world.decide(signIn));
    writes.length = 0;
    const e = asJson(await world.explain({ host: 'web.example.com', path: '/account', headers: { cookie: `${cookie}; theme=dark` } }));
    assert.deepEqual(e.request.headers, [{ name: 'cookie', value: 'gh_session=[redacted]; theme=[redacted]' }]);
    assert.deepEqual(e.authentication, {
      mode: 'any',
      methods: [
        { name: 'session', type: 'session', result: 'success', identity: { consumer: 'acme', credential: 'shop/acme', groups: ['partners'], anonymous: false } },
        { name: 'keys', type: 'apiKey', result: 'skipped' },
      ],
    });
    assert.deepEqual(e.answer.setHeaders.find((h) => h.name === 'cookie'), { name: 'cookie', value: 'theme=[redacted]' });
    assert.deepEqual(writes, []);
  });

  it('a logout explained ends nothing: the answer as it would be, and the session still works', async () => {
    const cookie = cookieOf(await world.decide(signIn));
    writes.length = 0;
    const logout = { host: 'web.example.com', path: '/logout', method: 'POST', headers: { cookie } };
    const e = asJson(await world.explain(logout));
    assert.equal(e.endpoint, 'session-logout');
    assert.deepEqual([e.answer.decision, e.answer.status, e.answer.code, e.answer.body], ['deny', 200, 'session_logout', '{"message":"Logged out"}']);
    assert.deepEqual(e.answer.responseHeaders[0], { name: 'set-cookie', value: 'gh_session=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/; Secure; HttpOnly; SameSite=Strict' });
    assert.deepEqual(writes, []);
    const still = await world.decide({ host: 'web.example.com', path: '/account', headers: { cookie } });
    assert.deepEqual([still.kind, still.kind === 'allow' ? still.identity?.consumerId : undefined], ['allow', 'acme']);
    await world.decide(logout);
    assert.deepEqual(writes, ['delete'], 'the same logout decided for real ends the session');
  });

  it('a renewal due is not written by an explain; decided for real, it is', async () => {
    const cookie = cookieOf(await world.decide(signIn));
    world.now = T0 + 26 * MIN;
    writes.length = 0;
    const e = asJson(await world.explain({ host: 'web.example.com', path: '/account', headers: { cookie } }));
    assert.deepEqual([e.answer.decision, e.answer.responseHeaders], ['allow', []]);
    assert.deepEqual(writes, []);
    const live = await world.decide({ host: 'web.example.com', path: '/account', headers: { cookie } });
    assert.equal(setCookies(live).length, 1, 'renewed with a new cookie');
    assert.deepEqual(writes, ['replace']);
  });

  it('a refused session cookie is not counted by an explain; decided for real, it is', async () => {
    world.rejected.length = 0;
    const forged = { host: 'web.example.com', path: '/account', headers: { cookie: 'gh_session=forged-value' } };
    const e = asJson(await world.explain(forged));
    assert.deepEqual(e.authentication?.methods[0], { name: 'session', type: 'session', result: 'none' });
    assert.deepEqual(e.answer.code, 'credential_missing');
    assert.deepEqual(world.rejected, []);
    await world.decide(forged);
    assert.deepEqual(world.rejected, ['malformed']);
  });
});

describe('explaining a logout of a cookie-stored session records nothing (memory revocation list)', () => {
  const world = new ExplainWorld({ now: T0 });
  before(() => world.load(FILES));
  after(() => world.close());

  it('the logout list is unchanged by the explain and the cookie still works; the real logout enters it', async () => {
    const signedIn = await world.decide({ host: 'sealed.example.com', path: '/', headers: { apikey: 'acme-key-1' } });
    const cookie = cookieOf(signedIn);
    const logout = { host: 'sealed.example.com', path: '/logout', method: 'POST', headers: { cookie } };
    const before = world.revocation.counts();
    const e = asJson(await world.explain(logout));
    assert.deepEqual([e.endpoint, e.answer.status, e.answer.code], ['session-logout', 200, 'session_logout']);
    assert.deepEqual(world.revocation.counts(), before);
    const still = await world.decide({ host: 'sealed.example.com', path: '/', headers: { cookie } });
    assert.equal(still.kind, 'allow');
    await world.decide(logout);
    assert.notDeepEqual(world.revocation.counts(), before, 'the real logout is recorded');
    const after = await world.decide({ host: 'sealed.example.com', path: '/', headers: { cookie } });
    assert.deepEqual([after.kind, after.code], ['deny', 'credential_missing']);
  });
});
