// Every allowed algorithm through the jwt method with keys from Secrets: tokens made by jose and by
// jsonwebtoken verify, synchronously on first sight; a flipped signature bit fails for each alg;
// DER-encoded ECDSA is refused; PS and RS signatures never stand in for each other.
import assert from 'node:assert/strict';
import { constants, createHmac, generateKeyPairSync, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { after, describe, test } from 'node:test';
import { SignJWT } from 'jose';
import jsonwebtoken, { type Algorithm } from 'jsonwebtoken';
import type { AuthnResult } from '../src/core/ports.js';
import { createJwtServices } from '../src/authn/jwt/services.js';
import type { JwtAuthenticator } from '../src/authn/jwt/authenticator.js';
import { bearer, mustCompile, outcome, POLICY, S0, secret, T0 } from './support/jwt-policy.js';

const HMAC = 'hs512-needs-a-secret-of-sixty-four-bytes-0123456789abcdefghijklm';
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const curves = {
  ES256: generateKeyPairSync('ec', { namedCurve: 'P-256' }),
  ES384: generateKeyPairSync('ec', { namedCurve: 'P-384' }),
  ES512: generateKeyPairSync('ec', { namedCurve: 'P-521' }),
} as const;
const ed = generateKeyPairSync('ed25519');
const spki = (k: KeyObject): string => k.export({ type: 'spki', format: 'pem' }).toString();
const pkcs8 = (k: KeyObject): string => k.export({ type: 'pkcs8', format: 'pem' }).toString();

const ALL = ['HS256', 'HS384', 'HS512', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'] as const;
type Alg = (typeof ALL)[number];

/** The private key (or HMAC secret) that signs `alg`. */
function signingKey(alg: Alg): KeyObject | Buffer {
  switch (alg) {
    case 'HS256': case 'HS384': case 'HS512':
      return Buffer.from(HMAC);
    case 'RS256': case 'RS384': case 'RS512': case 'PS256': case 'PS384': case 'PS512':
      return rsa.privateKey;
    case 'ES256': case 'ES384': case 'ES512':
      return curves[alg].privateKey;
    case 'EdDSA': case 'Ed25519':
      return ed.privateKey;
    default: {
      const never: never = alg;
      throw new Error(`unknown alg ${String(never)}`);
    }
  }
}

const services = createJwtServices();
after(() => services.close());
const keys = secret('keys', {
  'rsa.pem': spki(rsa.publicKey),
  'p256.pem': spki(curves.ES256.publicKey),
  'p384.pem': spki(curves.ES384.publicKey),
  'p521.pem': spki(curves.ES512.publicKey),
  'ed.pem': spki(ed.publicKey),
});
const m = mustCompile({ algorithms: [...ALL], secretRef: { name: 'hmac', key: 'k' }, publicKeysRef: { name: 'keys' } }, { services, secrets: [secret('hmac', { k: HMAC }), keys] });

let serial = 0;
/** Distinct claims each time, so that every token is a first sight for the verified-token cache. */
const claims = (): Record<string, unknown> => ({ sub: 'alice', iat: S0, exp: S0 + 600, jti: `t-${++serial}` });
const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');

function now(method: JwtAuthenticator, token: string): AuthnResult {
  const r = method.authenticate(bearer(token), { now: T0, policy: POLICY, path: '/' });
  assert.ok(!(r instanceof Promise), 'keys from Secrets answer synchronously');
  return r;
}

/** The token with one bit of its signature flipped (re-encoded canonically). */
function flipBit(token: string, byte: number): string {
  const [h, p, s = ''] = token.split('.');
  const sig = Buffer.from(s, 'base64url');
  const at = Math.min(byte, sig.length - 1);
  sig.writeUInt8(sig.readUInt8(at) ^ 0x80, at);
  return `${h}.${p}.${sig.toString('base64url')}`;
}

/** A compact JWS signed by hand with node:crypto, for encodings no library produces. */
function handSigned(alg: string, sign: (input: Buffer) => Buffer): string {
  const input = `${b64({ alg, typ: 'JWT' })}.${b64(claims())}`;
  return `${input}.${sign(Buffer.from(input)).toString('base64url')}`;
}

describe('jws: every algorithm through the jwt method', { timeout: 60_000 }, () => {
  for (const alg of ALL) {
    test(`${alg}: a jose token verifies synchronously; a flipped signature bit is jwt_signature_invalid`, async () => {
      const token = await new SignJWT(claims()).setProtectedHeader({ alg, typ: 'JWT' }).sign(signingKey(alg));
      const r = now(m, token);
      assert.equal(r.kind === 'success' ? r.identity.consumerId : outcome(r), 'alice');
      for (const byte of [0, 17, 1000]) assert.equal(outcome(now(m, flipBit(token, byte))), 'jwt_signature_invalid', `bit of byte ${byte}`);
    });
  }

  for (const alg of ALL.filter((a): a is Exclude<Alg, 'EdDSA' | 'Ed25519'> => a !== 'EdDSA' && a !== 'Ed25519')) {
    test(`${alg}: a jsonwebtoken token verifies synchronously`, () => {
      const key = signingKey(alg);
      const token = jsonwebtoken.sign(claims(), Buffer.isBuffer(key) ? key : pkcs8(key), { algorithm: alg satisfies Algorithm, noTimestamp: true });
      const r = now(m, token);
      assert.equal(r.kind === 'success' ? r.identity.consumerId : outcome(r), 'alice');
      assert.equal(outcome(now(m, flipBit(token, 5))), 'jwt_signature_invalid');
    });
  }

  test('first sight of HS256, RS256 and ES256 tokens with Secret keys is synchronous, and so is the cache hit after it', () => {
    const hs = handSigned('HS256', (i) => createHmac('sha256', HMAC).update(i).digest());
    const rs = handSigned('RS256', (i) => cryptoSign('sha256', i, rsa.privateKey));
    const es = handSigned('ES256', (i) => cryptoSign('sha256', i, { key: curves.ES256.privateKey, dsaEncoding: 'ieee-p1363' }));
    for (const token of [hs, rs, es]) {
      const before = services.tokens.stats.misses;
      const first = m.authenticate(bearer(token), { now: T0, policy: POLICY, path: '/' });
      assert.ok(!(first instanceof Promise), 'first sight answers without a Promise');
      assert.equal(outcome(first), 'success');
      assert.equal(services.tokens.stats.misses, before + 1, 'it was a first sight');
      const again = m.authenticate(bearer(token), { now: T0, policy: POLICY, path: '/' });
      assert.ok(!(again instanceof Promise));
      assert.equal(outcome(again), 'success');
    }
  });

  test('ES signatures in DER form are refused; the same signature in the JOSE form verifies', () => {
    for (const alg of ['ES256', 'ES384', 'ES512'] as const) {
      const hash = `sha${alg.slice(2)}`;
      const key = curves[alg].privateKey;
      const der = handSigned(alg, (i) => cryptoSign(hash, i, { key, dsaEncoding: 'der' }));
      assert.equal(outcome(now(m, der)), 'jwt_signature_invalid', `${alg} DER`);
      const jose = handSigned(alg, (i) => cryptoSign(hash, i, { key, dsaEncoding: 'ieee-p1363' }));
      assert.equal(outcome(now(m, jose)), 'success', `${alg} IEEE P1363`);
      // R || S one byte short or long: refused before any curve arithmetic.
      const [h, p, s = ''] = jose.split('.');
      const sig = Buffer.from(s, 'base64url');
      for (const wrong of [sig.subarray(1), Buffer.concat([Buffer.alloc(1), sig])]) {
        assert.equal(outcome(now(m, `${h}.${p}.${wrong.toString('base64url')}`)), 'jwt_signature_invalid', `${alg} of ${wrong.length} bytes`);
      }
    }
  });

  test('a PS signature never verifies as RS and the reverse; PS needs a salt as long as the hash', () => {
    const pss = (saltLength: number) => (i: Buffer): Buffer => cryptoSign('sha256', i, { key: rsa.privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength });
    const pkcs1 = (i: Buffer): Buffer => cryptoSign('sha256', i, { key: rsa.privateKey, padding: constants.RSA_PKCS1_PADDING });
    assert.equal(outcome(now(m, handSigned('PS256', pss(32)))), 'success', 'control: PS256');
    assert.equal(outcome(now(m, handSigned('RS256', pkcs1))), 'success', 'control: RS256');
    assert.equal(outcome(now(m, handSigned('RS256', pss(32)))), 'jwt_signature_invalid', 'PSS padding under RS256');
    assert.equal(outcome(now(m, handSigned('PS256', pkcs1))), 'jwt_signature_invalid', 'PKCS#1 v1.5 padding under PS256');
    assert.equal(outcome(now(m, handSigned('PS256', pss(constants.RSA_PSS_SALTLEN_MAX_SIGN)))), 'jwt_signature_invalid', 'maximal salt');
    assert.equal(outcome(now(m, handSigned('PS256', pss(0)))), 'jwt_signature_invalid', 'empty salt');
  });

  test('an RSA or HMAC signature of the wrong length is refused', () => {
    const rs = handSigned('RS256', (i) => cryptoSign('sha256', i, rsa.privateKey));
    const hs = handSigned('HS512', (i) => createHmac('sha512', HMAC).update(i).digest());
    for (const token of [rs, hs]) {
      const [h, p, s = ''] = token.split('.');
      const sig = Buffer.from(s, 'base64url');
      assert.equal(outcome(now(m, token)), 'success', 'control');
      for (const wrong of [sig.subarray(0, 32), sig.subarray(1), Buffer.concat([Buffer.alloc(1), sig])]) {
        assert.equal(outcome(now(m, `${h}.${p}.${wrong.toString('base64url')}`)), 'jwt_signature_invalid', `${wrong.length} bytes`);
      }
    }
  });

  test('an HS token MACed with the RSA public key, or a header naming an alg of another key type, never verifies', () => {
    const confused = handSigned('HS256', (i) => createHmac('sha256', spki(rsa.publicKey)).update(i).digest());
    assert.equal(outcome(now(m, confused)), 'jwt_signature_invalid');
    // An ES256 signature under an EdDSA header, an EdDSA one under ES256: the right length, the wrong key type.
    const es = (i: Buffer): Buffer => cryptoSign('sha256', i, { key: curves.ES256.privateKey, dsaEncoding: 'ieee-p1363' });
    const eds = (i: Buffer): Buffer => cryptoSign(null, i, ed.privateKey);
    assert.equal(outcome(now(m, handSigned('EdDSA', es))), 'jwt_signature_invalid');
    assert.equal(outcome(now(m, handSigned('ES256', eds))), 'jwt_signature_invalid');
  });
});
