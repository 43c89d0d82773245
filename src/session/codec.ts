// Seals session records into cookie values and signs store session ids, with node:crypto only.
//
// Sealed value (base64url, no padding) = header || ciphertext || tag:
//   version(1) = 1 | algorithm(1) | key id(4) | audience tag(4) | nonce(12) | ciphertext | tag(16)
// The header and the full audience are the AEAD's associated data. Keys come from HKDF-SHA256 over
// each configured secret with an info string naming the purpose, the algorithm and the audience,
// so a value sealed for one policy never opens under another even when both share a secret.
// The key id picks the key to try: a value whose key id matches no configured secret is
// `unknown_key` at once, so garbage costs no trial decryptions.
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  getCiphers,
  hkdfSync,
  randomBytes,
  timingSafeEqual,
  type CipherChaCha20Poly1305,
  type CipherGCM,
  type DecipherChaCha20Poly1305,
  type DecipherGCM,
} from 'node:crypto';
import { GatehouseError } from '../core/errors.js';
import { parseSessionRecord, type SessionRecord } from './record.js';

/** AEADs in node:crypto. XChaCha20 is not there, so the second choice is the IETF 12-byte-nonce ChaCha20. */
export type SealAlgorithm = 'aes-256-gcm' | 'chacha20-poly1305';

export const SEAL_ALGORITHMS: readonly SealAlgorithm[] = ['aes-256-gcm', 'chacha20-poly1305'];

const FORMAT_VERSION = 1;
const ALGORITHM_IDS: Readonly<Record<SealAlgorithm, number>> = { 'aes-256-gcm': 1, 'chacha20-poly1305': 2 };
const KID_LEN = 4;
const AUD_TAG_LEN = 4;
const NONCE_LEN = 12;
const TAG_LEN = 16;
const HEADER_LEN = 2 + KID_LEN + AUD_TAG_LEN;
const MIN_SEALED_LEN = HEADER_LEN + NONCE_LEN + 1 + TAG_LEN;
/** Shortest secret accepted: 256 bits, as the derived keys are. */
const MIN_SECRET_BYTES = 32;
const MAX_SECRETS = 16;
const HKDF_SALT = Buffer.from('gatehouse/session/v1', 'utf8');

export type OpenFailure =
  | 'malformed' // not base64url, truncated, oversized
  | 'unsupported_version'
  | 'unsupported_algorithm'
  | 'wrong_audience' // sealed for another policy
  | 'unknown_key' // sealed with a key no longer configured
  | 'tampered' // authentication failed
  | 'invalid_record'; // authentic but not a record this version understands

export type OpenResult =
  | { readonly ok: true; readonly record: SessionRecord }
  | { readonly ok: false; readonly reason: OpenFailure };

export type IdFailure = 'malformed' | 'forged';

export type IdResult = { readonly ok: true; readonly id: string } | { readonly ok: false; readonly reason: IdFailure };

export interface SessionKeyOptions {
  /** The policy id the keys are bound to (`namespace/name`). */
  readonly audience: string;
  /** Secret entries, newest first: the first seals and signs, all open and verify (rotation). */
  readonly secrets: readonly (string | Uint8Array)[];
}

/** What a sealed value is for: each purpose has keys of its own, so one never opens as another. */
export type SealPurpose = 'session' | 'flow';

interface DerivedKey {
  readonly kid: Buffer;
  readonly seal: Readonly<Record<SealPurpose, Readonly<Record<SealAlgorithm, Buffer>>>>;
  readonly idMac: Buffer;
}

/** Keys derived once per policy; shared by the codec and the id signer. */
export class SessionKeys {
  readonly audience: string;
  readonly audTag: Buffer;
  /** Derived keys in the configured order; index 0 seals. */
  readonly keys: readonly DerivedKey[];

  private constructor(audience: string, keys: readonly DerivedKey[]) {
    this.audience = audience;
    this.audTag = audienceTag(audience);
    this.keys = keys;
  }

