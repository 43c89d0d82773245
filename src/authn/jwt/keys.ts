// Verification keys: imported once (PEM, certificate, JWK, JWK Set, HMAC secret) into KeyObjects with
// the family of algorithms each may verify, so that an HMAC key never meets an RSA token or the reverse.
import { createHash, createPublicKey, createSecretKey, type JsonWebKey, type KeyObject, X509Certificate } from 'node:crypto';
import type { JwtAlgorithm } from './schema.js';

export type KeyFamily = 'oct' | 'RSA' | 'EC-P-256' | 'EC-P-384' | 'EC-P-521' | 'OKP-Ed25519';

export interface VerifyKey {
  /** Fingerprint of the key material: stable across refetches, so cached tokens survive a refresh. */
  readonly id: string;
  readonly kid: string | undefined;
  /** `alg` pinned by a JWK; undefined = any algorithm of the family. */
  readonly alg: string | undefined;
  readonly family: KeyFamily;
  readonly key: KeyObject;
}

/** What a key set answers for a token header. */
export type Selection =
  | { readonly kind: 'keys'; readonly keys: readonly VerifyKey[] }
  | { readonly kind: 'kid_unknown' }
  | { readonly kind: 'no_key' }
  | { readonly kind: 'unavailable'; readonly reason: string };

/** Keys tried for a token without `kid`: enough for a rotation overlap, too few for a CPU sink. */
const MAX_CANDIDATES = 4;
const MIN_RSA_BITS = 2048;

export function familyOfAlg(alg: string): KeyFamily | undefined {
  switch (alg) {
    case 'HS256': case 'HS384': case 'HS512':
      return 'oct';
    case 'RS256': case 'RS384': case 'RS512': case 'PS256': case 'PS384': case 'PS512':
      return 'RSA';
    case 'ES256':
      return 'EC-P-256';
    case 'ES384':
      return 'EC-P-384';
    case 'ES512':
      return 'EC-P-521';
    case 'EdDSA': case 'Ed25519':
      return 'OKP-Ed25519';
    default:
      return undefined;
  }
}

/** Minimum HMAC key length: the hash output size (RFC 7518 3.2). */
export function hmacMinBytes(alg: JwtAlgorithm): number {
  return alg === 'HS512' ? 64 : alg === 'HS384' ? 48 : 32;
}

const CURVES: Readonly<Record<string, KeyFamily>> = { prime256v1: 'EC-P-256', secp384r1: 'EC-P-384', secp521r1: 'EC-P-521' };

type FamilyOf = { readonly ok: true; readonly family: KeyFamily } | { readonly ok: false; readonly problem: string };

function familyOfKey(key: KeyObject): FamilyOf {
  if (key.type === 'secret') return { ok: true, family: 'oct' };
  switch (key.asymmetricKeyType) {
    case 'rsa':
    case 'rsa-pss': {
      const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
      return bits >= MIN_RSA_BITS ? { ok: true, family: 'RSA' } : { ok: false, problem: `RSA key of ${bits} bits is shorter than ${MIN_RSA_BITS}` };
    }
    case 'ec': {
      const curve = key.asymmetricKeyDetails?.namedCurve ?? '';
      const family = CURVES[curve];
      return family === undefined ? { ok: false, problem: `EC curve ${curve} is not supported (P-256, P-384, P-521)` } : { ok: true, family };
    }
    case 'ed25519':
      return { ok: true, family: 'OKP-Ed25519' };
    default:
      return { ok: false, problem: `key type ${String(key.asymmetricKeyType)} is not supported` };
  }
}

/** A verification key, or why it cannot be one. */
export function toVerifyKey(key: KeyObject, kid: string | undefined, alg: string | undefined): VerifyKey | string {
  const f = familyOfKey(key);
  if (!f.ok) return f.problem;
  if (alg !== undefined && familyOfAlg(alg) !== f.family) return `alg ${alg} does not fit a ${f.family} key`;
  const material = key.type === 'secret' ? key.export() : key.export({ type: 'spki', format: 'der' });
  const id = `${f.family}:${createHash('sha256').update(material).digest('base64url')}`;
  return Object.freeze({ id, kid, alg, family: f.family, key });
}

export function hmacKey(secret: Buffer, kid?: string): VerifyKey {
  const k = toVerifyKey(createSecretKey(secret), kid, undefined);
  if (typeof k === 'string') throw new Error(k);
  return k;
}

