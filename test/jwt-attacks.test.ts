// Known attacks on JWT verifiers, each refused with its own stable code: alg none, HMAC/RSA key
// confusion, kid injection, keys smuggled in the header, crit extensions, bad times and audiences,
// oversized and malformed tokens.
import assert from 'node:assert/strict';
import { sign as cryptoSign } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { CompactSign, SignJWT } from 'jose';
import { createJwtServices } from '../src/authn/jwt/services.js';
import type { JwtAuthenticator } from '../src/authn/jwt/authenticator.js';
import { JwtProblem } from '../src/authn/jwt/errors.js';
import { parseToken } from '../src/authn/jwt/token.js';
import { generateTestKey, startJwksServer, type JwksServer } from './support/jwks-server.js';
import { seeded } from './support/random.js';
import { authenticate, bearer, mustCompile, S0, secret } from './support/jwt-policy.js';

const HMAC = 'hs256-shared-secret-0123456789abcdef';
const real = generateTestKey('RS256', 'k1');
const attacker = generateTestKey('RS256', 'k1');
const services = createJwtServices();
const claims = { sub: 'alice', iss: 'https://id.example.com', aud: 'shop', iat: S0, exp: S0 + 300 };
const keys = secret('keys', { 'k1.json': JSON.stringify(real.jwk) });
const pem = real.publicKey.export({ type: 'spki', format: 'pem' }).toString();

const rsOnly = mustCompile(
  { algorithms: ['RS256'], publicKeysRef: { name: 'keys' }, issuer: 'https://id.example.com', audiences: ['shop'], maxTokenBytes: 2048 },
  { services, secrets: [keys] },
);
const mixed = mustCompile(
  { algorithms: ['HS256', 'RS256'], secretRef: { name: 'hmac', key: 'k' }, publicKeysRef: { name: 'pem' }, issuer: 'https://id.example.com', audiences: ['shop'] },
  { services, secrets: [secret('hmac', { k: HMAC }), secret('pem', { 'k.pem': pem })] },
);
const rsaOnlyButHsAllowed = mustCompile(
  { algorithms: ['HS256', 'RS256'], publicKeysRef: { name: 'pem' }, issuer: 'https://id.example.com', audiences: ['shop'] },
  { services, secrets: [secret('pem', { 'k.pem': pem })] },
);

const b64 = (v: unknown): string => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

function signRaw(header: Record<string, unknown>, payload: Record<string, unknown>, key: Parameters<CompactSign['sign']>[0]): Promise<string> {
  return new CompactSign(new TextEncoder().encode(JSON.stringify(payload))).setProtectedHeader(header as { alg: string }).sign(key);
}

