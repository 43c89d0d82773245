// `explain` for each method type and each failure kind, table-driven: the trace of a request compared
// field by field (route candidates and why one won, skip rules, every method's outcome, anonymous,
// every rule, the answer), with credentials redacted, decided by the very pipeline serve runs.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { mintToken } from '../src/authn/jwt/mint.js';
import { jwtMethodIn } from '../src/commands/token-run.js';
import { explain } from '../src/core/explain.js';
import type { DescribedRequest } from '../src/core/explain-request.js';
import type { Explanation, RouteCandidate } from '../src/core/trace.js';
import { asJson, ExplainWorld, init } from './support/explain-world.js';
import { authPolicy, hmacJwtMethod, hmacSecret, keyMethod, keySecret, yamlOf } from './support/fixtures.js';

const T0 = Date.UTC(2030, 0, 1);
const HOUR = 3_600_000;
const HMAC = 'k'.repeat(48);
const JSON_TYPE = { name: 'content-type', value: 'application/json' };

const POLICIES = yamlOf(
  authPolicy('shop', 'keys', {
    hosts: ['api.example.com'],
    skip: [{ paths: ['/healthz'], methods: ['GET'] }],
    authentication: { methods: [keyMethod('partners')] },
    authorization: { groups: { anyOf: ['partners'] } },
  }),
  authPolicy('shop', 'admin', { hosts: ['api.example.com'], paths: ['/admin'], methods: ['GET'], authentication: { methods: [keyMethod('partners')] } }),
  authPolicy('shop', 'wild', { hosts: ['*.example.com'], authentication: { methods: [keyMethod('partners')] }, anonymous: { id: 'visitor', groups: ['public'] } }),
  authPolicy('shop', 'tokens', {
    hosts: ['tokens.example.com'],
    authentication: { methods: [hmacJwtMethod({ issuer: 'https://issuer.example.com', claimsToHeaders: { 'x-user-email': 'email' } })] },
    authorization: { claims: [{ claim: 'tenant', oneOf: ['acme'] }] },
  }),
  authPolicy('shop', 'broken', { hosts: ['broken.example.com'], authentication: { methods: [{ name: 'x' }] } }),
  authPolicy('shop', 'odd', { hosts: ['odd.example.com'], authentication: { methods: [] }, anonymous: { id: 'line\nbreak' } }),
  keySecret('shop', 'acme', 'acme-key-1', 'acme'),
  keySecret('shop', 'bob', 'bob-key-1', { id: 'bob', groups: 'interns' }),
  hmacSecret('shop', HMAC),
);

const candidate = (policy: string, host: string, prefix: string, result: RouteCandidate['result'], methods?: string[]): RouteCandidate => ({
  policy,
  host,
  hostMatch: host === '*' ? 'any' : host.startsWith('*.') ? 'wildcard' : 'exact',
  prefix,
  ...(methods === undefined ? {} : { methods }),
  enforcement: 'enforce',
  result,
});
const KEYS_ROUTE = {
  outcome: 'policy',
  policy: 'shop/keys',
  candidates: [candidate('shop/keys', 'api.example.com', '/', 'chosen'), candidate('shop/wild', '*.example.com', '/', 'less_specific')],
};
const KEYS_POLICY = (path: string) => ({ id: 'shop/keys', generation: 1, enforcement: 'enforce', mode: 'any', comparedPath: path });
const NO_SKIP = [{ rule: 0, paths: ['/healthz'], methods: ['GET'], matched: false }];
const keysMethod = (rest: Record<string, unknown>) => ({ mode: 'any', methods: [{ name: 'keys', type: 'apiKey', ...rest }] });
const tokensMethod = (rest: Record<string, unknown>) => ({ mode: 'any', methods: [{ name: 'tokens', type: 'jwt', presented: 'header:authorization', ...rest }] });
const deny = (status: number, code: string, detail: string, extra: Record<string, unknown> = {}, headers = [JSON_TYPE], body?: string) => ({
  decision: 'deny',
  status,
  code,
  ...extra,
  detail,
  setHeaders: [],
  removeHeaders: [],
  responseHeaders: headers,
  removeQuery: [],
  body: body ?? JSON.stringify({ code: status === 500 ? 'internal_error' : code, message: MESSAGES[status] ?? '' }),
});
const MESSAGES: Record<number, string> = { 400: 'Malformed request path', 403: 'Forbidden', 405: 'Method not allowed', 500: 'Internal error', 503: 'Service unavailable' };

