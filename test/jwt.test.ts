// The jwt method at the authenticator level: keys from Secrets and the environment, claims checked
// against the injected clock, the consumer and headers read from claims, token locations, the cache.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { after, describe, test } from 'node:test';
import { SignJWT } from 'jose';
import jsonwebtoken from 'jsonwebtoken';
import { createJwtServices } from '../src/authn/jwt/services.js';
import { TAIL } from '../src/core/tail-keyed-cache.js';
import { generateTestKey } from './support/jwks-server.js';
import { seeded } from './support/random.js';
import { authenticate, bearer, compileJwtMethod, mustCompile, outcome, request, S0, secret, T0 } from './support/jwt-policy.js';

const HMAC = 'hs256-shared-secret-0123456789abcdef';
const services = createJwtServices({ env: { GH_JWT_SECRET: Buffer.from(HMAC).toString('base64') } });
after(() => services.close());

const hsSecret = secret('jwt-hmac', { secret: HMAC });

function hs(payload: Record<string, unknown>, key = HMAC, alg = 'HS256'): Promise<string> {
  return new SignJWT(payload).setProtectedHeader({ alg, typ: 'JWT' }).sign(Buffer.from(key));
}

const base = { iat: S0, exp: S0 + 600, sub: 'alice' };

describe('jwt: keys', { timeout: 30_000 }, () => {
  test('an HS256 token signed with the Secret key authenticates as the consumer in its claims', async () => {
    const m = mustCompile({ algorithms: ['HS256'], secretRef: { name: 'jwt-hmac', key: 'secret' }, consumer: { username: 'name', groups: 'groups' } }, { services, secrets: [hsSecret] });
    const r = await authenticate(m, bearer(await hs({ ...base, jti: 'tok-1', name: 'Alice', groups: ['staff', 'beta'] })));
    assert.equal(r.kind, 'success');
    if (r.kind !== 'success') return;
    assert.deepEqual(
      { ...r.identity, claims: undefined },
      { method: 'tokens', consumerId: 'alice', username: 'Alice', customId: undefined, credential: 'tok-1', groups: ['staff', 'beta'], anonymous: false, claims: undefined, headers: [] },
    );
    assert.deepEqual(r.identity.claims, { ...base, jti: 'tok-1', name: 'Alice', groups: ['staff', 'beta'] });
    assert.equal(r.removeHeaders, undefined);
    assert.deepEqual(m.headerNames, []);
    assert.equal(m.challenge, 'Bearer');
  });

  test('secretFromEnv reads the process environment, base64 decoded with secretEncoding', async () => {
    const m = mustCompile({ algorithms: ['HS256'], secretFromEnv: 'GH_JWT_SECRET', secretEncoding: 'base64' }, { services });
    assert.equal(outcome(await authenticate(m, bearer(await hs(base)))), 'success');
    assert.equal(outcome(await authenticate(m, bearer(await hs(base, 'another-secret-of-enough-length-000000')))), 'jwt_signature_invalid');
  });

  test('a short, missing or unused HMAC secret is a compile problem naming the field', () => {
    const short = compileJwtMethod({ algorithms: ['HS256', 'HS512'], secretRef: { name: 'short', key: 'k' } }, { services, secrets: [secret('short', { k: 'x'.repeat(40) })] });
    assert.deepEqual(short.problems.map((p) => [p.path, p.message, p.severity]), [
      ['spec.authentication.methods[0].jwt.secretRef', 'the secret has 40 bytes; HS512 needs at least 64 (RFC 7518 3.2)', 'error'],
    ]);
    const missing = compileJwtMethod({ algorithms: ['HS256'], secretRef: { name: 'nope', key: 'k' } }, { services });
    assert.deepEqual(missing.problems.map((p) => [p.path, p.reason, p.message]), [
      ['spec.authentication.methods[0].jwt.secretRef', 'SecretMissing', 'Secret shop/nope not found'],
    ]);
    const env = compileJwtMethod({ algorithms: ['HS256'], secretFromEnv: 'GH_UNSET_VARIABLE' }, { services });
    assert.deepEqual(env.problems.map((p) => p.message), ['environment variable GH_UNSET_VARIABLE is not set']);
    const unused = compileJwtMethod({ algorithms: ['RS256'], secretRef: { name: 'jwt-hmac', key: 'secret' } }, { services, secrets: [hsSecret] });
    assert.equal(unused.ok, false);
    assert.deepEqual(unused.problems.map((p) => p.message), ['an HMAC secret is given but algorithms allow no HS256/HS384/HS512', 'no key can verify RS256: tokens signed with it are refused']);
    const none = compileJwtMethod({ algorithms: ['RS256'] }, { services });
    assert.deepEqual(none.problems.map((p) => p.message), ['no verification key: give secretRef, secretFromEnv, publicKeysRef, jwksUri, discovery or signingKeyRef']);
  });

  test('publicKeysRef takes PEM, JWK and JWK Set entries; every key verifies its own tokens', async () => {
    const rsa = generateTestKey('RS256', 'rsa-1');
    const ec = generateTestKey('ES256', 'ec-1');
    const ed = generateTestKey('EdDSA', 'ed-1');
    const ps = generateTestKey('PS256', 'ps-1');
    const keys = secret('jwt-keys', {
      'rsa.pem': rsa.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      'ec.json': JSON.stringify(ec.jwk),
      'set.json': JSON.stringify({ keys: [ed.jwk, ps.jwk] }),
    });
    const m = mustCompile({ algorithms: ['RS256', 'ES256', 'EdDSA', 'PS256'], publicKeysRef: { name: 'jwt-keys' } }, { services, secrets: [keys] });
    for (const k of [rsa, ec, ed, ps]) {
      const token = await new SignJWT({ ...base, sub: k.kid }).setProtectedHeader({ alg: k.alg, kid: k.kid }).sign(k.privateKey);
      const r = await authenticate(m, bearer(token));
      assert.equal(r.kind === 'success' ? r.identity.consumerId : outcome(r), k.kid, `${k.alg} token`);
    }
    // The PEM key has no kid: a token naming an unknown kid is tried against it (and verifies).
    const t = await new SignJWT(base).setProtectedHeader({ alg: 'RS256', kid: 'rotated-away' }).sign(rsa.privateKey);
    assert.equal(outcome(await authenticate(m, bearer(t))), 'success');
    // A key of the right type that did not sign the token.
    const other = generateTestKey('ES256', 'ec-1');
    const forged = await new SignJWT(base).setProtectedHeader({ alg: 'ES256', kid: 'ec-1' }).sign(other.privateKey);
    assert.equal(outcome(await authenticate(m, bearer(forged))), 'jwt_signature_invalid');
  });

  test('an entry that is no key is a warning; a Secret without any key an error', () => {
    const rsa = generateTestKey('RS256', 'k');
    const mixed = compileJwtMethod({ algorithms: ['RS256'], publicKeysRef: { name: 'keys' } }, {
      services,
      secrets: [secret('keys', { 'a.pem': rsa.publicKey.export({ type: 'spki', format: 'pem' }).toString(), readme: 'hello' })],
    });
    assert.equal(mixed.ok, true);
    assert.deepEqual(mixed.problems.map((p) => [p.severity, p.message]), [
      ['warning', 'Secret shop/keys entry "readme" is neither a PEM key or certificate nor a JWK / JWK Set'],
    ]);
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const bad = compileJwtMethod({ algorithms: ['RS256'], publicKeysRef: { name: 'keys' } }, { services, secrets: [secret('keys', { 'small.pem': small })] });
    assert.deepEqual(bad.problems.map((p) => [p.severity, p.message]), [
      ['warning', 'Secret shop/keys entry "small.pem" RSA key of 1024 bits is shorter than 2048'],
      ['error', 'Secret shop/keys holds no usable key'],
    ]);
  });

  test('tokens signed by jsonwebtoken (HS256 and RS256) are accepted', async () => {
    const rsa = generateTestKey('RS256', 'jwt-lib');
    const m = mustCompile(
      { algorithms: ['HS256', 'RS256'], secretRef: { name: 'jwt-hmac', key: 'secret' }, publicKeysRef: { name: 'keys' }, issuer: 'https://id.example.com', audiences: ['shop'] },
      { services, secrets: [hsSecret, secret('keys', { 'k.json': JSON.stringify(rsa.jwk) })] },
    );
    const claims = { sub: 'bob', iat: S0, exp: S0 + 60, iss: 'https://id.example.com', aud: 'shop' };
    const hsToken = jsonwebtoken.sign(claims, HMAC, { algorithm: 'HS256' });
    const rsToken = jsonwebtoken.sign(claims, rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), { algorithm: 'RS256', keyid: 'jwt-lib' });
    for (const t of [hsToken, rsToken]) {
      const r = await authenticate(m, bearer(t));
      assert.equal(r.kind === 'success' ? r.identity.consumerId : outcome(r), 'bob');
    }
  });
});

