// Remote JWK Sets against a live JWKS server on loopback: key rotation, an IdP that goes down (the
// last good keys keep working), a storm of unknown kids (bounded refetches), Cache-Control, discovery.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, afterEach, beforeEach, describe, test } from 'node:test';
import { SignJWT } from 'jose';
import { maxAge } from '../src/authn/jwt/jwks-cache.js';
import { createJwtServices, type JwtServices } from '../src/authn/jwt/services.js';
import type { JwtAuthenticator } from '../src/authn/jwt/authenticator.js';
import { GatehouseError } from '../src/core/errors.js';
import { eventually } from './support/gatehouse.js';
import { generateTestKey, startJwksServer, type JwksServer, type TestKey } from './support/jwks-server.js';
import { authenticate, bearer, mustCompile, outcome, POLICY, S0, T0 } from './support/jwt-policy.js';

const A = generateTestKey('RS256', 'key-a');
const B = generateTestKey('ES256', 'key-b');
const claims = { sub: 'svc', iat: S0, exp: S0 + 3600 };
const sign = (k: TestKey, kid: string = k.kid): Promise<string> => new SignJWT(claims).setProtectedHeader({ alg: k.alg, kid }).sign(k.privateKey);

const FAST = { minRefreshMs: 150, maxRefreshMs: 2000, defaultRefreshMs: 1500, unknownKidCooldownMs: 400, waitMs: 2000, fetchTimeoutMs: 1000 };

/**
 * Waits out the unknown-kid cooldown of a fetch that started before `since` (a performance.now()
 * reading). The cache measures the cooldown on performance.now, which a test cannot inject, so this
 * polls that same clock rather than sleeping for a guessed time.
 */
async function cooldownOver(since: number): Promise<void> {
  await eventually(() => performance.now() - since >= FAST.unknownKidCooldownMs, FAST.unknownKidCooldownMs + 5000, 'the unknown-kid cooldown to run out');
}

