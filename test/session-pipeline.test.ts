// Sessions through compilePolicy + PolicyIndex + Pipeline with an injected clock: creation after an
// API key, renewal, idle and absolute expiry, logout three ways, replay, rotation, tampering, foreign
// cookies and compile problems. Cookie and memory storage; Redis is in session-redis.test.ts.
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
import { TAIL } from '../src/core/tail-keyed-cache.js';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const MIN = 60_000;
const KEY_A = 'a'.repeat(40);
const KEY_B = 'b'.repeat(40);

function secret(name: string, data: Record<string, string>, labels: Record<string, string> = {}, annotations: Record<string, string> = {}): SecretResource {
  return { namespace: 'shop', name, labels, annotations, data: new Map(Object.entries(data).map(([k, v]) => [k, Buffer.from(v)])), origin: 'test' };
}

const ACME = secret('acme', { api_key: 'acme-key-1' }, { 'gatehouse.dev/credential': 'partners' }, {
  'gatehouse.dev/consumer-id': 'acme',
  'gatehouse.dev/consumer-username': 'acme-corp',
  'gatehouse.dev/groups': 'partners, beta',
  'gatehouse.dev/credential-id': 'acme-key-2026',
});

function policySpec(host: string, session: Record<string, unknown>): Record<string, unknown> {
  return {
    hosts: [host],
    authentication: { methods: [{ name: 'keys', apiKey: { from: [{ header: 'apikey' }], selector: { matchLabels: { 'gatehouse.dev/credential': 'partners' } } } }] },
    session,
  };
}

const SESSION = {
  secretRef: { name: 'web-session' },
  absoluteTimeout: '2h',
  idleTimeout: '30m',
  renewBefore: '5m',
  logout: { path: '/logout', queryArg: 'session_logout', postArg: 'session_logout' },
};

class World {
  now = T0;
  readonly reasons: SessionRejectReason[] = [];
  readonly services = createSessionServices({ onReject: (r) => void this.reasons.push(r) });
  readonly env: CompileEnv = { clock: () => this.now, sessions: this.services };
  readonly secrets = new SecretIndex();
  readonly pipeline = new Pipeline({ onNoPolicy: 'deny' });
  index: PolicyIndex | undefined;

  constructor(readonly policies: Record<string, Record<string, unknown>>, secrets: SecretResource[]) {
    for (const s of secrets) this.secrets.put(s);
    this.compile();
  }

  compile(): void {
    const entries = Object.entries(this.policies).map(([name, spec]) => {
      const r = compilePolicy({ namespace: 'shop', name, generation: 1, creationTimestamp: undefined, origin: 't', spec }, this.secrets, this.env);
      assert.ok(r.ok, JSON.stringify(r.problems));
      return { policy: r.policy, createdAt: undefined };
    });
    this.index = new PolicyIndex(entries);
  }

  async check(host: string, path: string, headers: Record<string, string> = {}, method = 'GET', body?: string): Promise<Decision> {
    const input = new CheckInput({ method, scheme: 'https', host, path, headers: new Map(Object.entries(headers)), peer: '127.0.0.1', body });
    return this.pipeline.decide(this.index, input, this.now);
  }
}

function allow(d: Decision): Allow {
  assert.equal(d.kind, 'allow', d.kind === 'deny' ? `${d.status} ${d.code} ${d.detail}` : '');
  return d as Allow;
}
function deny(d: Decision): Deny {
  assert.equal(d.kind, 'deny');
  return d as Deny;
}
function setCookies(headers: readonly { name: string; value: string }[]): string[] {
  return headers.filter((h) => h.name === 'set-cookie').map((h) => h.value);
}
/** `gh_session=<value>` from a Set-Cookie value. */
function cookieOf(setCookie: string | undefined): string {
  assert.ok(setCookie !== undefined);
  return setCookie.slice(0, setCookie.indexOf(';'));
}
function identityOf(a: Allow): Record<string, string | undefined> {
  const i = a.identity;
  assert.ok(i !== undefined);
  return { method: i.method, consumerId: i.consumerId, username: i.username, credential: i.credential, groups: i.groups.join(',') };
}
const ACME_IDENTITY = { method: 'keys', consumerId: 'acme', username: 'acme-corp', credential: 'acme-key-2026', groups: 'partners,beta' };
const COOKIE_ATTRS = '; Path=/; Secure; HttpOnly; SameSite=Strict';
const EXPIRED = 'gh_session=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/; Secure; HttpOnly; SameSite=Strict';

