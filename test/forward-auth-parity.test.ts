// One AuthPolicy means the same thing behind every proxy: generated requests (hosts, paths, methods,
// API keys, JWTs and session cookies valid, invalid or missing) decided through the gRPC Check and
// through each HTTP forward-auth dialect give the same allow/deny, status and identity. Then what the
// HTTP transport does with requests no proxy should send.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { SignJWT } from 'jose';
import type { DecodedCheckResponse } from './support/envoy-client.js';
import { eventually, startTestGatehouse, type TestGatehouse } from './support/gatehouse.js';
import { httpRequest, values, type RawResponse } from './support/http-client.js';
import { seeded } from './support/random.js';
import { SESSION_SECRETS } from './support/session-grpc.js';

const HMAC = 'parity-hs256-secret-0123456789abcdef';
const KEYS = `apiKey: {from: [{header: apikey}], selector: {matchLabels: {gatehouse.dev/credential: partners}}}`;
const POLICIES = `apiVersion: gatehouse.dev/v1alpha1
kind: AuthPolicy
metadata: {name: web, namespace: shop}
spec:
  hosts: [web.example.com]
  authentication: {methods: [{name: keys, ${KEYS}}]}
  session: {storage: cookie, secretRef: {name: shop-session}, logout: {path: /logout, methods: [GET]}}
---
apiVersion: gatehouse.dev/v1alpha1
kind: AuthPolicy
metadata: {name: api, namespace: shop}
spec:
  hosts: [api.example.com]
  paths: [/]
  skip: [{paths: [/public], methods: [GET]}]
  authentication:
    methods:
      - {name: keys, ${KEYS}}
      - name: tokens
        jwt: {algorithms: [HS256], secretRef: {name: hmac, key: secret}}
---
apiVersion: gatehouse.dev/v1alpha1
kind: AuthPolicy
metadata: {name: admin, namespace: shop}
spec:
  hosts: [api.example.com]
  paths: [/admin]
  methods: [GET, POST]
  authentication: {methods: [{name: keys, ${KEYS}}]}
---
apiVersion: gatehouse.dev/v1alpha1
kind: AuthPolicy
metadata: {name: site, namespace: shop}
spec:
  hosts: ['*.example.org']
  authentication: {methods: [{name: keys, ${KEYS}}]}
  anonymous: {id: guest}
---
apiVersion: v1
kind: Secret
metadata: {name: hmac, namespace: shop}
stringData: {secret: ${HMAC}}
`;

interface Original {
  readonly method: string;
  readonly host: string;
  readonly path: string;
  readonly headers: Record<string, string>;
}

/** allow/deny, the status meant, and the consumer: what every transport must agree on. */
type Verdict = string;

function fromGrpc(res: DecodedCheckResponse): Verdict {
  if (res.kind === 'ok') return `allow ${res.ok.headers.find((h) => h.key === 'x-consumer-id')?.value ?? '-'}`;
  if (res.kind === 'denied') return `deny ${String(res.denied.status)}`;
  return 'none';
}

function fromHttp(res: RawResponse): Verdict {
  if (res.status === 200) return `allow ${values(res, 'x-consumer-id')[0] ?? '-'}`;
  // nginx can pass on only 401 and 403; the status meant rides in X-Auth-Request-Status.
  return `deny ${values(res, 'x-auth-request-status')[0] ?? String(res.status)}`;
}