/** RS256 by hand, for headers jose refuses to produce (unknown crit). */
function rs256(header: Record<string, unknown>, payload: string): string {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${cryptoSign('sha256', Buffer.from(input), real.privateKey).toString('base64url')}`;
}

async function expectDenied(m: JwtAuthenticator, token: string, code: string): Promise<void> {
  const r = await authenticate(m, bearer(token));
  assert.equal(r.kind, 'failure', `expected ${code}, got ${r.kind}`);
  if (r.kind !== 'failure') return;
  assert.equal(r.error.code, code);
  assert.equal(r.error.kind, 'unauthenticated');
  assert.equal(r.error.challenge?.params?.['error'], 'invalid_token');
}

describe('jwt attacks', { timeout: 30_000 }, () => {
  let idp: JwksServer;
  before(async () => {
    idp = await startJwksServer([attacker.jwk]);
  });
  after(async () => {
    await idp.close();
    await services.close();
  });

  test('the genuine token passes (the baseline every attack departs from)', async () => {
    const r = await authenticate(rsOnly, bearer(await signRaw({ alg: 'RS256', kid: 'k1' }, claims, real.privateKey)));
    assert.equal(r.kind, 'success');
  });

  for (const alg of ['none', 'None', 'NONE', 'nOnE']) {
    test(`alg ${alg}, with or without a signature: jwt_alg_not_allowed`, async () => {
      const unsigned = `${b64({ alg, typ: 'JWT' })}.${b64(claims)}.`;
      await expectDenied(rsOnly, unsigned, 'jwt_alg_not_allowed');
      await expectDenied(rsOnly, `${unsigned}c2lnbmF0dXJl`, 'jwt_alg_not_allowed');
    });
  }

  test('HS256 signed with the RSA public key as HMAC secret: refused whatever the policy allows', async () => {
    const confused = await signRaw({ alg: 'HS256', kid: 'k1' }, claims, Buffer.from(pem));
    await expectDenied(rsOnly, confused, 'jwt_alg_not_allowed');
    // HS256 allowed with a real HMAC secret: the PEM is not that secret.
    await expectDenied(mixed, confused, 'jwt_signature_invalid');
    // HS256 allowed but only an RSA key held: the RSA key is never used as an HMAC secret.
    await expectDenied(rsaOnlyButHsAllowed, confused, 'jwt_key_unknown');
    const jwkConfused = await signRaw({ alg: 'HS256' }, claims, Buffer.from(JSON.stringify(real.jwk)));
    await expectDenied(rsaOnlyButHsAllowed, jwkConfused, 'jwt_key_unknown');
  });

  test('an algorithm outside the allow-list, even with a valid signature: jwt_alg_not_allowed', async () => {
    const es = generateTestKey('ES256', 'k1');
    await expectDenied(rsOnly, await signRaw({ alg: 'ES256', kid: 'k1' }, claims, es.privateKey), 'jwt_alg_not_allowed');
    await expectDenied(rsOnly, await signRaw({ alg: 'RS512', kid: 'k1' }, claims, real.privateKey), 'jwt_alg_not_allowed');
    await expectDenied(rsOnly, await signRaw({ alg: 'PS256', kid: 'k1' }, claims, real.privateKey), 'jwt_alg_not_allowed');
  });

  const injections = ['../../../../../dev/null', "' OR '1'='1' --", 'k1\u0000', 'k1 ', '/etc/passwd', '{{7*7}}', 'K1'];
  for (const kid of injections) {
    test(`kid ${JSON.stringify(kid)} is a plain lookup: jwt_key_unknown`, async () => {
      await expectDenied(rsOnly, await signRaw({ alg: 'RS256', kid }, claims, attacker.privateKey), 'jwt_key_unknown');
    });
  }

  test('a kid that is not a short string: jwt_malformed', async () => {
    await expectDenied(rsOnly, await signRaw({ alg: 'RS256', kid: 'k'.repeat(1025) }, claims, real.privateKey), 'jwt_malformed');
    await expectDenied(rsOnly, await signRaw({ alg: 'RS256', kid: 1 }, claims, real.privateKey), 'jwt_malformed');
    await expectDenied(rsOnly, await signRaw({ alg: 'RS256', kid: ['k1'] }, claims, real.privateKey), 'jwt_malformed');
  });

  test('keys offered in the header (jwk, jku, x5u, x5c) are ignored and never fetched', async () => {
    const jku = idp.jwksUrl;
    const headers = [
      { alg: 'RS256', kid: 'k1', jwk: attacker.jwk },
      { alg: 'RS256', kid: 'k1', jku },
      { alg: 'RS256', kid: 'k1', x5u: `${idp.issuer}/cert.pem` },
      { alg: 'RS256', kid: 'k1', x5c: ['MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA'] },
    ];
    for (const h of headers) await expectDenied(rsOnly, await signRaw(h, claims, attacker.privateKey), 'jwt_signature_invalid');
    assert.equal(idp.count('/jwks.json'), 0, 'jku was never fetched');
  });

  test('crit extensions (unknown, or b64) are refused even when the signature is genuine', async () => {
    const json = JSON.stringify(claims);
    await expectDenied(rsOnly, rs256({ alg: 'RS256', kid: 'k1', crit: ['http://example.com/ext'], 'http://example.com/ext': true }, json), 'jwt_crit_unsupported');
    await expectDenied(rsOnly, rs256({ alg: 'RS256', kid: 'k1', b64: false, crit: ['b64'] }, json), 'jwt_crit_unsupported');
    await expectDenied(rsOnly, rs256({ alg: 'RS256', kid: 'k1', crit: [] }, json), 'jwt_crit_unsupported');
    assert.equal((await authenticate(rsOnly, bearer(rs256({ alg: 'RS256', kid: 'k1' }, json)))).kind, 'success', 'the hand-made signature is genuine');
  });

  test('an unencoded payload (b64 false) is refused even without crit and with a genuine signature', async () => {
    const json = JSON.stringify(claims);
    await expectDenied(rsOnly, rs256({ alg: 'RS256', kid: 'k1', b64: false }, json), 'jwt_crit_unsupported');
    await expectDenied(rsOnly, rs256({ alg: 'RS256', kid: 'k1', b64: 'false' }, json), 'jwt_crit_unsupported');
    // RFC 7797 signing input: the payload bytes themselves, not their base64url.
    const header = b64({ alg: 'RS256', kid: 'k1', b64: false });
    const detached = cryptoSign('sha256', Buffer.from(`${header}.${json}`), real.privateKey).toString('base64url');
    await expectDenied(rsOnly, `${header}.${b64(json)}.${detached}`, 'jwt_crit_unsupported');
    assert.equal((await authenticate(rsOnly, bearer(rs256({ alg: 'RS256', kid: 'k1', b64: true }, json)))).kind, 'success', 'b64 true is the default encoding');
  });

  test('the signature segment takes only the base64url alphabet, unpadded', async () => {
    const [h, p, s = ''] = (await signRaw({ alg: 'RS256', kid: 'k1' }, claims, real.privateKey)).split('.');
    const standard = Buffer.from(s, 'base64url').toString('base64');
    assert.ok(/[+/=]/.test(standard), 'the standard alphabet differs from base64url here');
    await expectDenied(rsOnly, `${h}.${p}.${standard}`, 'jwt_malformed');
    await expectDenied(rsOnly, `${h}.${p}.${s}=`, 'jwt_malformed');
    await expectDenied(rsOnly, `${h}.${p}.${s.slice(0, 8)}~${s.slice(8)}`, 'jwt_malformed');
  });

  test('genuine signatures with bad times, audiences or issuers', async () => {
    const sign = (c: Record<string, unknown>): Promise<string> => signRaw({ alg: 'RS256', kid: 'k1' }, { ...claims, ...c }, real.privateKey);
    await expectDenied(rsOnly, await sign({ exp: S0 - 31 }), 'jwt_expired');
    await expectDenied(rsOnly, await sign({ nbf: S0 + 31 }), 'jwt_not_yet_valid');
    await expectDenied(rsOnly, await sign({ aud: 'billing' }), 'jwt_audience_invalid');
    await expectDenied(rsOnly, await sign({ aud: [] }), 'jwt_audience_invalid');
    await expectDenied(rsOnly, await sign({ iss: 'https://id.example.com.evil.net' }), 'jwt_issuer_invalid');
  });

  test('a tampered payload or signature: jwt_signature_invalid', async () => {
    const genuine = await signRaw({ alg: 'RS256', kid: 'k1' }, claims, real.privateKey);
    const [h, , s] = genuine.split('.');
    await expectDenied(rsOnly, `${h}.${b64({ ...claims, sub: 'admin' })}.${s}`, 'jwt_signature_invalid');
    const other = await signRaw({ alg: 'RS256', kid: 'k1' }, { ...claims, sub: 'bob' }, real.privateKey);
    await expectDenied(rsOnly, `${h}.${genuine.split('.')[1]}.${other.split('.')[2]}`, 'jwt_signature_invalid');
    await expectDenied(rsOnly, `${h}.${genuine.split('.')[1]}.`, 'jwt_signature_invalid');
  });

  test('an oversized token is refused unread: jwt_too_large', async () => {
    const big = await signRaw({ alg: 'RS256', kid: 'k1' }, { ...claims, pad: 'x'.repeat(2048) }, real.privateKey);
    await expectDenied(rsOnly, big, 'jwt_too_large');
    await expectDenied(rsOnly, 'a'.repeat(100_000), 'jwt_too_large');
  });

  const malformed: [string, string][] = [
    ['one part', 'abc'],
    ['two parts', 'abc.def'],
    ['four parts', 'a.b.c.d'],
    ['five parts (JWE)', 'a.b.c.d.e'],
    ['header not base64url', `${'!!!'}.${b64(claims)}.c2ln`],
    ['header with padding', `${b64({ alg: 'RS256' })}=.${b64(claims)}.c2ln`],
    ['header not JSON', `${b64('not json')}.${b64(claims)}.c2ln`],
    ['header a JSON array', `${b64(['RS256'])}.${b64(claims)}.c2ln`],
    ['header without alg', `${b64({ kid: 'k1' })}.${b64(claims)}.c2ln`],
    ['header not UTF-8', `${Buffer.from([0xff, 0xfe, 0x7b]).toString('base64url')}.${b64(claims)}.c2ln`],
    ['payload not JSON', `${b64({ alg: 'RS256', kid: 'k1' })}.${b64('{"sub":')}.c2ln`],
    ['payload a JSON string', `${b64({ alg: 'RS256', kid: 'k1' })}.${b64('"alice"')}.c2ln`],
    ['payload empty', `${b64({ alg: 'RS256', kid: 'k1' })}..c2ln`],
    // eyJzdWIiOiJhIn0 is {"sub":"a"}; a last character of 1 decodes the same with a stray bit set.
    ['non-canonical base64url (stray bits)', `${b64({ alg: 'RS256', kid: 'k1' })}.eyJzdWIiOiJhIn1.c2ln`],
    ['signature not base64url', `${b64({ alg: 'RS256', kid: 'k1' })}.${b64(claims)}.sig+/=`],
  ];
  for (const [name, token] of malformed) {
    test(`malformed: ${name}: jwt_malformed`, async () => {
      await expectDenied(rsOnly, token, 'jwt_malformed');
    });
  }

  test('base64url is read only in its canonical form: every 2- and 3-character segment and 20,000 longer ones agree with re-encoding', () => {
    const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const EXTRA = '+/=~ \u00e9';
    const head = b64({ alg: 'HS256' });
    const body = b64(claims);
    const reference = (seg: string): boolean => /^[A-Za-z0-9_-]*$/.test(seg) && Buffer.from(seg, 'base64url').toString('base64url') === seg;
    const agrees = (seg: string): void => {
      for (const [token, what] of [[`${head}.${body}.${seg}`, 'signature'], [`${head}.${seg}.c2ln`, 'payload']] as const) {
        const r = parseToken(token, new Set(['HS256']), 1 << 16);
        const refusedAsNonCanonical = r instanceof JwtProblem && r.detail === `${what} is not canonical base64url`;
        if (refusedAsNonCanonical === reference(seg)) assert.fail(`${what} segment ${JSON.stringify(seg)}: canonical by re-encoding ${reference(seg)}, refused ${refusedAsNonCanonical}`);
      }
    };
    let canonicalSeen = 0;
    for (const a of ALPHABET) {
      for (const b of ALPHABET) {
        agrees(a + b);
        for (const c of ALPHABET) agrees(a + b + c);
        if (reference(a + b)) canonicalSeen++;
      }
    }
    // Of 4,096 two-character segments, 4 bits of the second are stray: 64 × 4 are canonical.
    assert.equal(canonicalSeen, 256);
    const rng = seeded(1303);
    const chars = ALPHABET + EXTRA;
    for (let i = 0; i < 20_000; i++) {
      const n = 4 + rng.int(60);
      let seg = '';
      for (let k = 0; k < n; k++) seg += rng.chance(0.02) ? (chars[64 + rng.int(EXTRA.length)] ?? '') : (ALPHABET[rng.int(64)] ?? '');
      agrees(seg);
    }
  });

  test('a JWT signed with a key the policy never held, valid in every other way: jwt_signature_invalid', async () => {
    const forged = await new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: 'k1' }).sign(attacker.privateKey);
    await expectDenied(rsOnly, forged, 'jwt_signature_invalid');
  });
});
