// ID token checks with the project's own JWT machinery (openid-client checks no signature on tokens
// from the token endpoint): strict parse and algorithm allow-list, a signature by the provider's
// published keys, then OpenID Connect Core 3.1.3.7: iss, aud, azp, exp, iat, nonce, and at_hash when
// present. Every refusal is `oidc_id_token_invalid` (401); keys that cannot be had are a 503.
import { createHash, timingSafeEqual } from 'node:crypto';
import { GatehouseError } from '../../core/errors.js';
import { checkClaims, type ClaimRules } from '../jwt/claims.js';
import { JwtProblem } from '../jwt/errors.js';
import type { Selection } from '../jwt/keys.js';
import { parseToken } from '../jwt/token.js';
import { verifiedBy } from '../jwt/verify.js';

export interface IdTokenRules {
  readonly issuer: string;
  readonly clientId: string;
  readonly algorithms: ReadonlySet<string>;
  readonly skewMs: number;
}

/** What the token must match besides the rules: the login's nonce, the access token it came with, the session's subject. */
export interface IdTokenExpectations {
  readonly nonce?: string | undefined;
  readonly accessToken?: string | undefined;
  readonly subject?: string | undefined;
}

/** The provider's keys for a token header (a JWKS cache answers at once, or after a fetch under way). */
export type KeySource = (alg: string, kid: string | undefined) => Selection | Promise<Selection>;

const MAX_ID_TOKEN = 16_384;

/** The verified claims, or a GatehouseError. */
export async function verifyIdToken(
  token: string,
  keys: KeySource,
  rules: IdTokenRules,
  now: number,
  expect: IdTokenExpectations,
): Promise<Readonly<Record<string, unknown>>> {
  const parsed = parseToken(token, rules.algorithms, MAX_ID_TOKEN);
  if (parsed instanceof JwtProblem) throw invalid(`${parsed.code}: ${parsed.detail}`);
  const { alg, kid } = parsed.header;
  const selection = await keys(alg, kid);
  switch (selection.kind) {
    case 'keys':
      break;
    case 'unavailable':
      throw new GatehouseError('oidc_provider_unavailable', `ID token keys: ${selection.reason}`);
    case 'kid_unknown':
    case 'no_key':
      throw invalid(`no key of the provider verifies ${alg}${kid === undefined ? '' : ` kid ${kid.slice(0, 64)}`}`);
    default: {
      const never: never = selection;
      throw new Error(`unknown selection ${JSON.stringify(never)}`);
    }
  }
  if (verifiedBy(alg, parsed.signingInput, parsed.signature, selection.keys) === undefined) throw invalid('signature matches no key of the provider');
  const claimRules: ClaimRules = {
    issuer: rules.issuer,
    audiences: new Set([rules.clientId]),
    skewMs: rules.skewMs,
    maxLifetimeMs: undefined,
    requireExp: true,
    required: [],
  };
  const checked = checkClaims(parsed.payload, claimRules, now);
  if (checked instanceof JwtProblem) throw invalid(`${checked.code}: ${checked.detail}`);
  const p = parsed.payload;
  if (checked.iat === undefined) throw invalid('no iat');
  if (typeof p['sub'] !== 'string' || p['sub'] === '') throw invalid('no sub');
  const aud = p['aud'];
  const azp = p['azp'];
  if (azp !== undefined && azp !== rules.clientId) throw invalid('azp names another client');
  if (Array.isArray(aud) && aud.length > 1 && azp === undefined) throw invalid('several audiences and no azp');
  if (expect.nonce !== undefined && !sameText(p['nonce'], expect.nonce)) throw invalid('nonce does not match the login');
  if (expect.nonce === undefined && p['nonce'] !== undefined && typeof p['nonce'] !== 'string') throw invalid('nonce is not a string');
  if (expect.subject !== undefined && p['sub'] !== expect.subject) throw invalid('sub differs from the session\'s');
  const atHash = p['at_hash'];
  if (atHash !== undefined && expect.accessToken !== undefined && !sameText(atHash, halfHash(alg, expect.accessToken))) {
    throw invalid('at_hash does not match the access token');
  }
  return p;
}

/** OpenID Connect Core 3.1.3.6: the left half of the token's hash under the alg's hash, base64url. */
export function halfHash(alg: string, value: string): string {
  const digest = createHash(hashOf(alg)).update(value, 'ascii').digest();
  return digest.subarray(0, digest.length / 2).toString('base64url');
}

function hashOf(alg: string): string {
  if (alg === 'EdDSA' || alg === 'Ed25519' || alg.endsWith('512')) return 'sha512';
  return alg.endsWith('384') ? 'sha384' : 'sha256';
}

function sameText(a: unknown, b: string): boolean {
  if (typeof a !== 'string') return false;
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function invalid(detail: string): GatehouseError {
  return new GatehouseError('oidc_id_token_invalid', `ID token: ${detail}`);
}
