// The signature floor: the no-op floor's transport and answer, plus the one step no authenticator can
// leave out for a token it has not seen before, the check of its signature (node:crypto, as little
// around it as possible). Its throughput over the no-op floor's is the most any JWT authenticator
// could reach on this machine for first-seen tokens, measured in the same run.
import { createHmac, createPublicKey, type KeyObject, timingSafeEqual, verify } from 'node:crypto';
import type { Decision } from '../src/core/decision.js';
import { GatehouseError } from '../src/core/errors.js';
import type { CheckInput } from '../src/core/input.js';
import { NoopEngine } from './noop-engine.js';

export const SIGNATURE_ALGORITHMS = ['HS256', 'RS256', 'ES256'] as const;
export type SignatureAlgorithm = (typeof SIGNATURE_ALGORITHMS)[number];

export function isSignatureAlgorithm(s: string): s is SignatureAlgorithm {
  return (SIGNATURE_ALGORITHMS as readonly string[]).includes(s);
}

const PREFIX = 'Bearer ';

export class SignatureEngine extends NoopEngine {
  readonly #check: (signed: Buffer, signature: Buffer) => boolean;

  /** `key`: the HMAC secret (HS256) or the public key's PEM. */
  constructor(alg: SignatureAlgorithm, key: string) {
    super();
    this.#check = checker(alg, key);
  }

  override check(input: CheckInput): Decision {
    const header = input.header('authorization');
    const dot = header === undefined || !header.startsWith(PREFIX) ? -1 : header.lastIndexOf('.');
    if (header === undefined || dot === -1) return this.reject(new GatehouseError('jwt_malformed', 'no bearer token'));
    const signed = Buffer.from(header.slice(PREFIX.length, dot), 'latin1');
    const signature = Buffer.from(header.slice(dot + 1), 'base64url');
    if (!this.#check(signed, signature)) return this.reject(new GatehouseError('jwt_signature_invalid', 'the signature does not verify'));
    return super.check(input);
  }
}

function checker(alg: SignatureAlgorithm, key: string): (signed: Buffer, signature: Buffer) => boolean {
  if (alg === 'HS256') {
    const secret = Buffer.from(key, 'utf8');
    return (signed, signature) => {
      const mac = createHmac('sha256', secret).update(signed).digest();
      return mac.length === signature.length && timingSafeEqual(mac, signature);
    };
  }
  const publicKey: KeyObject = createPublicKey(key);
  if (alg === 'ES256') return (signed, signature) => verify('sha256', signed, { key: publicKey, dsaEncoding: 'ieee-p1363' }, signature);
  return (signed, signature) => verify('sha256', signed, publicKey, signature);
}
