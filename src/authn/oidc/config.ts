// What an `oidc` method block compiles to, shared by its authenticator, endpoints and session companion.
import { GatehouseError } from '../../core/errors.js';
import type { Identity } from '../../core/identity.js';
import { identityFrom, type IdentityMapping } from '../jwt/claims.js';
import { JwtProblem } from '../jwt/errors.js';
import type { PolicySession } from '../../session/handle.js';
import type { Logger } from '../../telemetry/log.js';
import type { CallGate } from './call-gate.js';
import type { FlowCookies } from './flow.js';
import type { IdTokenRules } from './id-token.js';
import type { OidcProvider } from './provider.js';
import type { OidcServices } from './services.js';

export interface UpstreamHeaderNames {
  /** Undefined: not sent (still removed from client requests). */
  readonly userinfo: string | undefined;
  readonly accessToken: string | undefined;
  readonly idToken: string | undefined;
  readonly idTokenForm: 'raw' | 'claims';
  /** All three names, sent or not: a forged copy of any is removed. */
  readonly all: readonly string[];
}

export interface OidcConfig {
  /** The method's name in the policy. */
  readonly name: string;
  readonly policyId: string;
  readonly provider: OidcProvider;
  readonly services: OidcServices;
  readonly logger: Logger;
  readonly redirectUri: string;
  /** Host and path (in the policy's path form) of `redirectUri`: the callback. */
  readonly callbackHost: string;
  readonly callbackPath: string;
  /** Authorization request parameters besides state, nonce, PKCE and redirect_uri. */
  readonly authParams: Readonly<Record<string, string>>;
  /** Host patterns whose browsers this method signs in; undefined: every host of the policy. */
  readonly hosts: readonly string[] | undefined;
  readonly unauthenticated: 'redirect' | 'deny' | 'pass';
  readonly loginPath: string | undefined;
  readonly bearerOnly: boolean;
  readonly idToken: IdTokenRules;
  readonly userinfo: boolean;
  readonly leewayMs: number;
  readonly logout: { readonly path: string; readonly redirectAfter: string | undefined; readonly revoke: boolean } | undefined;
  readonly mapping: IdentityMapping;
  readonly headers: UpstreamHeaderNames;
  /** `gate` bounds the introspections under way at the provider (shared with every method naming it alike). */
  readonly introspection: { readonly enabled: boolean; readonly maxMs: number; readonly inactiveMs: number; readonly gate: CallGate };
  /** The policy's session; undefined with `bearerOnly` (no login). */
  readonly session: PolicySession | undefined;
  readonly flows: FlowCookies | undefined;
}

/** Whether `host` (lowercase, no port) is one of `patterns` (exact, `*.suffix` or `*`). */
export function hostMatches(host: string, patterns: readonly string[]): boolean {
  for (const p of patterns) {
    if (p === '*' || p === host) return true;
    if (p.startsWith('*.') && host.endsWith(p.slice(1))) return true;
  }
  return false;
}

/** Claims that say how a token was issued, not who the user is: not kept in a session. */
export const PROTOCOL_CLAIMS: ReadonlySet<string> = new Set(['aud', 'exp', 'iat', 'nbf', 'nonce', 'at_hash', 'c_hash', 's_hash', 'azp', 'jti']);

/** Who the user is: the ID token's claims without protocol claims, then the userinfo answer over them. */
export function userClaims(idClaims: Readonly<Record<string, unknown>>, userinfo: Readonly<Record<string, unknown>> | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(idClaims)) if (!PROTOCOL_CLAIMS.has(k)) out[k] = v;
  if (userinfo !== undefined) for (const [k, v] of Object.entries(userinfo)) if (k !== 'sub') out[k] = v;
  return out;
}

/** The consumer a login (or a refresh) signs in: mapped from its user claims as `consumer` says. */
export function loginIdentity(c: OidcConfig, claims: Readonly<Record<string, unknown>>): Identity | GatehouseError {
  const identity = identityFrom(claims, '', c.mapping);
  return identity instanceof JwtProblem ? new GatehouseError('oidc_id_token_invalid', `consumer: ${identity.detail}`) : identity;
}

/** kong-oidc's form of `X-Userinfo` (and of `X-ID-Token` as claims): base64 of the JSON. */
export function base64Json(v: unknown): string {
  return Buffer.from(JSON.stringify(v), 'utf8').toString('base64');
}