describe('forward-auth over HTTP', { timeout: 120_000 }, () => {
  let gh: TestGatehouse;
  let port = 0;
  let token = '';
  let session = '';

  before(async () => {
    gh = await startTestGatehouse({ 'policies.yaml': POLICIES, 'secrets.yaml': SESSION_SECRETS }, { flags: ['--http-address', '127.0.0.1:0'] });
    await eventually(() => gh.gatehouse.store.index?.size === 4, 5000, 'policies loaded');
    port = gh.gatehouse.httpPort ?? 0;
    const now = Math.floor(Date.now() / 1000);
    token = await new SignJWT({ sub: 'tok-user', iat: now, exp: now + 600 }).setProtectedHeader({ alg: 'HS256' }).sign(Buffer.from(HMAC));
    const signIn = await gh.envoy.check({ host: 'web.example.com', path: '/', headers: { apikey: 'acme-key-1' } });
    assert.equal(signIn.kind, 'ok');
    session = (signIn.kind === 'ok' ? signIn.ok.responseHeadersToAdd[0]?.value : '')?.split(';')[0] ?? '';
    assert.match(session, /^gh_session=/);
  });
  after(() => gh.stop());

  const asNginx = (o: Original): Promise<RawResponse> =>
    httpRequest(port, { path: '/auth/nginx', headers: { ...o.headers, host: 'gatehouse.internal', 'x-original-uri': o.path, 'x-original-method': o.method, 'x-forwarded-host': o.host, 'x-forwarded-proto': 'https' } });
  const asTraefik = (o: Original): Promise<RawResponse> =>
    httpRequest(port, { path: '/auth', headers: { ...o.headers, host: 'gatehouse.internal', 'x-forwarded-uri': o.path, 'x-forwarded-method': o.method, 'x-forwarded-host': o.host, 'x-forwarded-proto': 'https' } });
  const asEnvoy = (o: Original): Promise<RawResponse> => httpRequest(port, { method: o.method, path: `/envoy${o.path}`, headers: { ...o.headers, host: o.host } });

  it('300 generated requests: gRPC, nginx, Traefik and Envoy HTTP decide alike', async () => {
    const r = seeded(99);
    const hosts = ['web.example.com', 'api.example.com', 'www.example.org', 'a.b.example.org', 'nowhere.example.net', 'API.Example.com:8443'];
    const paths = ['/', '/orders/7?x=1', '/public/logo.png', '/publicity', '/admin', '/admin/users', '/./admin', '//admin', '/public/../admin', '/%61dmin/x', '/a%2Fb', '/x#y'];
    const methods = ['GET', 'POST', 'DELETE', 'PROPFIND', 'HEAD'];
    const credentials: Record<string, string>[] = [
      {},
      { apikey: 'acme-key-1' },
      { apikey: 'nope' },
      { authorization: `Bearer ${token}` },
      { authorization: 'Bearer e30.e30.forged' },
      { cookie: session },
      { cookie: `${session.slice(0, -4)}AAAA` },
      { apikey: 'acme-key-1', authorization: 'Bearer junk.junk.junk' },
    ];
    const wrong: string[] = [];
    const seenVerdicts = new Set<string>();
    for (let i = 0; i < 300; i++) {
      const o: Original = { method: r.pick(methods), host: r.pick(hosts), path: r.pick(paths), headers: { ...r.pick(credentials) } };
      const grpc = fromGrpc(await gh.envoy.check({ host: o.host, path: o.path, method: o.method, headers: o.headers }));
      seenVerdicts.add(grpc);
      const http = { nginx: fromHttp(await asNginx(o)), traefik: fromHttp(await asTraefik(o)), envoy: fromHttp(await asEnvoy(o)) };
      for (const [dialect, v] of Object.entries(http)) if (v !== grpc) wrong.push(`${JSON.stringify(o)}: grpc ${grpc}, ${dialect} ${v}`);
    }
    assert.deepEqual(wrong.slice(0, 10), [], `${wrong.length} disagreements`);
    for (const v of ['allow acme', 'allow tok-user', 'allow guest', 'allow -', 'deny 400', 'deny 401', 'deny 403', 'deny 405']) assert.ok(seenVerdicts.has(v), `the generator reached ${v}: ${[...seenVerdicts].join(', ')}`);
  });

  it('a credential header sent twice is read whole, as Envoy joins it for the gRPC Check: neither copy decides alone', async () => {
    // The upstream may read either copy: had the first one been checked alone, the second would pass unchecked.
    const bearer = `Bearer ${token}`;
    const repeated: [string, string[]][] = [
      ['authorization', [bearer, 'Bearer e30.e30.forged']],
      ['authorization', ['Bearer e30.e30.forged', bearer]],
      ['authorization', [bearer, bearer]],
      ['apikey', ['acme-key-1', 'nope']],
      ['apikey', ['nope', 'acme-key-1']],
      ['apikey', ['acme-key-1', 'acme-key-1']],
    ];
    const wrong: string[] = [];
    for (const [name, copies] of repeated) {
      // Each copy alone is what the list says; the name spelled as clients do, in any case.
      for (const spelled of [name, name.toUpperCase(), name[0]?.toUpperCase() + name.slice(1)]) {
        const o: Original = { method: 'GET', host: 'api.example.com', path: '/orders', headers: {} };
        const grpc = fromGrpc(await gh.envoy.check({ host: o.host, path: o.path, method: o.method, headers: { [name]: copies.join(',') } }));
        const twice = { [spelled]: copies };
        const http = {
          nginx: fromHttp(await httpRequest(port, { path: '/auth/nginx', headers: { ...twice, host: 'gatehouse.internal', 'x-original-uri': o.path, 'x-original-method': o.method, 'x-forwarded-host': o.host } })),
          traefik: fromHttp(await httpRequest(port, { path: '/auth', headers: { ...twice, host: 'gatehouse.internal', 'x-forwarded-uri': o.path, 'x-forwarded-method': o.method, 'x-forwarded-host': o.host } })),
          envoy: fromHttp(await httpRequest(port, { method: o.method, path: `/envoy${o.path}`, headers: { ...twice, host: o.host } })),
        };
        for (const [dialect, v] of Object.entries({ grpc, ...http })) if (v !== 'deny 401') wrong.push(`${spelled} ${JSON.stringify(copies)}: ${dialect} ${v}`);
      }
    }
    assert.deepEqual(wrong, []);
    // Sent once, in any case, the same credentials allow.
    for (const [spelled, value] of [['Authorization', bearer], ['APIKEY', 'acme-key-1']] as const) {
      const res = await httpRequest(port, { path: '/auth/nginx', headers: { [spelled]: value, host: 'gatehouse.internal', 'x-original-uri': '/orders', 'x-original-method': 'GET', 'x-forwarded-host': 'api.example.com' } });
      assert.deepEqual([res.status, values(res, 'x-consumer-id')], [200, [spelled === 'APIKEY' ? 'acme' : 'tok-user']]);
    }
  });

  it('an allow answers the identity headers, the Set-Cookie lines, and what Envoy must remove', async () => {
    const o: Original = { method: 'GET', host: 'web.example.com', path: '/', headers: { apikey: 'acme-key-1', cookie: 'theme=dark' } };
    const nginx = await asNginx(o);
    assert.equal(nginx.status, 200);
    assert.deepEqual(
      nginx.lines.filter(([n]) => n.startsWith('x-') && !n.startsWith('x-auth-set-cookie')),
      [
        ['x-consumer-id', 'acme'],
        ['x-consumer-username', 'acme-corp'],
        ['x-credential-identifier', 'shop/acme'],
        ['x-authenticated-groups', 'partners, beta'],
      ],
    );
    assert.deepEqual(values(nginx, 'cookie'), ['theme=dark']);
    const cookie = values(nginx, 'set-cookie');
    assert.equal(cookie.length, 1);
    assert.deepEqual(values(nginx, 'x-auth-set-cookie-1'), cookie);
    const envoy = await asEnvoy(o);
    assert.deepEqual(values(envoy, 'x-envoy-auth-headers-to-remove'), ['x-consumer-custom-id,x-anonymous-consumer']);
    assert.deepEqual(values(envoy, 'x-auth-set-cookie-1'), []);
  });

  it('a request that does not say which request to check is denied with 400 and a reason, never allowed', async () => {
    const bare = await httpRequest(port, { path: '/auth', headers: { host: 'web.example.com', apikey: 'acme-key-1' } });
    assert.equal(bare.status, 400);
    assert.equal(bare.body, JSON.stringify({ code: 'forward_request_incomplete', message: 'The proxy did not say which request to check' }));
    const noMethod = await httpRequest(port, { path: '/auth/nginx', headers: { host: 'x', 'x-original-uri': '/', 'x-forwarded-host': 'www.example.org' } });
    assert.deepEqual([noMethod.status, values(noMethod, 'x-auth-request-status')], [403, ['400']]);
    const noHost = await httpRequest(port, { path: '/auth/traefik', headers: { host: 'x', 'x-forwarded-uri': '/', 'x-forwarded-method': 'GET' } });
    assert.equal(noHost.status, 400);
    assert.equal((await httpRequest(port, { path: '/other', headers: { host: 'x' } })).status, 404);
  });

  it('a page gatehouse answers itself with 200 (logout without redirectTo) is never read as an allow', async () => {
    const o: Original = { method: 'GET', host: 'web.example.com', path: '/logout', headers: { cookie: session } };
    for (const res of [await asTraefik(o), await asEnvoy(o)]) {
      assert.equal(res.status, 401);
      assert.equal(res.body, '{"message":"Logged out"}');
      assert.match(values(res, 'set-cookie')[0] ?? '', /^gh_session=; Expires=Thu, 01 Jan 1970/);
    }
    const nginx = await asNginx(o);
    assert.deepEqual([nginx.status, values(nginx, 'x-auth-request-status')], [401, ['200']]);
  });

  it('a request with a body is decided once the body is in; a body over the limit is refused with 400', async () => {
    const o = { method: 'POST', path: '/envoy/admin/orders', headers: { host: 'api.example.com', apikey: 'acme-key-1', 'content-type': 'text/plain' } };
    const without = await httpRequest(port, o);
    const withBody = await httpRequest(port, { ...o, body: 'order=1' });
    for (const res of [without, withBody]) {
      assert.equal(res.status, 200);
      assert.deepEqual(values(res, 'x-consumer-id'), ['acme']);
    }
    // --max-request-bytes defaults to 8 MiB.
    const tooBig = await httpRequest(port, { ...o, body: 'b'.repeat(8 * 1024 * 1024 + 1) });
    assert.equal(tooBig.status, 400);
    assert.equal(tooBig.body, JSON.stringify({ code: 'request_malformed', message: 'Bad request' }));
  });

  it('X-Original-URL alone gives the path and the host', async () => {
    const res = await httpRequest(port, { path: '/auth/nginx', headers: { host: 'gatehouse.internal', 'x-original-url': 'https://web.example.com/orders?x=1', 'x-original-method': 'GET', apikey: 'acme-key-1' } });
    assert.equal(res.status, 200);
    assert.match(values(res, 'set-cookie')[0] ?? '', /^gh_session=/);
  });

  it('X-Forwarded-Host decides the host, not Host (the shipped configs always set it from the proxy)', async () => {
    const res = await httpRequest(port, { path: '/auth/nginx', headers: { host: 'www.example.org', 'x-forwarded-host': 'web.example.com', 'x-original-uri': '/', 'x-original-method': 'GET' } });
    assert.equal(res.status, 401);
  });

  it('headers beyond the limit are refused; a stalled client does not stop the others', async () => {
    const big = await httpRequest(port, { method: 'GET', path: '/envoy/', headers: { host: 'www.example.org', 'x-big': 'b'.repeat(70_000) } });
    assert.equal(big.status, 431);
    const stalled = connect(port, '127.0.0.1');
    await new Promise<void>((resolve) => stalled.once('connect', () => resolve()));
    stalled.write('GET /envoy/ HTTP/1.1\r\nHost: www.example.org\r\n');
    const closed = new Promise<number>((resolve) => {
      const t0 = Date.now();
      stalled.once('close', () => resolve(Date.now() - t0));
    });
    const others = await Promise.all(Array.from({ length: 20 }, () => httpRequest(port, { path: '/envoy/', headers: { host: 'www.example.org' } })));
    assert.deepEqual([...new Set(others.map((x) => x.status))], [200]);
    // Headers not complete within 10 s: node closes the connection (408).
    assert.ok((await closed) <= 13_000);
  });
});