interface Case {
  readonly name: string;
  readonly request: (world: ExplainWorld) => Promise<DescribedRequest> | DescribedRequest;
  /** Each field compared as `--json` prints it. */
  readonly expect: Partial<Record<keyof Explanation, unknown>>;
}

async function token(world: ExplainWorld, claims: Record<string, unknown>, issuedAt = world.now): Promise<string> {
  const method = jwtMethodIn(world.loaded.files, 'shop/tokens', 'tokens', world.jwt, 'test files');
  return (await mintToken(method, { consumer: { id: 'acme' }, ttlMs: HOUR, claims, now: issuedAt, jti: 'jti-1' })).token;
}

const CASES: Case[] = [
  {
    name: 'apiKey, accepted: the key is redacted, the winner is the exact host over the wildcard, every header set is shown',
    request: () => ({ host: 'api.example.com', path: '/v1/orders?page=2', headers: { apikey: 'acme-key-1', 'x-request-id': 'r1' } }),
    expect: {
      request: { method: 'GET', host: 'api.example.com', rawPath: '/v1/orders', path: '/v1/orders', query: 'page=2', headers: [{ name: 'apikey', value: '[redacted]' }, { name: 'x-request-id', value: 'r1' }] },
      route: KEYS_ROUTE,
      policy: KEYS_POLICY('/v1/orders'),
      skip: NO_SKIP,
      authentication: keysMethod({ presented: 'header:apikey', result: 'success', identity: { consumer: 'acme', credential: 'shop/acme', groups: ['partners'], anonymous: false } }),
      authorization: [{ rule: 'groups.anyOf', passed: true }],
      hooks: [],
      answer: {
        decision: 'allow',
        code: 'authenticated',
        policy: 'shop/keys',
        method: 'keys',
        consumer: 'acme',
        setHeaders: [{ name: 'x-consumer-id', value: 'acme' }, { name: 'x-credential-identifier', value: 'shop/acme' }, { name: 'x-authenticated-groups', value: 'partners' }],
        removeHeaders: ['x-consumer-username', 'x-consumer-custom-id', 'x-anonymous-consumer', 'x-user-email'],
        responseHeaders: [],
        removeQuery: [],
      },
      shadows: [],
    },
  },
  {
    name: 'apiKey, a key in the query: redacted there too',
    request: () => ({ host: 'api.example.com', path: '/v1/orders?apikey=acme-key-1&page=2' }),
    expect: { request: { method: 'GET', host: 'api.example.com', rawPath: '/v1/orders', path: '/v1/orders', query: 'apikey=[redacted]&page=2', headers: [] } },
  },
  {
    name: 'unauthenticated (401): an unknown key, with the stable code and the internal detail',
    request: () => ({ host: 'api.example.com', path: '/v1/orders', headers: { apikey: 'nope' } }),
    expect: {
      authentication: keysMethod({ presented: 'header:apikey', result: 'failure', code: 'key_unknown', detail: 'no consumer holds the presented key' }),
      authorization: [],
      answer: deny(401, 'key_unknown', 'no consumer holds the presented key', { policy: 'shop/keys', method: 'keys' }, [{ name: 'www-authenticate', value: 'Key realm="api.example.com"' }, JSON_TYPE], '{"code":"key_unknown","message":"Invalid authentication credentials"}'),
    },
  },
  {
    name: 'unauthenticated (401): nothing presented, no anonymous consumer',
    request: () => ({ host: 'api.example.com', path: '/v1/orders' }),
    expect: {
      authentication: keysMethod({ result: 'none' }),
      answer: deny(401, 'credential_missing', 'no credential presented', { policy: 'shop/keys' }, [{ name: 'www-authenticate', value: 'Key realm="api.example.com"' }, JSON_TYPE], '{"code":"credential_missing","message":"No credentials found in request"}'),
    },
  },
  {
    name: 'forbidden (403): authenticated, then refused by the group rule',
    request: () => ({ host: 'api.example.com', path: '/v1/orders', headers: { apikey: 'bob-key-1' } }),
    expect: {
      authentication: keysMethod({ presented: 'header:apikey', result: 'success', identity: { consumer: 'bob', credential: 'shop/bob', groups: ['interns'], anonymous: false } }),
      authorization: [{ rule: 'groups.anyOf', passed: false, code: 'group_forbidden', detail: 'no required group' }],
      answer: deny(403, 'group_forbidden', 'no required group', { policy: 'shop/keys', method: 'keys' }),
    },
  },
  {
    name: 'a skip rule: allowed without authentication, the rule that matched shown',
    request: () => ({ host: 'api.example.com', path: '/healthz' }),
    expect: {
      skip: [{ rule: 0, paths: ['/healthz'], methods: ['GET'], matched: true }],
      authentication: undefined,
      answer: { decision: 'allow', code: 'skipped', policy: 'shop/keys', setHeaders: [], removeHeaders: ['x-consumer-id', 'x-consumer-username', 'x-consumer-custom-id', 'x-credential-identifier', 'x-authenticated-groups', 'x-anonymous-consumer', 'x-user-email'], responseHeaders: [], removeQuery: [] },
    },
  },
  {
    name: 'the anonymous consumer, on the wildcard host',
    request: () => ({ host: 'www.example.com', path: '/' }),
    expect: {
      route: { outcome: 'policy', policy: 'shop/wild', candidates: [candidate('shop/wild', '*.example.com', '/', 'chosen')] },
      authentication: { mode: 'any', methods: [{ name: 'keys', type: 'apiKey', result: 'none' }], anonymous: { consumer: 'visitor', used: true } },
      answer: {
        decision: 'allow',
        code: 'anonymous',
        policy: 'shop/wild',
        method: 'anonymous',
        consumer: 'visitor',
        setHeaders: [{ name: 'x-consumer-id', value: 'visitor' }, { name: 'x-authenticated-groups', value: 'public' }, { name: 'x-anonymous-consumer', value: 'true' }],
        removeHeaders: ['x-consumer-username', 'x-consumer-custom-id', 'x-credential-identifier', 'x-user-email'],
        responseHeaders: [],
        removeQuery: [],
      },
    },
  },
  {
    name: 'a wrong key where an anonymous consumer exists: refused, anonymous not used',
    request: () => ({ host: 'www.example.com', path: '/', headers: { apikey: 'nope' } }),
    expect: {
      authentication: { mode: 'any', methods: [{ name: 'keys', type: 'apiKey', presented: 'header:apikey', result: 'failure', code: 'key_unknown', detail: 'no consumer holds the presented key' }], anonymous: { consumer: 'visitor', used: false } },
    },
  },
  {
    name: 'method not allowed (405): the most specific path covers GET only; the less specific are listed after it',
    request: () => ({ host: 'api.example.com', path: '/admin/users', method: 'POST' }),
    expect: {
      route: {
        outcome: 'method_not_allowed',
        candidates: [
          candidate('shop/admin', 'api.example.com', '/admin', 'method_not_covered', ['GET']),
          candidate('shop/keys', 'api.example.com', '/', 'less_specific'),
          candidate('shop/wild', '*.example.com', '/', 'less_specific'),
        ],
      },
      policy: undefined,
      answer: deny(405, 'method_not_allowed', 'no policy at this path covers the method (allowed: GET)', { policy: 'shop/admin' }, [JSON_TYPE, { name: 'allow', value: 'GET' }]),
    },
  },
  {
    name: 'bad request (400): a path that cannot be read is refused before any policy',
    request: () => ({ host: 'api.example.com', path: '/%zz' }),
    expect: {
      request: { method: 'GET', host: 'api.example.com', rawPath: '/%zz', path: '/%zz', query: '', headers: [] },
      route: { outcome: 'request_refused', candidates: [] },
      answer: deny(400, 'path_bad_escape', 'invalid percent-encoding at offset 1'),
    },
  },
  {
    name: 'forbidden (403): no policy for the host',
    request: () => ({ host: 'api.example.org', path: '/' }),
    expect: { route: { outcome: 'no_policy', candidates: [] }, answer: deny(403, 'no_policy', 'no policy for api.example.org/') },
  },
  {
    name: 'unavailable (503): an invalid policy serves only denials, and says why',
    request: () => ({ host: 'broken.example.com', path: '/' }),
    expect: {
      policy: { id: 'shop/broken', generation: 1, enforcement: 'enforce', mode: 'any', comparedPath: '/', broken: 'spec.authentication.methods[0]: no method block set (one of apiKey, jwt, oidc)' },
      answer: deny(503, 'policy_invalid', 'policy shop/broken is invalid: spec.authentication.methods[0]: no method block set (one of apiKey, jwt, oidc)', { policy: 'shop/broken' }),
    },
  },
  {
    name: 'internal (500): an identity that cannot be sent as a header; the body hides the code',
    request: () => ({ host: 'odd.example.com', path: '/' }),
    expect: { answer: deny(500, 'identity_header_invalid', 'identity of line\nbreak cannot be sent as a header', { policy: 'shop/odd', method: 'anonymous' }) },
  },
  {
    name: 'jwt, accepted: the token is redacted, the claim rule and claim header shown',
    request: async (w) => ({ host: 'tokens.example.com', path: '/', headers: { authorization: `Bearer ${await token(w, { tenant: 'acme', email: 'a@example.com' })}` } }),
    expect: {
      request: { method: 'GET', host: 'tokens.example.com', rawPath: '/', path: '/', query: '', headers: [{ name: 'authorization', value: 'Bearer [redacted]' }] },
      authentication: tokensMethod({ result: 'success', identity: { consumer: 'acme', credential: 'jti-1', groups: [], anonymous: false } }),
      authorization: [{ rule: 'spec.authorization.claims[0]', passed: true }],
      answer: {
        decision: 'allow',
        code: 'authenticated',
        policy: 'shop/tokens',
        method: 'tokens',
        consumer: 'acme',
        setHeaders: [{ name: 'x-consumer-id', value: 'acme' }, { name: 'x-credential-identifier', value: 'jti-1' }, { name: 'x-user-email', value: 'a@example.com' }],
        removeHeaders: ['x-consumer-username', 'x-consumer-custom-id', 'x-authenticated-groups', 'x-anonymous-consumer'],
        responseHeaders: [],
        removeQuery: [],
      },
    },
  },
  {
    name: 'jwt, expired: 401 jwt_expired, how long ago in the detail',
    request: async (w) => ({ host: 'tokens.example.com', path: '/', headers: { authorization: `Bearer ${await token(w, { tenant: 'acme' }, w.now - 2 * HOUR)}` } }),
    expect: { authentication: tokensMethod({ result: 'failure', code: 'jwt_expired', detail: 'expired 3600s ago' }) },
  },
  {
    name: 'jwt, a tampered signature: 401 jwt_signature_invalid',
    request: async (w) => ({ host: 'tokens.example.com', path: '/', headers: { authorization: `Bearer ${(await token(w, { tenant: 'acme' })).slice(0, -4)}AAAA` } }),
    expect: { authentication: tokensMethod({ result: 'failure', code: 'jwt_signature_invalid', detail: 'signature matches none of 1 candidate key(s)' }) },
  },
  {
    name: 'jwt, a tenant outside the rule: 403 claim_forbidden',
    request: async (w) => ({ host: 'tokens.example.com', path: '/', headers: { authorization: `Bearer ${await token(w, { tenant: 'initech' })}` } }),
    expect: {
      authorization: [{ rule: 'spec.authorization.claims[0]', passed: false, code: 'claim_forbidden', detail: 'spec.authorization.claims[0]: claim "tenant" does not satisfy oneOf' }],
      answer: deny(403, 'claim_forbidden', 'spec.authorization.claims[0]: claim "tenant" does not satisfy oneOf', { policy: 'shop/tokens', method: 'tokens' }),
    },
  },
];