describe('jwt: remote JWKS', { timeout: 60_000 }, () => {
  let idp: JwksServer;
  let services: JwtServices;

  beforeEach(async () => {
    idp = await startJwksServer([A.jwk]);
    services = createJwtServices({ jwks: FAST });
  });
  afterEach(async () => {
    await services.close();
    await idp.close();
  });

  /** A fetch that starts after this call (one already under way may predate a server change). */
  async function refreshNow(m: JwtAuthenticator): Promise<void> {
    await m.config.remote?.refresh();
    await m.config.remote?.refresh();
  }

  function method(extra: Record<string, unknown> = {}, own: JwtServices = services): JwtAuthenticator {
    return mustCompile({ algorithms: ['RS256', 'ES256'], jwksUri: idp.jwksUrl, ...extra }, { services: own });
  }

  /** Services whose background refresh cannot fire during a test that counts fetches. */
  function quiet(): JwtServices {
    const own = createJwtServices({ jwks: { ...FAST, maxRefreshMs: 600_000 } });
    after(() => own.close());
    return own;
  }

  test('keys are fetched off the request path at compile time, then tokens verify', async () => {
    const m = method();
    await eventually(() => m.config.remote?.keys !== undefined, 3000, 'first JWKS fetch');
    assert.equal(idp.count('/jwks.json'), 1);
    assert.equal(outcome(await authenticate(m, bearer(await sign(A)))), 'success');
    assert.equal(idp.count('/jwks.json'), 1, 'a known kid fetches nothing');
  });

  test('rotation: a new kid is fetched at once; a removed key stops verifying, even for cached tokens', async () => {
    idp.setCacheControl('max-age=3600');
    const m = method({}, quiet());
    const tokenA = await sign(A);
    assert.equal(outcome(await authenticate(m, bearer(tokenA))), 'success');
    const loaded = performance.now();
    idp.setKeys([A.jwk, B.jwk]);
    await cooldownOver(loaded);
    assert.equal(outcome(await authenticate(m, bearer(await sign(B)))), 'success');
    assert.equal(idp.count('/jwks.json'), 2, 'one refetch for the unknown kid');
    idp.setKeys([B.jwk]);
    await refreshNow(m);
    assert.equal(m.config.remote?.keys?.size, 1);
    assert.equal(outcome(await authenticate(m, bearer(tokenA))), 'jwt_key_unknown');
  });

  test('once the set is in memory a first-seen token answers synchronously; an unknown kid waits for one refetch', async () => {
    idp.setCacheControl('max-age=3600');
    const m = method({}, quiet());
    await eventually(() => m.config.remote?.keys !== undefined, 3000, 'first JWKS fetch');
    const loaded = performance.now();
    const first = m.authenticate(bearer(await sign(A)), { now: T0, policy: POLICY, path: '/' });
    assert.ok(!(first instanceof Promise), 'keys in memory: no Promise');
    assert.equal(outcome(first), 'success');
    const forged = m.authenticate(bearer(await new SignJWT({ ...claims, sub: 'other' }).setProtectedHeader({ alg: 'RS256', kid: 'key-a' }).sign(generateTestKey('RS256', 'key-a').privateKey)), { now: T0, policy: POLICY, path: '/' });
    assert.ok(!(forged instanceof Promise));
    assert.equal(outcome(forged), 'jwt_signature_invalid');
    await cooldownOver(loaded);
    const fetched = idp.count('/jwks.json');
    const unknown = m.authenticate(bearer(await sign(B)), { now: T0, policy: POLICY, path: '/' });
    assert.ok(unknown instanceof Promise, 'an unknown kid waits for the refetch');
    assert.equal(outcome(await unknown), 'jwt_key_unknown');
    assert.equal(idp.count('/jwks.json'), fetched + 1);
    const within = m.authenticate(bearer(await sign(B)), { now: T0, policy: POLICY, path: '/' });
    assert.ok(!(within instanceof Promise), 'within the cooldown the set answers at once');
    assert.equal(outcome(within), 'jwt_key_unknown');
  });

  test('IdP down: the last good keys keep working, retries continue, and recovery loads new keys', async () => {
    const m = method();
    await eventually(() => m.config.remote?.keys !== undefined, 3000, 'first JWKS fetch');
    const before = idp.count('/jwks.json');
    for (const mode of ['503', 'reset', 'garbage'] as const) {
      idp.setMode(mode);
      await refreshNow(m);
      assert.match(m.config.remote?.lastError ?? '', mode === '503' ? /HTTP 503/ : mode === 'garbage' ? /did not return JSON/ : /fetch failed/);
      assert.equal(outcome(await authenticate(m, bearer(await sign(A)))), 'success', `IdP ${mode}: last good keys serve`);
    }
    await eventually(() => idp.count('/jwks.json') >= before + 5, 5000, 'background retries while down');
    idp.setMode('up');
    idp.setKeys([A.jwk, B.jwk]);
    await eventually(() => m.config.remote?.keys?.size === 2, 5000, 'keys after recovery');
    assert.equal(m.config.remote?.lastError, undefined);
    assert.equal(outcome(await authenticate(m, bearer(await sign(B)))), 'success');
  });

  test('a storm of unknown kids causes at most one fetch per cooldown', async () => {
    idp.setCacheControl('max-age=3600');
    const tokens = await Promise.all(Array.from({ length: 300 }, () => sign(A, randomUUID())));
    const m = method({}, quiet());
    await eventually(() => m.config.remote?.keys !== undefined, 3000, 'first JWKS fetch');
    await cooldownOver(performance.now());
    const before = idp.count('/jwks.json');
    const results = await Promise.all(tokens.map((t) => authenticate(m, bearer(t))));
    const refetched = performance.now();
    assert.deepEqual(new Set(results.map(outcome)), new Set(['jwt_key_unknown']));
    assert.equal(idp.count('/jwks.json') - before, 1);
    const second = await Promise.all(tokens.slice(0, 50).map((t) => authenticate(m, bearer(t))));
    assert.deepEqual(new Set(second.map(outcome)), new Set(['jwt_key_unknown']));
    assert.equal(idp.count('/jwks.json') - before, 1, 'still within the cooldown');
    await cooldownOver(refetched);
    assert.equal(outcome(await authenticate(m, bearer(tokens[0] ?? ''))), 'jwt_key_unknown');
    assert.equal(idp.count('/jwks.json') - before, 2, 'one more after the cooldown');
  });

  test('Cache-Control max-age sets the refresh interval within the bounds', async () => {
    assert.equal(maxAge('public, max-age=600'), 600_000);
    assert.equal(maxAge('no-cache'), 0);
    assert.equal(maxAge('private'), undefined);
    assert.equal(maxAge(null), undefined);
    idp.setCacheControl('max-age=0');
    const m = method();
    await eventually(() => idp.count('/jwks.json') >= 4, 3000, 'refreshes at the lower bound');
    idp.setCacheControl('max-age=86400');
    await refreshNow(m);
    const settled = idp.count('/jwks.json');
    const refreshed = performance.now();
    // A long max-age waits for the upper bound: the next fetch comes no sooner, and comes alone.
    await eventually(() => idp.count('/jwks.json') > settled, FAST.maxRefreshMs + 3000, 'refresh at the upper bound');
    const waited = performance.now() - refreshed;
    assert.equal(idp.count('/jwks.json'), settled + 1);
    assert.ok(waited >= FAST.maxRefreshMs - 50, `the next fetch came after ${waited.toFixed(0)} ms, not the upper bound of ${FAST.maxRefreshMs}`);
  });

  test('never fetched (IdP unreachable from the start): 503 jwks_unavailable, not a 401', async () => {
    idp.setMode('reset');
    const m = method();
    const r = authenticate(m, bearer(await sign(A)));
    await assert.rejects(r, (e: unknown) => e instanceof GatehouseError && e.code === 'jwks_unavailable' && e.kind === 'unavailable');
  });

  test('a remote set never supplies HMAC keys', async () => {
    idp.setKeys([A.jwk, { kty: 'oct', k: Buffer.from('hs256-shared-secret-0123456789abcdef').toString('base64url'), kid: 'shared' }]);
    const m = mustCompile({ algorithms: ['RS256', 'HS256'], jwksUri: idp.jwksUrl }, { services });
    await eventually(() => m.config.remote?.keys !== undefined, 3000, 'first JWKS fetch');
    assert.equal(m.config.remote?.keys?.size, 1);
    const hs = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', kid: 'shared' }).sign(Buffer.from('hs256-shared-secret-0123456789abcdef'));
    assert.equal(outcome(await authenticate(m, bearer(hs))), 'jwt_key_unknown');
  });

  test('discovery: jwks_uri from the issuer configuration; a document naming another issuer is refused', async () => {
    const m = mustCompile({ algorithms: ['RS256'], issuer: idp.issuer, discovery: true }, { services });
    const r = await authenticate(m, bearer(await new SignJWT({ ...claims, iss: idp.issuer }).setProtectedHeader({ alg: 'RS256', kid: 'key-a' }).sign(A.privateKey)));
    assert.equal(outcome(r), 'success');
    assert.equal(idp.count('/.well-known/openid-configuration'), 1);
    const wrong = mustCompile({ algorithms: ['RS256'], issuer: `${idp.issuer}/`, discovery: true }, { services });
    await assert.rejects(
      authenticate(wrong, bearer(await sign(A))),
      (e: unknown) => e instanceof GatehouseError && e.code === 'jwks_unavailable' && /names issuer/.test(e.message),
    );
  });
});

describe('jwt: remote JWKS configuration', () => {
  const services = createJwtServices({ jwks: { offline: true } });
  after(() => services.close());

  test('discovery without an issuer, or with jwksUri too, is a compile problem', async () => {
    const { compileJwtMethod } = await import('./support/jwt-policy.js');
    const a = compileJwtMethod({ algorithms: ['RS256'], discovery: true }, { services });
    assert.deepEqual(a.problems.map((p) => [p.path, p.message]), [['spec.authentication.methods[0].jwt.issuer', 'discovery needs an http(s) issuer']]);
    const b = compileJwtMethod({ algorithms: ['RS256'], discovery: true, issuer: 'https://id.example.com', jwksUri: 'https://id.example.com/jwks' }, { services });
    assert.deepEqual(b.problems.map((p) => p.message), ['give jwksUri or discovery, not both']);
    const c = compileJwtMethod({ algorithms: ['RS256'], jwksUri: 'http://id.example.com/jwks' }, { services });
    assert.deepEqual(c.problems.map((p) => [p.severity, p.message]), [['warning', 'keys fetched over plain http can be replaced in transit; use https']]);
  });
});
