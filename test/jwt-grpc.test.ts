// The jwt method end to end: policies as YAML files, gatehouse started in-process, Checks sent the way
// Envoy sends them, and the exact CheckResponse asserted (identity headers, removals, denials).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SignJWT } from 'jose';
import { createJwtServices, type JwtServices } from '../src/authn/jwt/services.js';
import type { DecodedCheckResponse } from './support/envoy-client.js';
import { authPolicy, hmacJwtMethod, hmacSecret, yamlOf } from './support/fixtures.js';
import { eventually, startTestGatehouse, type TestGatehouse } from './support/gatehouse.js';
import { generateTestKey, startJwksServer, type JwksServer } from './support/jwks-server.js';
import { OP_AUDIENCE, startOidcOp, type TestOp } from './support/oidc-op.js';

const HMAC = 'hs256-shared-secret-0123456789abcdef';
const ISSUER = 'https://id.example.com';
const KEY = generateTestKey('ES256', 'edge-1');

function policies(jwksUrl: string, opIssuer: string): Record<string, string> {
  const tokens = hmacJwtMethod({
    issuer: ISSUER,
    audiences: ['shop'],
    consumer: { username: 'preferred_username', groups: 'groups' },
    claimsToHeaders: { 'x-user-email': 'email' },
    forwardPayloadHeader: 'x-jwt-payload',
    hideCredentials: true,
    revocation: true,
  });
  const idp = { name: 'idp', jwt: { algorithms: ['ES256'], jwksUri: jwksUrl, from: [{ query: 'access_token' }], hideCredentials: true } };
  const oidc = {
    name: 'oidc-tokens',
    jwt: { algorithms: ['RS256'], issuer: opIssuer, discovery: true, audiences: [OP_AUDIENCE], consumer: { id: 'client_id', username: 'preferred_username', groups: 'groups' } },
  };
  return {
    'shop.yaml': yamlOf(
      authPolicy('shop', 'api', { hosts: ['api.shop.example.com'], authentication: { methods: [tokens] }, response: { realm: 'shop' } }),
      hmacSecret('shop', HMAC),
    ),
    'edge.yaml': yamlOf(authPolicy('edge', 'edge', { hosts: ['edge.example.com'], authentication: { methods: [idp] }, response: { realm: 'edge' } })),
    'orders.yaml': yamlOf(
      authPolicy('orders', 'orders', {
        hosts: ['orders.example.com'],
        authentication: { methods: [oidc] },
        authorization: { groups: { anyOf: ['orders'] } },
        response: { realm: 'orders' },
      }),
    ),
  };
}

const IDENTITY_REMOVALS = ['x-consumer-custom-id', 'x-anonymous-consumer'];

