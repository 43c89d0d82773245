// JWS signature checks (RFC 7515, RFC 7518, RFC 8037) with node:crypto, synchronously: a first-seen
// token costs one HMAC or one public-key operation, with no Promise and no WebCrypto round trip.
// The key must fit the algorithm on every axis (family, pinned alg, KeyObject type, curve, RSA-PSS
// parameters, signature length) before any cryptography runs, so an HMAC key never meets an
// RS/PS/ES/EdDSA token, nor an RSA or EC key an HS one.
import { constants, createHmac, timingSafeEqual, verify, type KeyObject } from 'node:crypto';
import { familyOfAlg, type VerifyKey } from './keys.js';

type Hash = 'sha256' | 'sha384' | 'sha512';

/** How one `alg` is verified. */
type Scheme =
  | { readonly kind: 'hmac'; readonly hash: Hash }
  | { readonly kind: 'rsa-pkcs1'; readonly hash: Hash }
  /** RFC 7518 3.5: MGF1 with the same hash, salt as long as the hash output. */
  | { readonly kind: 'rsa-pss'; readonly hash: Hash; readonly saltLength: number }
  /** JOSE form (R || S, RFC 7518 3.4): `size` bytes exactly, never DER. */
  | { readonly kind: 'ecdsa'; readonly hash: Hash; readonly curve: string; readonly size: number }
  | { readonly kind: 'ed25519' };

const SCHEMES: ReadonlyMap<string, Scheme> = new Map<string, Scheme>([
  ['HS256', { kind: 'hmac', hash: 'sha256' }],
  ['HS384', { kind: 'hmac', hash: 'sha384' }],
  ['HS512', { kind: 'hmac', hash: 'sha512' }],
  ['RS256', { kind: 'rsa-pkcs1', hash: 'sha256' }],
  ['RS384', { kind: 'rsa-pkcs1', hash: 'sha384' }],
  ['RS512', { kind: 'rsa-pkcs1', hash: 'sha512' }],
  ['PS256', { kind: 'rsa-pss', hash: 'sha256', saltLength: 32 }],
  ['PS384', { kind: 'rsa-pss', hash: 'sha384', saltLength: 48 }],
  ['PS512', { kind: 'rsa-pss', hash: 'sha512', saltLength: 64 }],
  ['ES256', { kind: 'ecdsa', hash: 'sha256', curve: 'prime256v1', size: 64 }],
  ['ES384', { kind: 'ecdsa', hash: 'sha384', curve: 'secp384r1', size: 96 }],
  ['ES512', { kind: 'ecdsa', hash: 'sha512', curve: 'secp521r1', size: 132 }],
  ['EdDSA', { kind: 'ed25519' }],
  ['Ed25519', { kind: 'ed25519' }],
]);

const ED25519_SIGNATURE_BYTES = 64;

/**
 * Whether `signature` is a valid `alg` signature of `signingInput` (the ASCII bytes of
 * `header.payload`) under `key`. Never throws: a key that does not fit, or a signature of the
 * wrong shape, is simply not a match.
 */
export function verifyJws(alg: string, signingInput: Buffer, signature: Buffer, key: VerifyKey): boolean {
  const scheme = SCHEMES.get(alg);
  if (scheme === undefined) return false;
  if (familyOfAlg(alg) !== key.family || (key.alg !== undefined && key.alg !== alg)) return false;
  const k = key.key;
  switch (scheme.kind) {
    case 'hmac': {
      if (k.type !== 'secret') return false;
      const mac = createHmac(scheme.hash, k).update(signingInput).digest();
      // The expected length is public (it follows from alg); the bytes are compared in constant time.
      return mac.length === signature.length && timingSafeEqual(mac, signature);
    }
    case 'rsa-pkcs1':
      if (k.type !== 'public' || k.asymmetricKeyType !== 'rsa' || signature.length !== rsaBytes(k)) return false;
      return attempt(() => verify(scheme.hash, signingInput, { key: k, padding: constants.RSA_PKCS1_PADDING }, signature));
    case 'rsa-pss':
      if (k.type !== 'public' || !pssFits(k, scheme.hash, scheme.saltLength) || signature.length !== rsaBytes(k)) return false;
      return attempt(() =>
        verify(scheme.hash, signingInput, { key: k, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: scheme.saltLength }, signature),
      );
    case 'ecdsa':
      if (k.type !== 'public' || k.asymmetricKeyType !== 'ec' || k.asymmetricKeyDetails?.namedCurve !== scheme.curve) return false;
      if (signature.length !== scheme.size) return false;
      return attempt(() => verify(scheme.hash, signingInput, { key: k, dsaEncoding: 'ieee-p1363' }, signature));
    case 'ed25519':
      if (k.type !== 'public' || k.asymmetricKeyType !== 'ed25519' || signature.length !== ED25519_SIGNATURE_BYTES) return false;
      return attempt(() => verify(null, signingInput, k, signature));
    default: {
      const never: never = scheme;
      throw new Error(`unknown scheme ${JSON.stringify(never)}`);
    }
  }
}

/** The first candidate whose signature verifies, tried in order. */
export function verifiedBy(alg: string, signingInput: Buffer, signature: Buffer, keys: readonly VerifyKey[]): VerifyKey | undefined {
  for (const k of keys) if (verifyJws(alg, signingInput, signature, k)) return k;
  return undefined;
}

/** An RSA signature is exactly as long as the modulus. */
function rsaBytes(k: KeyObject): number {
  return Math.ceil((k.asymmetricKeyDetails?.modulusLength ?? 0) / 8);
}

/** A plain RSA key, or an RSA-PSS key whose own restrictions allow this hash and salt. */
function pssFits(k: KeyObject, hash: Hash, saltLength: number): boolean {
  if (k.asymmetricKeyType === 'rsa') return true;
  if (k.asymmetricKeyType !== 'rsa-pss') return false;
  const d = k.asymmetricKeyDetails;
  if (d?.hashAlgorithm !== undefined && d.hashAlgorithm !== hash) return false;
  if (d?.mgf1HashAlgorithm !== undefined && d.mgf1HashAlgorithm !== hash) return false;
  return d?.saltLength === undefined || d.saltLength <= saltLength;
}

/** OpenSSL may refuse a key/parameter pair by throwing: that is a failed verification, not a crash. */
function attempt(check: () => boolean): boolean {
  try {
    return check();
  } catch {
    return false;
  }
}
