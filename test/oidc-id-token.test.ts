// gatehouse's own ID token checks (openid-client checks no signature in the code flow), the return
// path rule that keeps logins from redirecting off-site, and how a script is told from a page.
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import { SignJWT, type JWK } from 'jose';
import { GatehouseError } from '../src/core/errors.js';
import { CheckInput } from '../src/core/input.js';
import { importJwk, KeySet, type VerifyKey } from '../src/authn/jwt/keys.js';
import { halfHash, verifyIdToken, type IdTokenRules } from '../src/authn/oidc/id-token.js';
import { safeReturnPath, returnPathOf } from '../src/authn/oidc/flow.js';
import { fromScript } from '../src/authn/oidc/pages.js';

const NOW = Date.UTC(2026, 5, 1, 12, 0, 0);
const T = Math.floor(NOW / 1000);
const ISSUER = 'https://id.example.com/realms/corp';
const RULES: IdTokenRules = { issuer: ISSUER, clientId: 'shop-web', algorithms: new Set(['RS256', 'ES256']), skewMs: 30_000 };
const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
const publicJwk = { ...(pair.publicKey.export({ format: 'jwk' }) as JWK), kid: 'k1' };
const key = importJwk(publicJwk, false) as VerifyKey;
const keys = new KeySet([key]);
const source = (alg: string, kid: string | undefined) => keys.select(alg, kid);
const ACCESS_TOKEN = 'opaque-access-token-0123456789';

const CLAIMS = { iss: ISSUER, aud: 'shop-web', sub: 'alice', iat: T - 10, exp: T + 3600, nonce: 'n-1', at_hash: halfHash('RS256', ACCESS_TOKEN) };

function sign(claims: Record<string, unknown>, header: Record<string, unknown> = { alg: 'RS256', kid: 'k1' }): Promise<string> {
  return new SignJWT(claims).setProtectedHeader(header as { alg: string }).sign(pair.privateKey);
}

async function refusal(token: string, expect = { nonce: 'n-1', accessToken: ACCESS_TOKEN } as Parameters<typeof verifyIdToken>[4]): Promise<string> {
  try {
    await verifyIdToken(token, source, RULES, NOW, expect);
  } catch (e) {
    assert.ok(e instanceof GatehouseError);
    assert.equal(e.code, 'oidc_id_token_invalid');
    assert.equal(e.kind, 'unauthenticated');
    return e.message;
  }
  assert.fail('accepted');
}