for (const storage of ['cookie', 'memory'] as const) {
  describe(`session storage ${storage}`, () => {
    const w = new World(
      {
        web: policySpec('web.example.com', { ...SESSION, storage }),
        other: policySpec('other.example.com', { ...SESSION, storage }),
      },
      [ACME, secret('web-session', { k1: KEY_A })],
    );
    after(() => w.services.close());

    const login = async (): Promise<string> => {
      const a = allow(await w.check('web.example.com', '/', { apikey: 'acme-key-1' }));
      const sc = setCookies(a.responseHeaders);
      assert.equal(sc.length, 1);
      return cookieOf(sc[0]);
    };

    it('an API key creates a session: one Set-Cookie with the exact attributes', async () => {
      w.now = T0;
      const a = allow(await w.check('web.example.com', '/', { apikey: 'acme-key-1' }));
      assert.deepEqual(identityOf(a), ACME_IDENTITY);
      const sc = setCookies(a.responseHeaders);
      assert.equal(sc.length, 1);
      assert.match(sc[0] ?? '', storage === 'cookie' ? /^gh_session=[A-Za-z0-9_-]+; Path=\/; Secure; HttpOnly; SameSite=Strict$/ : /^gh_session=[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{22}; Path=\/; Secure; HttpOnly; SameSite=Strict$/);
      assert.ok(sc[0]?.endsWith(COOKIE_ATTRS));
    });

    it('the cookie alone authenticates with the same identity, without a new cookie', async () => {
      w.now = T0;
      const cookie = await login();
      w.now = T0 + 10 * MIN;
      const a = allow(await w.check('web.example.com', '/orders', { cookie: `theme=dark; ${cookie}` }));
      assert.deepEqual(identityOf(a), ACME_IDENTITY);
      assert.deepEqual(a.responseHeaders, []);
      assert.deepEqual(a.setHeaders.find((h) => h.name === 'x-consumer-id'), { name: 'x-consumer-id', value: 'acme' });
      // The session cookie is gatehouse's credential: the upstream sees the other cookies only.
      assert.deepEqual(a.setHeaders.find((h) => h.name === 'cookie'), { name: 'cookie', value: 'theme=dark' });
      assert.equal(a.removeHeaders.includes('cookie'), false);
      const alone = allow(await w.check('web.example.com', '/orders', { cookie }));
      assert.equal(alone.setHeaders.find((h) => h.name === 'cookie'), undefined);
      assert.equal(alone.removeHeaders.includes('cookie'), true);
    });

    it('near idle expiry the session is renewed and lives on past the first idle deadline', async () => {
      w.now = T0;
      const cookie = await login();
      w.now = T0 + 26 * MIN; // 4 minutes left < renewBefore 5m
      const a = allow(await w.check('web.example.com', '/', { cookie }));
      const sc = setCookies(a.responseHeaders);
      assert.equal(sc.length, 1);
      assert.ok(sc[0]?.endsWith(COOKIE_ATTRS));
      const renewed = cookieOf(sc[0]);
      if (storage === 'memory') assert.equal(renewed, cookie); // same id, same key
      w.now = T0 + 50 * MIN; // past the original idle end (30m), within the renewed one (56m)
      assert.deepEqual(identityOf(allow(await w.check('web.example.com', '/', { cookie: renewed }))), ACME_IDENTITY);
    });

    it('idle expiry: after 30 minutes without requests the cookie is no session (401, reason counted)', async () => {
      w.now = T0;
      const cookie = await login();
      w.now = T0 + 30 * MIN;
      w.reasons.length = 0;
      const d = deny(await w.check('web.example.com', '/', { cookie }));
      assert.equal(d.status, 401);
      assert.equal(d.code, 'credential_missing');
      // A store drops the record at its TTL; only a sealed cookie still shows why it ended.
      assert.deepEqual(w.reasons, [storage === 'cookie' ? 'expired_idle' : 'not_found']);
    });

    it('absolute expiry: renewals never extend past 2 hours', async () => {
      w.now = T0;
      let cookie = await login();
      for (let t = 26; t < 120; t += 25) {
        w.now = T0 + t * MIN;
        const a = allow(await w.check('web.example.com', '/', { cookie }));
        const sc = setCookies(a.responseHeaders);
        if (sc[0] !== undefined) cookie = cookieOf(sc[0]);
      }
      w.now = T0 + 120 * MIN;
      w.reasons.length = 0;
      assert.equal(deny(await w.check('web.example.com', '/', { cookie })).status, 401);
      assert.deepEqual(w.reasons, [storage === 'cookie' ? 'expired_absolute' : 'not_found']);
    });

    const logouts: [string, string, string, Record<string, string>, string | undefined][] = [
      ['path', 'POST', '/logout', {}, undefined],
      ['query arg', 'DELETE', '/anything?session_logout=1', {}, undefined],
      ['POST body arg', 'POST', '/form', { 'content-type': 'application/x-www-form-urlencoded' }, 'a=1&session_logout=yes'],
    ];
    for (const [how, method, path, extra, body] of logouts) {
      it(`logout by ${how}: 200 JSON, cookie expired, replay is no session`, async () => {
        w.now = T0;
        const cookie = await login();
        const d = deny(await w.check('web.example.com', path, { cookie, ...extra }, method, body));
        assert.equal(d.status, 200);
        assert.equal(d.code, 'session_logout');
        assert.equal(d.body, '{"message":"Logged out"}');
        assert.deepEqual(d.headers, [
          { name: 'set-cookie', value: EXPIRED },
          { name: 'cache-control', value: 'no-store' },
          { name: 'content-type', value: 'application/json' },
        ]);
        w.reasons.length = 0;
        assert.equal(deny(await w.check('web.example.com', '/', { cookie })).status, 401);
        assert.deepEqual(w.reasons, [storage === 'cookie' ? 'logged_out' : 'not_found']);
      });
    }

    it('logout paths answer only to the configured methods; a GET passes through to authentication', async () => {
      w.now = T0;
      const cookie = await login();
      assert.deepEqual(identityOf(allow(await w.check('web.example.com', '/logout', { cookie }))), ACME_IDENTITY);
      const form = { 'content-type': 'text/plain' };
      assert.equal(allow(await w.check('web.example.com', '/form', { cookie, ...form }, 'POST', 'session_logout=1')).kind, 'allow');
    });

    it('a tampered cookie (one bit flipped) is no session, even right after the genuine one was accepted', async () => {
      w.now = T0;
      const cookie = await login();
      assert.deepEqual(identityOf(allow(await w.check('web.example.com', '/', { cookie }))), ACME_IDENTITY);
      const eq = cookie.indexOf('=');
      const value = cookie.slice(eq + 1);
      const i = storage === 'cookie' ? Math.floor(value.length / 2) : 5;
      const c = value[i] ?? 'A';
      const flipped = `${value.slice(0, i)}${c === 'A' ? 'B' : 'A'}${value.slice(i + 1)}`;
      w.reasons.length = 0;
      const d = deny(await w.check('web.example.com', '/', { cookie: `gh_session=${flipped}` }));
      assert.equal(d.status, 401);
      assert.deepEqual(w.reasons, [storage === 'cookie' ? 'tampered' : 'forged']);
      // The opened and verified values are cached by their last TAIL characters: a value that keeps the
      // genuine one's tail and changes any character before it is still no session, wherever the change.
      const head = value.length - TAIL;
      let changed = 0;
      for (let at = 0; at < head; at += Math.max(1, Math.floor(head / 40))) {
        for (const at2 of at === 0 ? [0, head - 1] : [at]) {
          const ch = value[at2] ?? 'A';
          const other = `${value.slice(0, at2)}${ch === 'A' ? 'B' : 'A'}${value.slice(at2 + 1)}`;
          assert.equal(other.slice(-TAIL), value.slice(-TAIL));
          changed++;
          assert.equal(deny(await w.check('web.example.com', '/', { cookie: `gh_session=${other}` })).status, 401, `changed at ${at2}`);
        }
      }
      // One refusal with its reason per changed value (a change in the header names the header's part).
      const expected = new Set(storage === 'cookie' ? ['tampered', 'unsupported_version', 'unknown_key', 'wrong_audience', 'malformed'] : ['forged', 'malformed']);
      assert.equal(w.reasons.length, changed + 1, w.reasons.join());
      assert.ok(w.reasons.every((r) => expected.has(r)), w.reasons.join());
      // And the genuine one is still a session.
      assert.deepEqual(identityOf(allow(await w.check('web.example.com', '/', { cookie }))), ACME_IDENTITY);
    });

    it('a cookie of another policy (same Secret, same cookie name) is no session here', async () => {
      w.now = T0;
      const cookie = await login();
      w.reasons.length = 0;
      assert.equal(deny(await w.check('other.example.com', '/', { cookie })).status, 401);
      assert.deepEqual(w.reasons, [storage === 'cookie' ? 'wrong_audience' : 'forged']);
    });

    it('a bad session cookie does not stop an API key: a fresh session replaces it', async () => {
      w.now = T0;
      const a = allow(await w.check('web.example.com', '/', { cookie: 'gh_session=garbage', apikey: 'acme-key-1' }));
      assert.deepEqual(identityOf(a), ACME_IDENTITY);
      assert.equal(setCookies(a.responseHeaders).length, 1);
    });

    it('rotation: a new first key seals, the old one still opens, removing it ends old sessions', async () => {
      w.now = T0;
      const old = await login();
      w.secrets.put(secret('web-session', { k0: KEY_B, k1: KEY_A }));
      w.compile();
      assert.deepEqual(identityOf(allow(await w.check('web.example.com', '/', { cookie: old }))), ACME_IDENTITY);
      const fresh = await login();
      w.secrets.put(secret('web-session', { k0: KEY_B }));
      w.compile();
      assert.deepEqual(identityOf(allow(await w.check('web.example.com', '/', { cookie: fresh }))), ACME_IDENTITY);
      w.reasons.length = 0;
      assert.equal(deny(await w.check('web.example.com', '/', { cookie: old })).status, 401);
      assert.deepEqual(w.reasons, [storage === 'cookie' ? 'unknown_key' : 'forged']);
      w.secrets.put(secret('web-session', { k1: KEY_A }));
      w.compile();
    });
  });
}

describe('session options', () => {
  it('persistent cookies, a custom name/path/SameSite, createdBy and a logout redirect', async () => {
    const w = new World(
      {
        app: {
          ...policySpec('app.example.com', {
            storage: 'memory',
            secretRef: { name: 'web-session' },
            cookie: { name: '__Host-app', sameSite: 'Lax', persistent: true },
            createdBy: ['keys'],
            logout: { path: '/bye', methods: ['GET'], redirectTo: '/signed-out' },
          }),
        },
      },
      [ACME, secret('web-session', { k1: KEY_A })],
    );
    try {
      const a = allow(await w.check('app.example.com', '/', { apikey: 'acme-key-1' }));
      const sc = setCookies(a.responseHeaders)[0] ?? '';
      const expires = new Date(T0 + 30 * MIN).toUTCString();
      assert.match(sc, new RegExp(`^__Host-app=[A-Za-z0-9_.-]+; Expires=${expires}; Max-Age=1800; Path=/; Secure; HttpOnly; SameSite=Lax$`));
      const d = deny(await w.check('app.example.com', '/bye', { cookie: cookieOf(sc) }));
      assert.equal(d.status, 302);
      assert.deepEqual(d.headers, [
        { name: 'set-cookie', value: '__Host-app=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/; Secure; HttpOnly; SameSite=Lax' },
        { name: 'cache-control', value: 'no-store' },
        { name: 'location', value: '/signed-out' },
      ]);
      assert.equal(d.body, '');
    } finally {
      await w.services.close();
    }
  });

  it('compile problems carry field paths and reasons', () => {
    const env: CompileEnv = { clock: () => T0 };
    const secrets = new SecretIndex();
    secrets.put(secret('short', { k: 'too-short' }));
    const problems = (session: Record<string, unknown>, mode = 'any'): string[] => {
      const spec = policySpec('p.example.com', session);
      (spec['authentication'] as Record<string, unknown>)['mode'] = mode;
      const r = compilePolicy({ namespace: 'shop', name: 'p', generation: 1, creationTimestamp: undefined, origin: 't', spec }, secrets, env);
      assert.equal(r.ok, false);
      return r.problems.map((p) => `${p.path} ${p.reason}: ${p.message}`);
    };
    assert.deepEqual(problems({ secretRef: { name: 'missing' } }), ['spec.session.secretRef SecretMissing: Secret "missing" not found']);
    assert.deepEqual(problems({ secretRef: { name: 'short' } }), [
      'spec.session.secretRef SecretInvalid: Secret "short": session: secrets[0]: must be at least 32 bytes, got 9',
    ]);
    secrets.put(secret('ok', { k: KEY_A }));
    assert.deepEqual(problems({ secretRef: { name: 'ok' }, storage: 'redis' }), ['spec.session.storage Invalid: no Redis configured (--redis-url)']);
    assert.deepEqual(problems({ secretRef: { name: 'ok' }, createdBy: ['jwt'] }), ['spec.session.createdBy[0] Invalid: no method named "jwt" in this policy']);
    assert.deepEqual(problems({ secretRef: { name: 'ok' }, idleTimeout: '1h', absoluteTimeout: '2h', renewBefore: '2h' }), [
      'spec.session Invalid: renewBefore must be a positive whole number of milliseconds, at most idleTimeout',
    ]);
    assert.deepEqual(problems({ secretRef: { name: 'ok' }, cookie: { sameSite: 'None', secure: false } }), [
      'spec.session.cookie.secure Invalid: SameSite=None requires secure: true',
    ]);
    assert.deepEqual(problems({ secretRef: { name: 'ok' }, logout: { methods: ['POST'] } }), [
      'spec.session.logout Invalid: set at least one of path, queryArg, postArg, everywhere',
    ]);
    assert.deepEqual(problems({ secretRef: { name: 'ok' }, logout: { everywhere: { path: '/logout-all' } } }), [
      "spec.session.logout.everywhere Invalid: log out everywhere needs storage redis or memory: cookie-stored sessions are kept by the browsers alone, so there is no list of a consumer's sessions to end",
    ]);
    assert.deepEqual(problems({ secretRef: { name: 'ok' }, storage: 'memory', logout: { path: '/logout', everywhere: {} } }), [
      'spec.session.logout.everywhere Invalid: set at least one of path, queryArg, postArg',
    ]);
    assert.deepEqual(problems({ secretRef: { name: 'ok' }, storage: 'memory', logout: { queryArg: 'bye', everywhere: { queryArg: 'bye' } } }), [
      'spec.session.logout.everywhere.queryArg Invalid: same as spec.session.logout.queryArg; log out everywhere needs its own',
    ]);
    assert.deepEqual(problems({ secretRef: { name: 'ok' } }, 'all'), [
      'spec.session Invalid: a session needs authentication.mode any (a session replaces the methods that created it)',
    ]);
  });
});
