// JWS signature verification against published vectors (RFC 7515 appendix A, RFC 8037 A.4, RFC 7520
// 4.4), and the key/algorithm fit it enforces before any cryptography: an HMAC key never verifies
// an RS/PS/ES/EdDSA signature and the reverse, a curve only its own ES alg, a pinned JWK only its alg.
import assert from 'node:assert/strict';
import { constants, createHmac, generateKeyPairSync, sign as cryptoSign } from 'node:crypto';
import { after, describe, test } from 'node:test';
import type { AuthnResult } from '../src/core/ports.js';
import { verifyJws } from '../src/authn/jwt/verify.js';
import { hmacKey, importJwk, toVerifyKey, type VerifyKey } from '../src/authn/jwt/keys.js';
import { createJwtServices } from '../src/authn/jwt/services.js';
import type { JwtAuthenticator } from '../src/authn/jwt/authenticator.js';
import { bearer, mustCompile, outcome, POLICY, secret } from './support/jwt-policy.js';

// RFC 7515 A.1 (HS256), A.2 (RS256), A.3 (ES256): one payload, exp 1300819380.
const PAYLOAD_7515 = 'eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ';
const EXP_7515 = 1300819380_000;
const HS_KEY_7515 = 'AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow';
const HS_TOKEN_7515 = `eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.${PAYLOAD_7515}.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk`;
const RSA_JWK_7515 = {
  kty: 'RSA',
  e: 'AQAB',
  n:
    'ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ',
};
const RS_TOKEN_7515 =
  `eyJhbGciOiJSUzI1NiJ9.${PAYLOAD_7515}.` +
  'cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4' +
  'BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqv' +
  'hJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw';
const P256_JWK_7515 = { kty: 'EC', crv: 'P-256', x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU', y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0' };
const ES256_TOKEN_7515 = `eyJhbGciOiJFUzI1NiJ9.${PAYLOAD_7515}.DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q`;
// RFC 7515 A.4 (ES512) signs the ASCII string "Payload".
const P521_JWK_7515 = {
  kty: 'EC',
  crv: 'P-521',
  x: 'AekpBQ8ST8a8VcfVOTNl353vSrDCLLJXmPk06wTjxrrjcBpXp5EOnYG_NjFZ6OvLFV1jSfS9tsz4qUxcWceqwQGk',
  y: 'ADSmRA43Z1DSNx_RvcLI87cdL07l6jQyyBXMoxVg_l2Th-x3S1WDhjDly79ajL4Kkd0AZMaZmh9ubmf63e3kyMj2',
};
const ES512_TOKEN_7515 =
  'eyJhbGciOiJFUzUxMiJ9.UGF5bG9hZA.' +
  'AdwMgeerwtHoh-l192l60hp9wAHZFVJbLfD_UxMi70cwnZOYaRI1bKPWROc-mZZqwqT2SI-KGDKB34XO0aw_7XdtAG8GaSwFKdCAPZgoXD2YBJZCPEX3xKpRwcdOO8Kp' +
  'EHwJjyqOgzDO7iKvU8vcnwNrmxYbSW9ERBXukOXolLzeO_Jn';