describe('jwt: claims against the clock', { timeout: 30_000 }, () => {
  const m = mustCompile(
    {
      algorithms: ['HS256'],
      secretRef: { name: 'jwt-hmac', key: 'secret' },
      issuer: 'https://id.example.com',
      audiences: ['shop', 'admin'],
      clockSkew: '10s',
      maxLifetime: '1h',
      requiredClaims: { tier: ['gold', 'silver'], email_verified: true, roles: 'buyer' },
    },
    { services, secrets: [hsSecret] },
  );
  const good = { sub: 'carol', iss: 'https://id.example.com', aud: ['other', 'shop'], iat: S0, exp: S0 + 600, tier: 'gold', email_verified: true, roles: ['buyer', 'seller'] };
  const cases: [string, Record<string, unknown>, number, string][] = [
    ['a valid token', good, T0, 'success'],
    ['within the skew after exp', good, T0 + 609_000, 'success'],
    ['past exp + skew', good, T0 + 610_000, 'jwt_expired'],
    ['nbf ahead beyond the skew', { ...good, nbf: S0 + 11 }, T0, 'jwt_not_yet_valid'],
    ['nbf ahead within the skew', { ...good, nbf: S0 + 9 }, T0, 'success'],
    ['issued in the future', { ...good, iat: S0 + 30, exp: S0 + 600 }, T0, 'jwt_not_yet_valid'],
    ['another issuer', { ...good, iss: 'https://evil.example.com' }, T0, 'jwt_issuer_invalid'],
    ['no issuer', { ...good, iss: undefined }, T0, 'jwt_issuer_invalid'],
    ['another audience', { ...good, aud: 'billing' }, T0, 'jwt_audience_invalid'],
    ['no audience', { ...good, aud: undefined }, T0, 'jwt_audience_invalid'],
    ['a lifetime over maxLifetime', { ...good, exp: S0 + 3601 }, T0, 'jwt_too_long_lived'],
    ['no iat under maxLifetime', { ...good, iat: undefined }, T0, 'jwt_too_long_lived'],
    ['no exp', { ...good, exp: undefined }, T0, 'jwt_claim_invalid'],
    ['exp not a number', { ...good, exp: '2030-01-01' }, T0, 'jwt_claim_invalid'],
    ['a required claim outside its list', { ...good, tier: 'bronze' }, T0, 'jwt_claim_invalid'],
    ['a required boolean false', { ...good, email_verified: false }, T0, 'jwt_claim_invalid'],
    ['a required value missing from an array claim', { ...good, roles: ['seller'] }, T0, 'jwt_claim_invalid'],
    ['no subject', { ...good, sub: undefined }, T0, 'jwt_claim_invalid'],
  ];
  for (const [name, claims, now, expected] of cases) {
    test(`${name}: ${expected}`, async () => {
      assert.equal(outcome(await authenticate(m, bearer(await hs(claims)), now)), expected);
    });
  }

  test('a denial carries the Bearer invalid_token challenge and a short description', async () => {
    const r = await authenticate(m, bearer(await hs(good)), T0 + 3_600_000);
    assert.equal(r.kind, 'failure');
    if (r.kind !== 'failure') return;
    assert.equal(r.error.kind, 'unauthenticated');
    assert.equal(r.error.publicMessage, 'The token has expired');
    assert.deepEqual(r.error.challenge, { scheme: 'Bearer', params: { error: 'invalid_token', error_description: 'The token has expired' } });
  });

  test('requireExpiration: false accepts a token without exp', async () => {
    const open = mustCompile({ algorithms: ['HS256'], secretRef: { name: 'jwt-hmac', key: 'secret' }, requireExpiration: false }, { services, secrets: [hsSecret] });
    assert.equal(outcome(await authenticate(open, bearer(await hs({ sub: 'dave' })))), 'success');
  });

  test('requiredClaims values other than scalars are refused at compile time', () => {
    const c = compileJwtMethod({ algorithms: ['HS256'], secretRef: { name: 'jwt-hmac', key: 'secret' }, requiredClaims: { org: { id: 1 }, tags: [] } }, { services, secrets: [hsSecret] });
    assert.deepEqual(c.problems.map((p) => p.path), ['spec.authentication.methods[0].jwt.requiredClaims.org', 'spec.authentication.methods[0].jwt.requiredClaims.tags']);
  });
});