  /** Throws a `session_config_invalid` error naming the bad entry; call it when compiling a policy. */
  static derive(options: SessionKeyOptions): SessionKeys {
    const { audience, secrets } = options;
    if (typeof audience !== 'string' || audience === '') throw configError('audience must be a non-empty string');
    if (!Array.isArray(secrets) || secrets.length === 0) throw configError('secrets: at least one secret is required');
    if (secrets.length > MAX_SECRETS) throw configError(`secrets: at most ${MAX_SECRETS} secrets are accepted`);
    const seen = new Set<string>();
    const keys: DerivedKey[] = [];
    secrets.forEach((secret, i) => {
      const ikm = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : Buffer.from(secret);
      if (ikm.length < MIN_SECRET_BYTES) {
        throw configError(`secrets[${i}]: must be at least ${MIN_SECRET_BYTES} bytes, got ${ikm.length}`);
      }
      const fingerprint = createHash('sha256').update(ikm).digest('hex');
      if (seen.has(fingerprint)) return; // a repeated entry adds nothing
      seen.add(fingerprint);
      keys.push({
        kid: derive(ikm, 'kid', audience, KID_LEN),
        seal: {
          session: {
            'aes-256-gcm': derive(ikm, 'seal/aes-256-gcm', audience, 32),
            'chacha20-poly1305': derive(ikm, 'seal/chacha20-poly1305', audience, 32),
          },
          // Login flow state (OpenID Connect state, nonce, PKCE verifier) in its own cookie.
          flow: {
            'aes-256-gcm': derive(ikm, 'flow/aes-256-gcm', audience, 32),
            'chacha20-poly1305': derive(ikm, 'flow/chacha20-poly1305', audience, 32),
          },
        },
        idMac: derive(ikm, 'id-mac', audience, 32),
      });
    });
    return new SessionKeys(audience, keys);
  }
}

function derive(ikm: Buffer, purpose: string, audience: string, length: number): Buffer {
  const info = Buffer.from(`gatehouse/session/v1/${purpose}\0${audience}`, 'utf8');
  return Buffer.from(hkdfSync('sha256', ikm, HKDF_SALT, info, length));
}

function audienceTag(audience: string): Buffer {
  return createHash('sha256').update(`gatehouse/session/aud\0${audience}`, 'utf8').digest().subarray(0, AUD_TAG_LEN);
}

function configError(detail: string): GatehouseError {
  return new GatehouseError('session_config_invalid', `session: ${detail}`);
}

export interface SessionCodecOptions {
  /** Algorithm for new values; values sealed with the other one still open. Default aes-256-gcm. */
  readonly algorithm?: SealAlgorithm | undefined;
  /** Longest value `open` looks at, in characters (a split cookie set reassembled). Default 16384. */
  readonly maxLength?: number | undefined;
}

/**
 * Seals JSON values of one purpose with a policy's keys, and opens them again. `parse` decides what
 * an authentic plaintext must look like; anything else is `invalid_record`.
 */
export class Sealer<T extends object> {
  readonly #keys: SessionKeys;
  readonly #purpose: SealPurpose;
  readonly #parse: (value: unknown) => T | undefined;
  readonly #algorithm: SealAlgorithm;
  readonly #maxLength: number;

  constructor(keys: SessionKeys, purpose: SealPurpose, parse: (value: unknown) => T | undefined, options: SessionCodecOptions = {}) {
    const algorithm = options.algorithm ?? 'aes-256-gcm';
    if (!SEAL_ALGORITHMS.includes(algorithm)) throw configError(`algorithm: unknown algorithm ${String(algorithm)}`);
    if (!getCiphers().includes(algorithm)) {
      throw configError(`algorithm: ${algorithm} is not available in this Node.js`);
    }
    const maxLength = options.maxLength ?? 16_384;
    if (!Number.isSafeInteger(maxLength) || maxLength < 64) throw configError('maxLength must be an integer >= 64');
    this.#keys = keys;
    this.#purpose = purpose;
    this.#parse = parse;
    this.#algorithm = algorithm;
    this.#maxLength = maxLength;
  }

  get audience(): string {
    return this.#keys.audience;
  }