// RFC 8037 A.4: Ed25519 over "Example of Ed25519 signing".
const ED_JWK_8037 = { kty: 'OKP', crv: 'Ed25519', x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo' };
const ED_TOKEN_8037 =
  'eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg';
// RFC 7520 4.4: HS256 with a kid, over the text of figure 7.
const HS_JWK_7520 = { kty: 'oct', kid: '018c0ae5-4d9b-471b-bfd6-eef314bc7037', use: 'sig', alg: 'HS256', k: 'hJtXIZ2uSN5kbQfbtTNWbpdmhkV8FJG-Onbc6mxCcYg' };
const HS_TOKEN_7520 =
  'eyJhbGciOiJIUzI1NiIsImtpZCI6IjAxOGMwYWU1LTRkOWItNDcxYi1iZmQ2LWVlZjMxNGJjNzAzNyJ9.' +
  'SXTigJlzIGEgZGFuZ2Vyb3VzIGJ1c2luZXNzLCBGcm9kbywgZ29pbmcgb3V0IHlvdXIgZG9vci4gWW91IHN0ZXAgb250byB0aGUgcm9hZCwgYW5kIGlmIHlvdSBk' +
  'b24ndCBrZWVwIHlvdXIgZmVldCwgdGhlcmXigJlzIG5vIGtub3dpbmcgd2hlcmUgeW91IG1pZ2h0IGJlIHN3ZXB0IG9mZiB0by4.s0h6KThzkfBBBkLspW1h84VsJZFTsPPqMDA7g1Md7p0';

function jwkKey(jwk: Record<string, unknown>): VerifyKey {
  const k = importJwk(jwk, true);
  if (typeof k === 'string') throw new Error(k);
  return k;
}

interface Compact {
  readonly input: Buffer;
  readonly signature: Buffer;
}

function split(token: string): Compact {
  const [h = '', p = '', s = ''] = token.split('.');
  return { input: Buffer.from(`${h}.${p}`), signature: Buffer.from(s, 'base64url') };
}

function flipped(b: Buffer, at: number): Buffer {
  const copy = Buffer.from(b);
  copy.writeUInt8(copy.readUInt8(at) ^ 0x01, at);
  return copy;
}

const vectors: [string, string, string, VerifyKey][] = [
  ['RFC 7515 A.1', 'HS256', HS_TOKEN_7515, jwkKey({ kty: 'oct', k: HS_KEY_7515 })],
  ['RFC 7515 A.2', 'RS256', RS_TOKEN_7515, jwkKey(RSA_JWK_7515)],
  ['RFC 7515 A.3', 'ES256', ES256_TOKEN_7515, jwkKey(P256_JWK_7515)],
  ['RFC 7515 A.4', 'ES512', ES512_TOKEN_7515, jwkKey(P521_JWK_7515)],
  ['RFC 8037 A.4', 'EdDSA', ED_TOKEN_8037, jwkKey(ED_JWK_8037)],
  ['RFC 7520 4.4', 'HS256', HS_TOKEN_7520, jwkKey(HS_JWK_7520)],
];

describe('jws: published vectors', { timeout: 30_000 }, () => {
  for (const [name, alg, token, key] of vectors) {
    test(`${name} (${alg}) verifies; a flipped bit of signature or input does not`, () => {
      const { input, signature } = split(token);
      assert.equal(verifyJws(alg, input, signature, key), true);
      for (const at of [0, signature.length >> 1, signature.length - 1]) assert.equal(verifyJws(alg, input, flipped(signature, at), key), false, `signature bit at byte ${at}`);
      assert.equal(verifyJws(alg, flipped(input, input.length - 1), signature, key), false, 'signing input');
      assert.equal(verifyJws(alg, input, signature.subarray(0, signature.length - 1), key), false, 'one byte short');
      assert.equal(verifyJws(alg, input, Buffer.concat([signature, Buffer.alloc(1)]), key), false, 'one byte long');
    });
  }

  test('RFC 8037 A.4 under the fully-specified alg Ed25519 too; never under none or an unknown alg', () => {
    const { input, signature } = split(ED_TOKEN_8037);
    const key = jwkKey(ED_JWK_8037);
    assert.equal(verifyJws('Ed25519', input, signature, key), true);
    for (const alg of ['none', 'ES256', 'eddsa', 'Ed448', '']) assert.equal(verifyJws(alg, input, signature, key), false, alg);
  });

  describe('through the jwt method (RFC 7515 A.1-A.3 carry JSON claims)', () => {
    const services = createJwtServices();
    after(() => services.close());
    const m = mustCompile(
      {
        algorithms: ['HS256', 'RS256', 'ES256'],
        secretRef: { name: 'hmac', key: 'k' },
        secretEncoding: 'base64url',
        publicKeysRef: { name: 'keys' },
        consumer: { id: 'iss' },
      },
      { services, secrets: [secret('hmac', { k: HS_KEY_7515 }), secret('keys', { 'a2.json': JSON.stringify(RSA_JWK_7515), 'a3.json': JSON.stringify(P256_JWK_7515) })] },
    );
    const at = (token: string, now: number): AuthnResult => {
      const r = m.authenticate(bearer(token), { now, policy: POLICY, path: '/' });
      assert.ok(!(r instanceof Promise), 'keys from Secrets answer synchronously');
      return r;
    };
    for (const [name, token] of [['A.1', HS_TOKEN_7515], ['A.2', RS_TOKEN_7515], ['A.3', ES256_TOKEN_7515]] as const) {
      test(`${name}: consumer joe before exp, jwt_expired after exp + skew, jwt_signature_invalid with a flipped bit`, () => {
        const r = at(token, EXP_7515 - 60_000);
        assert.equal(r.kind === 'success' ? r.identity.consumerId : outcome(r), 'joe');
        if (r.kind === 'success') assert.deepEqual(r.identity.claims, { iss: 'joe', exp: 1300819380, 'http://example.com/is_root': true });
        assert.equal(outcome(at(token, EXP_7515 + 30_000)), 'jwt_expired');
        const [h, p, s = ''] = token.split('.');
        const bad = `${h}.${p}.${flipped(Buffer.from(s, 'base64url'), 3).toString('base64url')}`;
        assert.equal(outcome(at(bad, EXP_7515 - 60_000)), 'jwt_signature_invalid');
      });
    }
  });
});

describe('jws: a key verifies only the algorithms of its own kind', { timeout: 30_000 }, () => {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' });
  const ed = generateKeyPairSync('ed25519');
  const pem = rsa.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const verifyKey = (k: Parameters<typeof toVerifyKey>[0], alg?: string): VerifyKey => {
    const v = toVerifyKey(k, undefined, alg);
    if (typeof v === 'string') throw new Error(v);
    return v;
  };
  const input = Buffer.from('eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0');

  test('HMAC keyed with the RSA public key (the classic confusion) never meets the RSA key, nor the reverse', () => {
    const confusedMac = createHmac('sha256', pem).update(input).digest();
    assert.equal(verifyJws('HS256', input, confusedMac, verifyKey(rsa.publicKey)), false);
    assert.equal(verifyJws('HS256', input, confusedMac, hmacKey(Buffer.from(pem))), true, 'control: it is a genuine MAC under those bytes');
    const rs = cryptoSign('sha256', input, rsa.privateKey);
    assert.equal(verifyJws('RS256', input, rs, verifyKey(rsa.publicKey)), true, 'control');
    assert.equal(verifyJws('RS256', input, rs, hmacKey(Buffer.from(pem))), false);
    for (const alg of ['RS256', 'PS256', 'ES256', 'EdDSA']) assert.equal(verifyJws(alg, input, confusedMac, hmacKey(Buffer.from(pem))), false, alg);
  });

  test('a curve verifies only its ES alg; Ed25519 only EdDSA; RSA never ES or EdDSA', () => {
    const es256 = cryptoSign('sha256', input, { key: p256.privateKey, dsaEncoding: 'ieee-p1363' });
    assert.equal(verifyJws('ES256', input, es256, verifyKey(p256.publicKey)), true, 'control');
    assert.equal(verifyJws('ES384', input, es256, verifyKey(p256.publicKey)), false);
    assert.equal(verifyJws('ES256', input, es256, verifyKey(p384.publicKey)), false);
    assert.equal(verifyJws('EdDSA', input, es256, verifyKey(p256.publicKey)), false);
    const eds = cryptoSign(null, input, ed.privateKey);
    assert.equal(verifyJws('EdDSA', input, eds, verifyKey(ed.publicKey)), true, 'control');
    assert.equal(verifyJws('ES256', input, eds, verifyKey(ed.publicKey)), false);
    assert.equal(verifyJws('HS256', input, eds, verifyKey(ed.publicKey)), false);
    assert.equal(verifyJws('EdDSA', input, eds, verifyKey(rsa.publicKey)), false);
    assert.equal(verifyJws('ES256', input, es256, verifyKey(rsa.publicKey)), false);
  });

  test('a JWK pinned to one alg verifies no other, even of the same family', () => {
    const ps = cryptoSign('sha256', input, { key: rsa.privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 });
    assert.equal(verifyJws('PS256', input, ps, verifyKey(rsa.publicKey)), true, 'control');
    assert.equal(verifyJws('PS256', input, ps, verifyKey(rsa.publicKey, 'RS256')), false);
    assert.equal(verifyJws('PS256', input, ps, verifyKey(rsa.publicKey, 'PS256')), true);
  });

  test('an RSA-PSS key (restricted to SHA-256) verifies PS256 and answers false, without throwing, for PS384 and RS256', () => {
    const pss = generateKeyPairSync('rsa-pss', { modulusLength: 2048, hashAlgorithm: 'sha256', mgf1HashAlgorithm: 'sha256' });
    const key = verifyKey(pss.publicKey);
    const ps256 = cryptoSign('sha256', input, { key: pss.privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 });
    assert.equal(verifyJws('PS256', input, ps256, key), true);
    assert.equal(verifyJws('PS384', input, ps256, key), false);
    assert.equal(verifyJws('RS256', input, ps256, key), false);
    const rs = cryptoSign('sha256', input, rsa.privateKey);
    assert.equal(verifyJws('RS256', input, rs, key), false);
  });
});
