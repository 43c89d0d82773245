// Browser sessions end to end through gRPC: policies and Secrets from YAML files, Checks built as
// Envoy builds them, an injected clock. Cookie and memory storage (Redis: session-redis.test.ts).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { deniedOf, okOf, type DecodedCheckResponse, type DecodedHeader } from './support/envoy-client.js';
import { startTestGatehouse, type TestGatehouse } from './support/gatehouse.js';
import { SESSION_SECRETS, sessionPolicy } from './support/session-grpc.js';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const MIN = 60_000;

const FILES = { 'policies.yaml': `${sessionPolicy('web', 'cookie')}---\n${sessionPolicy('mem', 'memory')}`, 'secrets.yaml': SESSION_SECRETS };

const ATTRS = '; Path=/; Secure; HttpOnly; SameSite=Strict';
const pick = (headers: DecodedHeader[], names: string[]): Record<string, string> =>
  Object.fromEntries(headers.filter((h) => names.includes(h.key)).map((h) => [h.key, h.value]));
const IDENTITY = ['x-consumer-id', 'x-consumer-username', 'x-authenticated-groups'];

/** The exact answer to a request its session cookie authenticated, as Envoy receives it. */
function allowed(extraHeaders: DecodedHeader[], extraRemovals: string[]): DecodedCheckResponse {
  return {
    grpcCode: 0,
    message: '',
    kind: 'ok',
    ok: {
      headers: [
        { key: 'x-consumer-id', value: 'acme', append: false },
        { key: 'x-consumer-username', value: 'acme-corp', append: false },
        { key: 'x-credential-identifier', value: 'shop/acme', append: false },
        { key: 'x-authenticated-groups', value: 'partners, beta', append: false },
        ...extraHeaders,
      ],
      headersToRemove: ['x-consumer-custom-id', 'x-anonymous-consumer', ...extraRemovals],
      responseHeadersToAdd: [],
      queryParametersToSet: [],
      queryParametersToRemove: [],
    },
  };
}

for (const host of ['web.example.com', 'mem.example.com']) {
  describe(`sessions over gRPC (${host})`, () => {
    let g: TestGatehouse;
    let now = T0;
    before(async () => {
      g = await startTestGatehouse(FILES, { clock: () => now });
    });
    after(async () => {
      await g.stop();
    });

    const login = async (): Promise<string> => {
      now = T0;
      const ok = okOf(await g.envoy.check({ host, path: '/', headers: { apikey: 'acme-key-1' } }));
      assert.equal(ok.responseHeadersToAdd.length, 1);
      const h = ok.responseHeadersToAdd[0];
      assert.ok(h !== undefined);
      assert.equal(h.key, 'set-cookie');
      assert.equal(h.append, true);
      assert.ok(h.value.startsWith('gh_session=') && h.value.endsWith(ATTRS), h.value);
      return h.value.slice(0, h.value.indexOf(';'));
    };

    it('an API key creates the session; the cookie alone gives the same identity headers', async () => {
      now = T0;
      const byKey = okOf(await g.envoy.check({ host, path: '/', headers: { apikey: 'acme-key-1' } }));
      const cookie = (byKey.responseHeadersToAdd[0]?.value ?? '').split(';')[0] ?? '';
      now = T0 + 5 * MIN;
      const byCookie = okOf(await g.envoy.check({ host, path: '/orders', headers: { cookie: `lang=en; ${cookie}` } }));
      assert.deepEqual(pick(byCookie.headers, IDENTITY), pick(byKey.headers, IDENTITY));
      assert.deepEqual(pick(byCookie.headers, IDENTITY), { 'x-consumer-id': 'acme', 'x-consumer-username': 'acme-corp', 'x-authenticated-groups': 'partners, beta' });
      assert.deepEqual(byCookie.responseHeadersToAdd, []);
    });

    it('the upstream gets the identity headers and the other cookies, never the session cookie', async () => {
      const cookie = await login();
      now = T0 + MIN;
      const spoofed = { 'x-consumer-id': 'admin', 'x-credential-identifier': 'forged' };
      const withOthers = await g.envoy.check({ host, path: '/orders', headers: { ...spoofed, cookie: `lang=en; ${cookie}; theme=dark` } });
      assert.deepEqual(withOthers, allowed([{ key: 'cookie', value: 'lang=en; theme=dark', append: false }], []));
      const alone = await g.envoy.check({ host, path: '/orders', headers: { ...spoofed, cookie } });
      assert.deepEqual(alone, allowed([], ['cookie']));
    });

    it('renewal near idle expiry sends a Set-Cookie; idle expiry then denies 401', async () => {
      const cookie = await login();
      now = T0 + 28 * MIN;
      const renewed = okOf(await g.envoy.check({ host, path: '/', headers: { cookie } }));
      assert.equal(renewed.responseHeadersToAdd.length, 1);
      const next = (renewed.responseHeadersToAdd[0]?.value ?? '').split(';')[0] ?? '';
      now = T0 + 57 * MIN;
      okOf(await g.envoy.check({ host, path: '/', headers: { cookie: next } }));
      now = T0 + 57 * MIN + 30 * MIN;
      assert.equal(deniedOf(await g.envoy.check({ host, path: '/', headers: { cookie: next } })).status, 401);
    });

    it('logout by POST body argument answers 200 with an expiring cookie; the replay is denied', async () => {
      const cookie = await login();
      const out = deniedOf(
        await g.envoy.check(
          { host, path: '/account', method: 'POST', headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' } },
          { body: 'session_logout=1' },
        ),
      );
      assert.equal(out.status, 200);
      assert.equal(out.body, '{"message":"Logged out"}');
      assert.deepEqual(
        out.headers.filter((h) => h.key === 'set-cookie').map((h) => h.value),
        [`gh_session=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0${ATTRS}`],
      );
      assert.equal(deniedOf(await g.envoy.check({ host, path: '/', headers: { cookie } })).status, 401);
    });

    it('logout by path', async () => {
      const cookie = await login();
      assert.equal(deniedOf(await g.envoy.check({ host, path: '/logout', method: 'DELETE', headers: { cookie } })).status, 200);
      assert.equal(deniedOf(await g.envoy.check({ host, path: '/', headers: { cookie } })).status, 401);
    });
  });
}
