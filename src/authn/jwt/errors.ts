// The ways a token is refused, each with a stable code and the short RFC 6750 `error_description`
// the client sees. `detail` (operators only) may say more; it never holds the token.
import { type Challenge, ERRORS, type ErrorCode, GatehouseError, refusalError } from '../../core/errors.js';
import type { AuthnResult } from '../../core/ports.js';

/** The codes of the catalogue a token can be refused with. */
export type JwtDenial = Extract<ErrorCode, `jwt_${string}`>;

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

/** One challenge per code (its text comes from the catalogue), shared by every refusal with that code. */
const challenges = new Map<JwtDenial, Challenge>();

function challengeFor(code: JwtDenial): Challenge {
  let c = challenges.get(code);
  if (c === undefined) {
    c = Object.freeze({ scheme: 'Bearer', params: Object.freeze({ error: 'invalid_token', error_description: ERRORS[code].message }) });
    challenges.set(code, c);
  }
  return c;
}

function jwtError(p: JwtProblem): GatehouseError {
  return refusalError(p.code, p.detail, { challenge: challengeFor(p.code) });
}

export function fail(p: JwtProblem): AuthnResult {
  return { kind: 'failure', error: jwtError(p) };
}

/** The key source cannot answer (JWKS never fetched, IdP down at start): a 503, not a 401. */
export function jwksUnavailable(detail: string): GatehouseError {
  return new GatehouseError('jwks_unavailable', detail);
}