describe('explain, table-driven over methods and failure kinds', () => {
  const world = new ExplainWorld({ now: T0 });
  before(() => world.load({ 'policies.yaml': POLICIES }));
  after(() => world.close());

  for (const c of CASES) {
    it(c.name, async () => {
      const e = asJson(await world.explain(await c.request(world))) as unknown as Record<string, unknown>;
      assert.equal(e.dryRun, true);
      for (const [field, want] of Object.entries(c.expect)) assert.deepEqual(e[field], want, field);
    });
  }

  it('unavailable (503): before the sources have synced, every request is refused not_ready', async () => {
    const e = asJson(await explain(world.pipeline, undefined, init({ host: 'api.example.com', path: '/' }), T0));
    assert.deepEqual(e.route, { outcome: 'not_ready', candidates: [] });
    assert.deepEqual(e.answer, deny(503, 'not_ready', 'policies not loaded yet'));
  });
});

describe('explain with shadow policies', () => {
  const world = new ExplainWorld({ now: T0 });
  before(() =>
    world.load({
      'policies.yaml': yamlOf(
        authPolicy('shop', 'live', { hosts: ['api.example.com'], authentication: { methods: [keyMethod('partners')] } }),
        authPolicy('shop', 'next', { hosts: ['api.example.com'], authentication: { methods: [keyMethod('partners')] }, authorization: { groups: { anyOf: ['staff'] } }, enforcement: 'shadow' }),
        authPolicy('shop', 'beta', { hosts: ['beta.example.com'], authentication: { methods: [keyMethod('partners')] }, enforcement: 'shadow' }),
        keySecret('shop', 'acme', 'acme-key-1', 'acme'),
      ),
    }),
  );
  after(() => world.close());

  it('beside the enforced policy: listed among the candidates, and evaluated on its own, in a dry run', async () => {
    const e = asJson(await world.explain({ host: 'api.example.com', path: '/', headers: { apikey: 'acme-key-1' } }));
    assert.deepEqual(e.route.candidates, [candidate('shop/live', 'api.example.com', '/', 'chosen'), { ...candidate('shop/next', 'api.example.com', '/', 'evaluated'), enforcement: 'shadow' }]);
    assert.deepEqual([e.answer.decision, e.answer.policy, e.answer.consumer], ['allow', 'shop/live', 'acme']);
    assert.equal(e.shadows.length, 1);
    const [next] = e.shadows;
    assert.deepEqual(next?.policy, { id: 'shop/next', generation: 1, enforcement: 'shadow', mode: 'any', comparedPath: '/' });
    assert.deepEqual(next?.authorization, [{ rule: 'groups.anyOf', passed: false, code: 'group_forbidden', detail: 'no required group' }]);
    assert.deepEqual([next?.answer.decision, next?.answer.status, next?.answer.code], ['deny', 403, 'group_forbidden']);
  });

  it('alone on a host: the would-be denial, and the request let through with no identity', async () => {
    const e = asJson(await world.explain({ host: 'beta.example.com', path: '/', headers: { apikey: 'wrong' } }));
    assert.deepEqual(e.route, { outcome: 'policy', policy: 'shop/beta', candidates: [{ ...candidate('shop/beta', 'beta.example.com', '/', 'chosen'), enforcement: 'shadow' }] });
    assert.deepEqual([e.wouldBe?.decision, e.wouldBe?.status, e.wouldBe?.code], ['deny', 401, 'key_unknown']);
    assert.deepEqual(e.answer, {
      decision: 'allow',
      code: 'shadow',
      policy: 'shop/beta',
      setHeaders: [],
      removeHeaders: ['x-consumer-id', 'x-consumer-username', 'x-consumer-custom-id', 'x-credential-identifier', 'x-authenticated-groups', 'x-anonymous-consumer'],
      responseHeaders: [],
      removeQuery: [],
    });
    assert.deepEqual(e.shadows, [], 'the lone shadow policy is the main explanation');
  });
});