/** One JWK. `allowOct` is false for remote sets: a symmetric key published on the web is no secret. */
export function importJwk(jwk: unknown, allowOct: boolean): VerifyKey | string {
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) return 'JWK is not a JSON object';
  const j = jwk as Record<string, unknown>;
  const kid = j['kid'];
  const alg = j['alg'];
  const use = j['use'];
  const ops = j['key_ops'];
  if (kid !== undefined && typeof kid !== 'string') return 'JWK kid is not a string';
  if (alg !== undefined && typeof alg !== 'string') return 'JWK alg is not a string';
  if (use !== undefined && use !== 'sig') return `JWK use is ${JSON.stringify(use)}, not "sig"`;
  if (ops !== undefined && (!Array.isArray(ops) || !ops.includes('verify'))) return 'JWK key_ops does not include "verify"';
  let key: KeyObject;
  try {
    if (j['kty'] === 'oct') {
      if (!allowOct) return 'JWK of kty oct (a shared secret) is refused from a remote set';
      const k = j['k'];
      if (typeof k !== 'string' || k === '') return 'JWK of kty oct has no k';
      key = createSecretKey(Buffer.from(k, 'base64url'));
    } else {
      // A private JWK is accepted; only its public half is kept.
      key = createPublicKey({ key: j as JsonWebKey, format: 'jwk' });
    }
  } catch (e) {
    return `JWK cannot be imported: ${(e as Error).message}`;
  }
  return toVerifyKey(key, kid, alg);
}

export interface Imported {
  readonly keys: VerifyKey[];
  readonly problems: string[];
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g;

/** A Secret entry: PEM blocks (public keys, certificates, private keys), a JWK or a JWK Set. */
export function importKeyText(text: string, allowOct: boolean): Imported {
  const keys: VerifyKey[] = [];
  const problems: string[] = [];
  const trimmed = text.trim();
  if (trimmed.startsWith('-----BEGIN')) {
    for (const m of trimmed.matchAll(PEM_BLOCK)) {
      const label = m[1] ?? '';
      try {
        const key = label === 'CERTIFICATE' ? new X509Certificate(m[0]).publicKey : createPublicKey(m[0]);
        if (label.includes('PRIVATE')) problems.push('holds a private key; only its public half is used (keep private keys out of publicKeysRef)');
        push(keys, problems, toVerifyKey(key, undefined, undefined));
      } catch (e) {
        problems.push(`PEM ${label} cannot be imported: ${(e as Error).message}`);
      }
    }
    if (keys.length === 0 && problems.length === 0) problems.push('no complete PEM block');
    return { keys, problems };
  }
  if (trimmed.startsWith('{')) {
    let json: unknown;
    try {
      json = JSON.parse(trimmed);
    } catch (e) {
      problems.push(`not valid JSON: ${(e as Error).message}`);
      return { keys, problems };
    }
    const set = (json as { keys?: unknown }).keys;
    if (Array.isArray(set)) set.forEach((jwk: unknown, i) => push(keys, problems, importJwk(jwk, allowOct), `keys[${i}]: `));
    else push(keys, problems, importJwk(json, allowOct));
    return { keys, problems };
  }
  problems.push('is neither a PEM key or certificate nor a JWK / JWK Set');
  return { keys, problems };
}

function push(keys: VerifyKey[], problems: string[], k: VerifyKey | string, prefix = ''): void {
  if (typeof k === 'string') problems.push(prefix + k);
  else keys.push(k);
}

/** An immutable set of verification keys, answering which keys may verify a token. */
export class KeySet {
  readonly keys: readonly VerifyKey[];
  readonly #ids: ReadonlySet<string>;

  constructor(keys: readonly VerifyKey[]) {
    const seen = new Map<string, VerifyKey>();
    for (const k of keys) if (!seen.has(`${k.id}|${k.kid ?? ''}`)) seen.set(`${k.id}|${k.kid ?? ''}`, k);
    this.keys = Object.freeze([...seen.values()]);
    this.#ids = new Set(this.keys.map((k) => k.id));
  }

  get size(): number {
    return this.keys.length;
  }

  has(id: string): boolean {
    return this.#ids.has(id);
  }

  /**
   * Keys of the token's algorithm family (and pinned alg): those with its `kid` when it names one,
   * else the keys without a kid. A kid matching nothing is `kid_unknown` (a remote set refetches).
   */
  select(alg: string, kid: string | undefined): Selection {
    const family = familyOfAlg(alg);
    const fit = this.keys.filter((k) => k.family === family && (k.alg === undefined || k.alg === alg));
    if (kid !== undefined) {
      const named = fit.filter((k) => k.kid === kid);
      if (named.length > 0) return { kind: 'keys', keys: named.slice(0, MAX_CANDIDATES) };
      const anonymous = fit.filter((k) => k.kid === undefined);
      if (anonymous.length > 0) return { kind: 'keys', keys: anonymous.slice(0, MAX_CANDIDATES) };
      return { kind: 'kid_unknown' };
    }
    if (fit.length === 0) return { kind: 'no_key' };
    return { kind: 'keys', keys: fit.slice(0, MAX_CANDIDATES) };
  }
}