describe('jwt through the ext_authz gRPC server', { timeout: 60_000 }, () => {
  let gh: TestGatehouse;
  let jwt: JwtServices;
  let idp: JwksServer;
  let op: TestOp;
  let now = Date.now();

  before(async () => {
    idp = await startJwksServer([KEY.jwk]);
    op = await startOidcOp();
    jwt = createJwtServices();
    gh = await startTestGatehouse(policies(idp.jwksUrl, op.issuer), { clock: () => now, jwt });
    await eventually(() => gh.gatehouse.store.index !== undefined, 5000, 'policies loaded');
  });
  after(async () => {
    await gh.stop();
    await op.close();
    await idp.close();
    await jwt.close();
  });

  const s = (): number => Math.floor(now / 1000);
  const hs = (claims: Record<string, unknown>): Promise<string> =>
    new SignJWT({ iss: ISSUER, aud: 'shop', iat: s(), exp: s() + 300, ...claims }).setProtectedHeader({ alg: 'HS256' }).sign(Buffer.from(HMAC));
  const check = (token: string | undefined, headers: Record<string, string> = {}): Promise<DecodedCheckResponse> =>
    gh.envoy.check({ host: 'api.shop.example.com', path: '/orders/7', headers: token === undefined ? headers : { ...headers, authorization: `Bearer ${token}` } });

  function denied(code: string, status: number, challenge: string | undefined, message: string, grpcCode: number): DecodedCheckResponse {
    const headers = [
      ...(challenge === undefined ? [] : [{ key: 'www-authenticate', value: challenge, append: false }]),
      { key: 'content-type', value: 'application/json', append: false },
    ];
    return { grpcCode, message: code, kind: 'denied', denied: { status, headers, body: JSON.stringify({ code, message }) } };
  }

  test('a valid token is allowed: identity and claim headers set, the token and spoofed identity headers removed', async () => {
    const token = await hs({ sub: 'alice', jti: 'tok-a1', preferred_username: 'Alice', groups: ['staff', 'beta'], email: 'alice@example.com' });
    const res = await check(token, { 'x-consumer-id': 'admin', 'x-user-email': 'root@example.com' });
    assert.deepEqual(res, {
      grpcCode: 0,
      message: '',
      kind: 'ok',
      ok: {
        headers: [
          { key: 'x-consumer-id', value: 'alice', append: false },
          { key: 'x-consumer-username', value: 'Alice', append: false },
          { key: 'x-credential-identifier', value: 'tok-a1', append: false },
          { key: 'x-authenticated-groups', value: 'staff, beta', append: false },
          { key: 'x-user-email', value: 'alice@example.com', append: false },
          { key: 'x-jwt-payload', value: token.split('.')[1] ?? '', append: false },
        ],
        headersToRemove: [...IDENTITY_REMOVALS, 'authorization'],
        responseHeadersToAdd: [],
        queryParametersToSet: [],
        queryParametersToRemove: [],
      },
    });
  });

  test('an expired token: 401 with the Bearer invalid_token challenge and the jwt_expired body', async () => {
    const token = await hs({ sub: 'alice', iat: s() - 600, exp: s() - 60 });
    assert.deepEqual(
      await check(token),
      denied('jwt_expired', 401, 'Bearer realm="shop", error="invalid_token", error_description="The token has expired"', 'The token has expired', 16),
    );
  });

  test('the injected clock decides: a token expires when the clock moves past exp, on the cached path too', async () => {
    const token = await hs({ sub: 'bob', exp: s() + 120 });
    assert.equal((await check(token)).kind, 'ok');
    assert.equal((await check(token)).kind, 'ok');
    const saved = now;
    now += 200_000;
    try {
      assert.deepEqual(
        await check(token),
        denied('jwt_expired', 401, 'Bearer realm="shop", error="invalid_token", error_description="The token has expired"', 'The token has expired', 16),
      );
    } finally {
      now = saved;
    }
  });

  test('bad tokens are denied with their codes', async () => {
    const cases: [string, string, string][] = [
      [await hs({ sub: 'a', aud: 'billing' }), 'jwt_audience_invalid', 'The token audience is not accepted'],
      [await hs({ sub: 'a', iss: 'https://evil.example.com' }), 'jwt_issuer_invalid', 'The token issuer is not accepted'],
      [`${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from('{"sub":"root"}').toString('base64url')}.`, 'jwt_alg_not_allowed', 'The token algorithm is not allowed'],
      ['not-a-jwt', 'jwt_malformed', 'The token is malformed'],
      [(await hs({ sub: 'a' })).slice(0, -4) + 'AAAA', 'jwt_signature_invalid', 'The token signature is invalid'],
    ];
    for (const [token, code, message] of cases) {
      assert.deepEqual(await check(token), denied(code, 401, `Bearer realm="shop", error="invalid_token", error_description="${message}"`, message, 16), code);
    }
  });

  test('no token: 401 credential_missing offering Bearer', async () => {
    assert.deepEqual(await check(undefined), denied('credential_missing', 401, 'Bearer realm="shop"', 'No credentials found in request', 16));
  });

  test('a revoked token is denied with jwt_revoked (in-memory list of this process)', async () => {
    const token = await hs({ sub: 'carol', jti: 'tok-revoked' });
    assert.equal((await check(token)).kind, 'ok');
    await jwt.revocation.revokeToken(ISSUER, 'tok-revoked', 600_000);
    assert.deepEqual(
      await check(token),
      denied('jwt_revoked', 401, 'Bearer realm="shop", error="invalid_token", error_description="The token has been revoked"', 'The token has been revoked', 16),
    );
  });

  test('a token in the query from a JWKS-keyed policy: allowed and the parameter removed; unknown kid denied', async () => {
    const token = await new SignJWT({ sub: 'device-9', iat: s(), exp: s() + 60 }).setProtectedHeader({ alg: 'ES256', kid: 'edge-1' }).sign(KEY.privateKey);
    const res = await gh.envoy.check({ host: 'edge.example.com', path: `/telemetry?access_token=${token}&batch=3` });
    assert.deepEqual(res, {
      grpcCode: 0,
      message: '',
      kind: 'ok',
      ok: {
        headers: [{ key: 'x-consumer-id', value: 'device-9', append: false }],
        headersToRemove: ['x-consumer-username', 'x-consumer-custom-id', 'x-credential-identifier', 'x-authenticated-groups', 'x-anonymous-consumer', 'x-user-email', 'x-jwt-payload'],
        responseHeadersToAdd: [],
        queryParametersToSet: [],
        queryParametersToRemove: ['access_token'],
      },
    });
    const stranger = await new SignJWT({ sub: 'x', iat: s(), exp: s() + 60 }).setProtectedHeader({ alg: 'ES256', kid: 'edge-9' }).sign(KEY.privateKey);
    const denial = await gh.envoy.check({ host: 'edge.example.com', path: `/telemetry?access_token=${stranger}` });
    assert.deepEqual(denial, denied('jwt_key_unknown', 401, 'Bearer realm="edge", error="invalid_token", error_description="The token signing key is unknown"', 'The token signing key is unknown', 16));
  });

  test('a real OpenID Provider access token passes authorization by its groups claim', async () => {
    const token = await op.accessToken();
    const saved = now;
    now = Date.now();
    try {
      const res = await gh.envoy.check({ host: 'orders.example.com', path: '/orders', headers: { authorization: `Bearer ${token}` } });
      assert.equal(res.kind, 'ok');
      if (res.kind !== 'ok') return;
      assert.deepEqual(res.ok.headers.slice(0, 2), [
        { key: 'x-consumer-id', value: op.clientId, append: false },
        { key: 'x-consumer-username', value: 'orders-bot', append: false },
      ]);
      assert.deepEqual(res.ok.headers.slice(3), [{ key: 'x-authenticated-groups', value: 'services, orders', append: false }]);
      assert.equal(res.ok.headers[2]?.key, 'x-credential-identifier');
    } finally {
      now = saved;
    }
  });

  test('JWKS never reachable: 503 jwks_unavailable', async () => {
    const idp = { name: 'idp', jwt: { algorithms: ['ES256'], jwksUri: 'http://127.0.0.1:1/jwks.json' } };
    gh.write('down.yaml', yamlOf(authPolicy('edge', 'down', { hosts: ['down.example.com'], authentication: { methods: [idp] } })));
    await eventually(() => gh.gatehouse.store.status('edge', 'down')?.ready === true, 5000, 'down policy compiled');
    const token = await new SignJWT({ sub: 'x', iat: s(), exp: s() + 60 }).setProtectedHeader({ alg: 'ES256', kid: 'edge-1' }).sign(KEY.privateKey);
    const res = await gh.envoy.check({ host: 'down.example.com', path: '/', headers: { authorization: `Bearer ${token}` } });
    assert.deepEqual(res, denied('jwks_unavailable', 503, undefined, 'Token keys are unavailable', 14));
  });
});