describe('jwt: consumer and headers from claims', { timeout: 30_000 }, () => {
  test('groups as a string, a dotted path, claims to headers and the whole payload forwarded', async () => {
    const m = mustCompile(
      {
        algorithms: ['HS256'],
        secretRef: { name: 'jwt-hmac', key: 'secret' },
        consumer: { id: 'uid', username: 'preferred_username', customId: 'https://example.com/customer', groups: 'realm_access.roles' },
        claimsToHeaders: { 'X-User-Email': 'email', 'x-scopes': 'scope', 'x-org': 'org', 'x-missing': 'nothing' },
        forwardPayloadHeader: 'X-JWT-Payload',
      },
      { services, secrets: [hsSecret] },
    );
    assert.deepEqual(m.headerNames, ['x-user-email', 'x-scopes', 'x-org', 'x-missing', 'x-jwt-payload']);
    const claims = {
      uid: 4711, iat: S0, exp: S0 + 60, preferred_username: 'erin', 'https://example.com/customer': 'crm-9',
      realm_access: { roles: ['admin', 'ops', 'admin'] }, email: 'erin@example.com', scope: ['read', 'write'], org: { id: 7 },
    };
    const token = await hs(claims);
    const r = await authenticate(m, bearer(token));
    assert.equal(r.kind, 'success');
    if (r.kind !== 'success') return;
    assert.equal(r.identity.consumerId, '4711');
    assert.equal(r.identity.username, 'erin');
    assert.equal(r.identity.customId, 'crm-9');
    assert.equal(r.identity.credential, undefined);
    assert.deepEqual(r.identity.groups, ['admin', 'ops']);
    assert.deepEqual(r.identity.headers, [
      { name: 'x-user-email', value: 'erin@example.com' },
      { name: 'x-scopes', value: 'read, write' },
      { name: 'x-org', value: '{"id":7}' },
      { name: 'x-jwt-payload', value: token.split('.')[1] },
    ]);
    assert.deepEqual(JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()), claims);
  });

  test('groups in one space or comma separated string', async () => {
    const m = mustCompile({ algorithms: ['HS256'], secretRef: { name: 'jwt-hmac', key: 'secret' }, consumer: { groups: 'scope' } }, { services, secrets: [hsSecret] });
    const r = await authenticate(m, bearer(await hs({ ...base, scope: 'read  write,admin' })));
    assert.deepEqual(r.kind === 'success' ? r.identity.groups : outcome(r), ['read', 'write', 'admin']);
  });

  test('a claim with a line break is refused rather than sent as a header', async () => {
    const m = mustCompile({ algorithms: ['HS256'], secretRef: { name: 'jwt-hmac', key: 'secret' }, claimsToHeaders: { 'x-name': 'name' } }, { services, secrets: [hsSecret] });
    assert.equal(outcome(await authenticate(m, bearer(await hs({ ...base, name: 'a\r\nx-admin: true' })))), 'jwt_claim_invalid');
    const forbidden = compileJwtMethod({ algorithms: ['HS256'], secretRef: { name: 'jwt-hmac', key: 'secret' }, claimsToHeaders: { Host: 'aud' } }, { services, secrets: [hsSecret] });
    assert.deepEqual(forbidden.problems.map((p) => p.message), ['host cannot be set from a claim']);
  });
});