  /** Seals a value of this sealer's audience; sealing another policy's value is a programming error. */
  seal(value: T): string {
    const aud = audienceOf(value);
    if (aud !== undefined && aud !== this.#keys.audience) {
      throw new GatehouseError('session_audience_mismatch', 'session record sealed under another policy');
    }
    const key = this.#keys.keys[0];
    if (key === undefined) throw configError('secrets: no key to seal with');
    const header = Buffer.alloc(HEADER_LEN);
    header[0] = FORMAT_VERSION;
    header[1] = ALGORITHM_IDS[this.#algorithm];
    key.kid.copy(header, 2);
    this.#keys.audTag.copy(header, 2 + KID_LEN);
    const nonce = randomBytes(NONCE_LEN); // 96-bit random nonces: fine far beyond any session volume per key
    const cipher = newCipher(this.#algorithm, key.seal[this.#purpose][this.#algorithm], nonce);
    const plain = Buffer.from(JSON.stringify(value), 'utf8');
    cipher.setAAD(this.#aad(header), { plaintextLength: plain.length });
    const body = Buffer.concat([cipher.update(plain), cipher.final()]);
    return Buffer.concat([header, nonce, body, cipher.getAuthTag()]).toString('base64url');
  }

  /** Opens a value from a request. Never throws: every input yields a result. */
  open(value: string): SealedResult<T> {
    try {
      return this.#open(value);
    } catch {
      return fail('malformed'); // unreachable by design; a crypto surprise still must not crash a Check
    }
  }

  #open(value: unknown): SealedResult<T> {
    if (typeof value !== 'string' || value.length > this.#maxLength) return fail('malformed');
    const bytes = decodeCanonicalBase64url(value);
    if (bytes === undefined || bytes.length < MIN_SEALED_LEN) return fail('malformed');
    if (bytes[0] !== FORMAT_VERSION) return fail('unsupported_version');
    const algorithm = algorithmFor(bytes[1]);
    if (algorithm === undefined) return fail('unsupported_algorithm');
    const header = bytes.subarray(0, HEADER_LEN);
    const kid = header.subarray(2, 2 + KID_LEN);
    if (!timingSafeEqual(header.subarray(2 + KID_LEN, HEADER_LEN), this.#keys.audTag)) return fail('wrong_audience');
    const candidates = this.#keys.keys.filter((k) => timingSafeEqual(k.kid, kid));
    if (candidates.length === 0) return fail('unknown_key');
    const nonce = bytes.subarray(HEADER_LEN, HEADER_LEN + NONCE_LEN);
    const body = bytes.subarray(HEADER_LEN + NONCE_LEN, bytes.length - TAG_LEN);
    const tag = bytes.subarray(bytes.length - TAG_LEN);
    for (const key of candidates) {
      const plain = decrypt(algorithm, key.seal[this.#purpose][algorithm], nonce, this.#aad(header), body, tag);
      if (plain === undefined) continue;
      const parsed = this.#parse(parseJson(plain));
      if (parsed === undefined) return fail('invalid_record');
      const aud = audienceOf(parsed);
      if (aud !== undefined && aud !== this.#keys.audience) return fail('wrong_audience');
      return { ok: true, value: parsed };
    }
    return fail('tampered');
  }

  #aad(header: Buffer): Buffer {
    return Buffer.concat([header, Buffer.from(this.#keys.audience, 'utf8')]);
  }
}

/** The policy a sealed value names itself bound to (a session record's `aud`), if it names one. */
function audienceOf(value: object): unknown {
  return (value as { readonly aud?: unknown }).aud;
}

export type SealedResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: OpenFailure };

/** Seals whole session records for `storage: cookie`. */
export class SessionCodec {
  readonly #sealer: Sealer<SessionRecord>;

  constructor(keys: SessionKeys, options: SessionCodecOptions = {}) {
    this.#sealer = new Sealer(keys, 'session', parseSessionRecord, options);
  }

  get audience(): string {
    return this.#sealer.audience;
  }

  /** Seals a record of this codec's audience; sealing another policy's record is a programming error. */
  seal(record: SessionRecord): string {
    return this.#sealer.seal(record);
  }

  /** Opens a value from a request. Never throws: every input yields a result. */
  open(value: string): OpenResult {
    const r = this.#sealer.open(value);
    return r.ok ? { ok: true, record: r.value } : r;
  }
}

function decrypt(
  algorithm: SealAlgorithm,
  key: Buffer,
  nonce: Buffer,
  aad: Buffer,
  body: Buffer,
  tag: Buffer,
): string | undefined {
  try {
    const decipher = newDecipher(algorithm, key, nonce);
    decipher.setAAD(aad, { plaintextLength: body.length });
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(body), decipher.final()]).toString('utf8');
  } catch {
    return undefined;
  }
}

// One switch per direction: node's typings tie the tag-length option to the algorithm's literal type.
function newCipher(algorithm: SealAlgorithm, key: Buffer, nonce: Buffer): CipherGCM | CipherChaCha20Poly1305 {
  switch (algorithm) {
    case 'aes-256-gcm':
      return createCipheriv(algorithm, key, nonce, { authTagLength: TAG_LEN });
    case 'chacha20-poly1305':
      return createCipheriv(algorithm, key, nonce, { authTagLength: TAG_LEN });
    default:
      return assertNever(algorithm);
  }
}

function newDecipher(algorithm: SealAlgorithm, key: Buffer, nonce: Buffer): DecipherGCM | DecipherChaCha20Poly1305 {
  switch (algorithm) {
    case 'aes-256-gcm':
      return createDecipheriv(algorithm, key, nonce, { authTagLength: TAG_LEN });
    case 'chacha20-poly1305':
      return createDecipheriv(algorithm, key, nonce, { authTagLength: TAG_LEN });
    default:
      return assertNever(algorithm);
  }
}

function assertNever(x: never): never {
  throw new Error(`unexpected ${String(x)}`);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function algorithmFor(id: number | undefined): SealAlgorithm | undefined {
  for (const alg of SEAL_ALGORITHMS) if (ALGORITHM_IDS[alg] === id) return alg;
  return undefined;
}

function fail(reason: OpenFailure): { readonly ok: false; readonly reason: OpenFailure } {
  return { ok: false, reason };
}

const BASE64URL = /^[A-Za-z0-9_-]*$/;

/** Decodes base64url only when `value` is the one canonical encoding of its bytes (no malleable bits). */
function decodeCanonicalBase64url(value: string): Buffer | undefined {
  if (value === '' || !BASE64URL.test(value) || value.length % 4 === 1) return undefined;
  const bytes = Buffer.from(value, 'base64url');
  return bytes.toString('base64url') === value ? bytes : undefined;
}

const ID_BYTES = 32;
const ID_MAC_BYTES = 16;
const ID_COOKIE = /^([A-Za-z0-9_-]{43})\.([A-Za-z0-9_-]{22})$/;

/**
 * Session ids for store-backed sessions. The cookie carries `id.mac`: 32 random bytes and an HMAC of
 * the id bound to the policy, so a forged or foreign id is refused before any store round trip.
 */
export class SessionIdSigner {
  readonly #keys: SessionKeys;

  constructor(keys: SessionKeys) {
    this.#keys = keys;
  }

  /** A new unguessable id and the cookie value that carries it. */
  mint(): { readonly id: string; readonly cookieValue: string } {
    const id = randomBytes(ID_BYTES).toString('base64url');
    return { id, cookieValue: this.sign(id) };
  }

  /** The cookie value for an existing id, signed with the newest key. */
  sign(id: string): string {
    const key = this.#keys.keys[0];
    if (key === undefined) throw configError('secrets: no key to sign with');
    return `${id}.${idMac(key.idMac, id).toString('base64url')}`;
  }

  /** Never throws. Compares MACs in constant time against every configured key. */
  verify(cookieValue: string): IdResult {
    if (typeof cookieValue !== 'string') return { ok: false, reason: 'malformed' };
    const m = ID_COOKIE.exec(cookieValue);
    const id = m?.[1];
    const macText = m?.[2];
    if (id === undefined || macText === undefined) return { ok: false, reason: 'malformed' };
    const idBytes = decodeCanonicalBase64url(id);
    const mac = decodeCanonicalBase64url(macText);
    if (idBytes?.length !== ID_BYTES || mac?.length !== ID_MAC_BYTES) return { ok: false, reason: 'malformed' };
    let match = false;
    // Every key is tried, match or not, so timing does not reveal which key signed.
    for (const key of this.#keys.keys) match = timingSafeEqual(idMac(key.idMac, id), mac) || match;
    return match ? { ok: true, id } : { ok: false, reason: 'forged' };
  }
}

function idMac(key: Buffer, id: string): Buffer {
  return createHmac('sha256', key).update(id, 'utf8').digest().subarray(0, ID_MAC_BYTES);
}

/** True for strings shaped like a minted session id (43 base64url characters, canonical). */
export function isSessionIdShape(id: unknown): id is string {
  return typeof id === 'string' && id.length === 43 && decodeCanonicalBase64url(id)?.length === ID_BYTES;
}
