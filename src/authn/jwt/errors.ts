// The ways a token is refused, each with a stable code and the short RFC 6750 `error_description`
// the client sees. `detail` (operators only) may say more; it never holds the token.
import { GatehouseError } from '../../core/errors.js';
import type { AuthnResult } from '../../core/ports.js';

export const JWT_DENIALS = {
  jwt_malformed: 'The token is malformed',
  jwt_too_large: 'The token is too large',
  jwt_alg_not_allowed: 'The token algorithm is not allowed',
  jwt_crit_unsupported: 'The token has unsupported critical header parameters',
  jwt_key_unknown: 'The token signing key is unknown',
  jwt_signature_invalid: 'The token signature is invalid',
  jwt_expired: 'The token has expired',
  jwt_not_yet_valid: 'The token is not valid yet',
  jwt_issuer_invalid: 'The token issuer is not accepted',
  jwt_audience_invalid: 'The token audience is not accepted',
  jwt_claim_invalid: 'The token claims are not accepted',
  jwt_too_long_lived: 'The token lifetime is too long',
  jwt_revoked: 'The token has been revoked',
} as const;

export type JwtDenial = keyof typeof JWT_DENIALS;

/** A refusal before it becomes an AuthnResult (claim checks are shared with the cache and minting). */
export class JwtProblem {
  readonly code: JwtDenial;
  readonly detail: string;
  constructor(code: JwtDenial, detail: string) {
    this.code = code;
    this.detail = detail;
  }
}

export function problem(code: JwtDenial, detail: string): JwtProblem {
  return new JwtProblem(code, detail);
}

export function jwtError(p: JwtProblem): GatehouseError {
  const description = JWT_DENIALS[p.code];
  return new GatehouseError(p.code, 'unauthenticated', p.detail, {
    publicMessage: description,
    challenge: { scheme: 'Bearer', params: { error: 'invalid_token', error_description: description } },
  });
}

export function fail(p: JwtProblem): AuthnResult {
  return { kind: 'failure', error: jwtError(p) };
}

/** The key source cannot answer (JWKS never fetched, IdP down at start): a 503, not a 401. */
export function jwksUnavailable(detail: string): GatehouseError {
  return new GatehouseError('jwks_unavailable', 'unavailable', detail, { publicMessage: 'Token keys are unavailable' });
}