describe('jwt: where the token is read', { timeout: 30_000 }, () => {
  const m = mustCompile(
    {
      algorithms: ['HS256'],
      secretRef: { name: 'jwt-hmac', key: 'secret' },
      from: [{ header: 'authorization', prefix: 'Bearer ' }, { header: 'x-token' }, { query: 'jwt' }, { cookie: 'jwt' }],
      hideCredentials: true,
    },
    { services, secrets: [hsSecret] },
  );

  test('no token anywhere, or another scheme, is "not mine"', async () => {
    assert.equal(outcome(await authenticate(m, request())), 'none');
    assert.equal(outcome(await authenticate(m, request({ authorization: 'Basic YTpi' }))), 'none');
  });

  test('the scheme is read in every case spelling (64 of "Bearer "), and nothing else passes for it', async () => {
    const t = await hs(base);
    const spellings = Array.from({ length: 64 }, (_, bits) => [...'bearer'].map((c, i) => ((bits >> i) & 1 ? c.toUpperCase() : c)).join(''));
    assert.equal(new Set(spellings).size, 64);
    for (const scheme of spellings) assert.equal(outcome(await authenticate(m, request({ authorization: `${scheme} ${t}` }))), 'success', scheme);
    for (const other of ['Bearex', 'Bearer_', 'Beare', 'Bearer\t', 'Béarer', 'BearerBearer']) {
      assert.equal(outcome(await authenticate(m, request({ authorization: `${other} ${t}` }))), 'none', other);
    }
    assert.equal(outcome(await authenticate(m, request({ authorization: `Bearer${t}` }))), 'none');
  });

  test('each location authenticates and hides the token from the upstream', async () => {
    const t = await hs(base);
    const byHeader = await authenticate(m, request({ authorization: `bearer ${t}` }));
    assert.deepEqual(byHeader.kind === 'success' ? byHeader.removeHeaders : outcome(byHeader), ['authorization']);
    const byOther = await authenticate(m, request({ 'x-token': t }));
    assert.deepEqual(byOther.kind === 'success' ? byOther.removeHeaders : outcome(byOther), ['x-token']);
    const byQuery = await authenticate(m, request({}, `/orders?jwt=${t}&page=2`));
    assert.deepEqual(byQuery.kind === 'success' ? byQuery.removeQuery : outcome(byQuery), ['jwt']);
    const byCookie = await authenticate(m, request({ cookie: `theme=dark; jwt=${t}; lang=en` }));
    assert.deepEqual(byCookie.kind === 'success' ? byCookie.removeCookies : outcome(byCookie), ['jwt']);
  });
});