describe('ID token checks', () => {
  it('a token signed by the provider for this client, with the login nonce and a matching at_hash, gives its claims', async () => {
    const claims = await verifyIdToken(await sign(CLAIMS), source, RULES, NOW, { nonce: 'n-1', accessToken: ACCESS_TOKEN });
    assert.deepEqual(claims, CLAIMS);
  });

  it('at_hash is the left half of the hash of the access token (OpenID Connect Core 3.1.3.6)', () => {
    const digest = createHash('sha256').update(ACCESS_TOKEN).digest();
    assert.equal(halfHash('RS256', ACCESS_TOKEN), digest.subarray(0, 16).toString('base64url'));
    assert.equal(halfHash('ES384', 'x').length, 32);
    assert.equal(halfHash('EdDSA', 'x').length, 43);
  });

  it('refuses each way a token can be wrong, saying why to operators', async () => {
    const cases: [string, Promise<string>, string][] = [
      ['another nonce', sign({ ...CLAIMS, nonce: 'n-2' }), 'nonce does not match the login'],
      ['no nonce', sign({ ...CLAIMS, nonce: undefined }), 'nonce does not match the login'],
      ['another client', sign({ ...CLAIMS, aud: 'other' }), 'jwt_audience_invalid'],
      ['another issuer', sign({ ...CLAIMS, iss: 'https://evil.example' }), 'jwt_issuer_invalid'],
      ['expired', sign({ ...CLAIMS, exp: T - 60 }), 'jwt_expired'],
      ['issued in the future', sign({ ...CLAIMS, iat: T + 600 }), 'jwt_not_yet_valid'],
      ['no iat', sign({ ...CLAIMS, iat: undefined }), 'no iat'],
      ['no exp', sign({ ...CLAIMS, exp: undefined }), 'token has no exp'],
      ['no sub', sign({ ...CLAIMS, sub: undefined }), 'no sub'],
      ['azp of another client', sign({ ...CLAIMS, azp: 'other' }), 'azp names another client'],
      ['several audiences, no azp', sign({ ...CLAIMS, aud: ['shop-web', 'other'] }), 'several audiences and no azp'],
      ['at_hash of another token', sign({ ...CLAIMS, at_hash: halfHash('RS256', 'another') }), 'at_hash does not match'],
      ['an algorithm not allowed', sign(CLAIMS, { alg: 'PS256', kid: 'k1' }), 'jwt_alg_not_allowed'],
      ['a key the provider does not publish', sign(CLAIMS, { alg: 'RS256', kid: 'k2' }), 'no key of the provider verifies RS256 kid k2'],
    ];
    for (const [what, token, why] of cases) assert.ok((await refusal(await token)).includes(why), what);
  });

  it('refuses alg none, and an HMAC signed with the provider\'s public key (key confusion)', async () => {
    const enc = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');
    assert.match(await refusal(`${enc({ alg: 'none' })}.${enc(CLAIMS)}.`), /alg none is never accepted/);
    const hsRules: IdTokenRules = { ...RULES, algorithms: new Set(['RS256', 'HS256']) };
    const confused = await new SignJWT(CLAIMS).setProtectedHeader({ alg: 'HS256', kid: 'k1' }).sign(Buffer.from(JSON.stringify(publicJwk)));
    await assert.rejects(verifyIdToken(confused, source, hsRules, NOW, { nonce: 'n-1' }), (e: unknown) => e instanceof GatehouseError && e.code === 'oidc_id_token_invalid');
  });

  it('a flipped signature bit is refused', async () => {
    const token = await sign(CLAIMS);
    const [h, p, s = ''] = token.split('.');
    const bad = `${h}.${p}.${s[0] === 'A' ? 'B' : 'A'}${s.slice(1)}`;
    assert.match(await refusal(bad), /signature matches no key|jwt_malformed/);
  });

  it('keys that cannot be had are a 503, not a refusal', async () => {
    const down = () => ({ kind: 'unavailable' as const, reason: 'JWKS https://id.example.com/certs: connect ECONNREFUSED' });
    await assert.rejects(verifyIdToken(await sign(CLAIMS), down, RULES, NOW, {}), (e: unknown) => e instanceof GatehouseError && e.code === 'oidc_provider_unavailable' && e.kind === 'unavailable');
  });

  it('a refreshed token must name the session\'s subject', async () => {
    assert.match(await refusal(await sign({ ...CLAIMS, nonce: undefined, sub: 'mallory' }), { subject: 'alice' }), /sub differs/);
    assert.equal((await verifyIdToken(await sign({ ...CLAIMS, nonce: undefined }), source, RULES, NOW, { subject: 'alice' }))['sub'], 'alice');
  });
});

describe('where a login may return to', () => {
  it('only a path of the callback host: never another origin, however it is spelled', () => {
    for (const ok of ['/', '/orders?page=2', '/a/b#frag', '/%5Cevil.example', '/search?q=https://evil.example']) assert.equal(safeReturnPath(ok), ok, ok);
    for (const bad of ['//evil.example', '/\\evil.example', '\\\\evil.example', 'https://evil.example', 'evil.example', 'javascript:alert(1)', '/a\nb', '/a b', '', ' /x', '/\t/evil.example']) {
      assert.equal(safeReturnPath(bad), undefined, JSON.stringify(bad));
    }
    assert.equal(safeReturnPath(`/${'a'.repeat(2048)}`), undefined, 'too long');
  });

  it('a request returns to its own normalized path and query', () => {
    const at = (path: string): string => returnPathOf(new CheckInput({ method: 'GET', scheme: 'https', host: 'shop.example.com', path, headers: new Map(), peer: '127.0.0.1' }));
    assert.equal(at('/orders?page=2'), '/orders?page=2');
    assert.equal(at('//evil.example/x'), '/evil.example/x');
    assert.equal(at('/a/../b'), '/b');
  });
});

describe('scripts and pages', () => {
  const input = (headers: Record<string, string>): CheckInput =>
    new CheckInput({ method: 'GET', scheme: 'https', host: 'shop.example.com', path: '/', headers: new Map(Object.entries(headers)), peer: '127.0.0.1' });

  it('XMLHttpRequest, JSON without HTML, and fetch modes other than navigate are scripts; page loads are not', () => {
    assert.equal(fromScript(input({ 'x-requested-with': 'XMLHttpRequest' })), true);
    assert.equal(fromScript(input({ accept: 'application/json' })), true);
    assert.equal(fromScript(input({ accept: 'application/json, text/html' })), false);
    assert.equal(fromScript(input({ 'sec-fetch-mode': 'cors' })), true);
    assert.equal(fromScript(input({ 'sec-fetch-mode': 'navigate', accept: 'text/html' })), false);
    assert.equal(fromScript(input({})), false);
  });
});
