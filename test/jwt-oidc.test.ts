// Access tokens from a real OpenID Provider (oidc-provider, client_credentials grant, JWT format),
// verified with keys found through OpenID discovery.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decodeProtectedHeader } from 'jose';
import { createJwtServices } from '../src/authn/jwt/services.js';
import type { JwtAuthenticator } from '../src/authn/jwt/authenticator.js';
import { authenticate, bearer, mustCompile, outcome } from './support/jwt-policy.js';
import { OP_AUDIENCE, startOidcOp, type TestOp } from './support/oidc-op.js';

describe('jwt: tokens from a real OpenID Provider', { timeout: 30_000 }, () => {
  let op: TestOp;
  let m: JwtAuthenticator;
  const services = createJwtServices();

  before(async () => {
    op = await startOidcOp();
    m = mustCompile(
      {
        algorithms: ['RS256'],
        issuer: op.issuer,
        discovery: true,
        audiences: [OP_AUDIENCE],
        maxLifetime: '1h',
        consumer: { id: 'client_id', username: 'preferred_username', groups: 'groups' },
        claimsToHeaders: { 'x-scope': 'scope' },
      },
      { services },
    );
  });
  after(async () => {
    await services.close();
    await op.close();
  });

  test('a client_credentials access token authenticates the client as the consumer', async () => {
    const token = await op.accessToken('orders:read orders:write');
    assert.equal(op.issued(), 1);
    assert.deepEqual(decodeProtectedHeader(token), { alg: 'RS256', typ: 'at+jwt', kid: 'op-key-1' });
    const r = await authenticate(m, bearer(token), Date.now());
    assert.equal(r.kind, 'success', outcome(r));
    if (r.kind !== 'success') return;
    assert.equal(r.identity.consumerId, op.clientId);
    assert.equal(r.identity.username, 'orders-bot');
    assert.deepEqual(r.identity.groups, ['services', 'orders']);
    assert.equal(typeof r.identity.credential, 'string');
    assert.deepEqual(r.identity.headers, [{ name: 'x-scope', value: 'orders:read orders:write' }]);
    assert.equal(r.identity.claims['iss'], op.issuer);
    assert.equal(r.identity.claims['aud'], OP_AUDIENCE);
  });

  test('the OP token is refused once expired, and by a policy expecting another audience', async () => {
    const token = await op.accessToken();
    assert.equal(outcome(await authenticate(m, bearer(token), Date.now() + 11 * 60_000)), 'jwt_expired');
    const other = mustCompile({ algorithms: ['RS256'], issuer: op.issuer, discovery: true, audiences: ['https://billing.example.com'] }, { services });
    assert.equal(outcome(await authenticate(other, bearer(token), Date.now())), 'jwt_audience_invalid');
    const tampered = token.replace(/\.([^.]+)\./, (_, p: string) => `.${Buffer.from(Buffer.from(p, 'base64url').toString().replace('orders-bot', 'admin-bot')).toString('base64url')}.`);
    assert.equal(outcome(await authenticate(m, bearer(tampered), Date.now())), 'jwt_signature_invalid');
  });
});