describe('jwt: verified-token cache', { timeout: 30_000 }, () => {
  test('a repeated token answers synchronously from the cache, and expires on the clock', async () => {
    const own = createJwtServices({ tokenCacheSize: 2 });
    after(() => own.close());
    const m = mustCompile({ algorithms: ['HS256'], secretRef: { name: 'jwt-hmac', key: 'secret' }, clockSkew: '0s' }, { services: own, secrets: [hsSecret] });
    const t = await hs({ ...base, exp: S0 + 60 });
    const first = m.authenticate(bearer(t), { now: T0, policy: 'shop/api', path: '/' });
    assert.ok(!(first instanceof Promise), 'first sight verifies synchronously (keys in memory)');
    assert.equal(outcome(await first), 'success');
    const second = m.authenticate(bearer(t), { now: T0 + 1000, policy: 'shop/api', path: '/' });
    assert.ok(!(second instanceof Promise), 'a cached token answers synchronously');
    assert.equal(outcome(second), 'success');
    assert.deepEqual(own.tokens.stats, { hits: 1, misses: 1 });
    const late = m.authenticate(bearer(t), { now: T0 + 60_000, policy: 'shop/api', path: '/' });
    assert.equal(outcome(await late), 'jwt_expired');
    // Bounded: a third and fourth token push the first out.
    for (const sub of ['x', 'y', 'z']) await authenticate(m, bearer(await hs({ ...base, sub })));
    assert.equal(own.tokens.size, 2);
  });

  test('with the cache off every Check makes its own identity, marked transient; a cached token shares one', async () => {
    const off = createJwtServices({ tokenCacheSize: 0 });
    const on = createJwtServices({ tokenCacheSize: 10 });
    after(() => Promise.all([off.close(), on.close()]));
    const spec = { algorithms: ['HS256'], secretRef: { name: 'jwt-hmac', key: 'secret' } };
    const t = await hs({ ...base, jti: 'tok-9' });
    const identities = async (services: typeof off): Promise<unknown[]> => {
      const m = mustCompile(spec, { services, secrets: [hsSecret] });
      const out: unknown[] = [];
      for (let i = 0; i < 2; i++) {
        const r = await authenticate(m, bearer(t));
        out.push(r.kind === 'success' ? r.identity : outcome(r));
      }
      return out;
    };
    const [a, b] = (await identities(off)) as [Record<string, unknown>, Record<string, unknown>];
    assert.notEqual(a, b);
    assert.deepEqual([a.transient, b.transient, a.consumerId, a.credential], [true, true, 'alice', 'tok-9']);
    const [c, d] = (await identities(on)) as [Record<string, unknown>, Record<string, unknown>];
    assert.equal(c, d);
    assert.equal('transient' in c, false);
    assert.deepEqual({ ...a, transient: undefined, claims: undefined }, { ...c, transient: undefined, claims: undefined });
  });

  test('the cache answers only the whole token: 600 generated tokens that end in a cached token\'s signature are verified and refused, and the cached one still hits', async () => {
    const own = createJwtServices({ tokenCacheSize: 100 });
    after(() => own.close());
    const m = mustCompile({ algorithms: ['HS256'], secretRef: { name: 'jwt-hmac', key: 'secret' } }, { services: own, secrets: [hsSecret] });
    const genuine = await hs({ ...base, sub: 'alice' });
    const [head, body, signature] = genuine.split('.') as [string, string, string];
    assert.equal(outcome(await authenticate(m, bearer(genuine))), 'success');
    const rnd = seeded(13);
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const forgeries = new Set<string>();
    while (forgeries.size < 600) {
      const kind = rnd.int(4);
      if (kind === 0) {
        // Another payload, the cached token's signature.
        forgeries.add(`${head}.${Buffer.from(JSON.stringify({ ...base, sub: `admin-${rnd.int(1e6)}` })).toString('base64url')}.${signature}`);
      } else if (kind === 1) {
        // One character of the signed part changed.
        const signed = `${head}.${body}`;
        const at = rnd.int(signed.length);
        const c = rnd.pick([...alphabet]);
        if (signed[at] !== c && signed[at] !== '.') forgeries.add(`${signed.slice(0, at)}${c}${signed.slice(at + 1)}.${signature}`);
      } else if (kind === 2) {
        // Characters added before the token, or the head cut short.
        forgeries.add(rnd.chance(0.5) ? `${alphabet.slice(0, 1 + rnd.int(8))}${genuine}` : genuine.slice(1 + rnd.int(head.length - 1)));
      } else {
        // The signature changed before its tail: the tail stays the cached one's.
        const at = rnd.int(signature.length - TAIL);
        const c = rnd.pick([...alphabet]);
        if (signature[at] !== c) forgeries.add(`${head}.${body}.${signature.slice(0, at)}${c}${signature.slice(at + 1)}`);
      }
    }
    const codes = new Map<string, number>();
    for (const forged of forgeries) {
      assert.equal(forged.slice(-TAIL), genuine.slice(-TAIL), 'each forgery shares the cached token\'s tail');
      const code = outcome(await authenticate(m, bearer(forged)));
      codes.set(code, (codes.get(code) ?? 0) + 1);
    }
    assert.equal(codes.get('success'), undefined, `no forgery is allowed: ${JSON.stringify([...codes])}`);
    // A changed header may also name another algorithm; every forgery is refused by a token check.
    assert.deepEqual([...codes.keys()].filter((c) => !['jwt_signature_invalid', 'jwt_malformed', 'jwt_alg_not_allowed'].includes(c)), []);
    assert.ok((codes.get('jwt_signature_invalid') ?? 0) >= 300, JSON.stringify([...codes]));
    assert.deepEqual(own.tokens.stats, { hits: 0, misses: 601 });
    // Nothing was stored for them, and the genuine entry was neither replaced nor dropped.
    const again = m.authenticate(bearer(genuine), { now: T0, policy: 'shop/api', path: '/' });
    assert.ok(!(again instanceof Promise), 'the genuine token answers from the cache');
    assert.equal(outcome(again), 'success');
    assert.deepEqual([own.tokens.stats.hits, own.tokens.size], [1, 1]);
  });

  test('the cache holds up to 4 MiB of tokens: large tokens push the least recent out sooner than 10,000', async () => {
    const own = createJwtServices();
    after(() => own.close());
    const m = mustCompile({ algorithms: ['HS256'], secretRef: { name: 'jwt-hmac', key: 'secret' } }, { services: own, secrets: [hsSecret] });
    const tokens: string[] = [];
    for (let i = 0; i < 600; i++) tokens.push(await hs({ ...base, sub: `user-${String(i).padStart(4, '0')}`, pad: 'p'.repeat(6000) }));
    const length = tokens[0]?.length ?? 0;
    assert.ok(tokens.every((t) => t.length === length) && length > 8000 && length <= 8192, `token length ${length}`);
    for (const t of tokens) assert.equal(outcome(await authenticate(m, bearer(t))), 'success');
    const held = Math.floor((4 * 1024 * 1024) / length);
    assert.equal(own.tokens.size, held);
    const before = own.tokens.stats;
    assert.equal(outcome(await authenticate(m, bearer(tokens[599] as string))), 'success');
    assert.equal(outcome(await authenticate(m, bearer(tokens[600 - held - 1] as string))), 'success');
    assert.deepEqual(own.tokens.stats, { hits: before.hits + 1, misses: before.misses + 1 }, 'the newest is held, the one before the held ones was pushed out');
  });

  test('two methods with the same token keep one entry each', async () => {
    const own = createJwtServices({ tokenCacheSize: 100 });
    after(() => own.close());
    const spec = { algorithms: ['HS256'], secretRef: { name: 'jwt-hmac', key: 'secret' } };
    const a = mustCompile(spec, { services: own, secrets: [hsSecret] });
    const b = mustCompile({ ...spec, consumer: { username: 'name' } }, { services: own, secrets: [hsSecret] });
    const t = await hs({ ...base, name: 'Alice A.' });
    for (let i = 0; i < 2; i++) {
      const ra = await authenticate(a, bearer(t));
      const rb = await authenticate(b, bearer(t));
      assert.deepEqual([ra.kind === 'success' ? ra.identity.username : outcome(ra), rb.kind === 'success' ? rb.identity.username : outcome(rb)], [undefined, 'Alice A.']);
    }
    assert.deepEqual(own.tokens.stats, { hits: 2, misses: 2 });
    assert.equal(own.tokens.size, 2);
  });

  test('a recompiled method (a rotated Secret) does not trust tokens its predecessor cached', async () => {
    const own = createJwtServices();
    after(() => own.close());
    const before = mustCompile({ algorithms: ['HS256'], secretRef: { name: 'jwt-hmac', key: 'secret' } }, { services: own, secrets: [hsSecret] });
    const t = await hs(base);
    assert.equal(outcome(await authenticate(before, bearer(t))), 'success');
    const rotated = mustCompile({ algorithms: ['HS256'], secretRef: { name: 'jwt-hmac', key: 'secret' } }, { services: own, secrets: [secret('jwt-hmac', { secret: 'a-completely-new-secret-0123456789abcdef' })] });
    assert.equal(outcome(await authenticate(rotated, bearer(t))), 'jwt_signature_invalid');
  });
});
