// The one interface every authentication method implements (API key, JWT, session, OIDC).
// A method that finds no credential of its kind answers `none` ("not mine"), never a failure.
import type { Deny } from '../core/decision.js';
import type { GatehouseError } from '../core/errors.js';
import type { HeaderPair, Identity } from '../core/identity.js';
import type { CheckInput } from '../core/input.js';

export interface RequestContext {
  /** Milliseconds since the epoch, from the injected clock. */
  readonly now: number;
  /** `namespace/name` of the policy being applied. */
  readonly policy: string;
}

export interface Success {
  readonly kind: 'success';
  readonly identity: Identity;
  /** Upstream headers to strip because they carry the credential (hideCredentials). */
  readonly removeHeaders?: readonly string[];
  /** Query parameters to strip because they carry the credential. */
  readonly removeQuery?: readonly string[];
  /** Upstream headers to overwrite (a Cookie header rewritten without the credential cookie). */
  readonly setHeaders?: readonly HeaderPair[];
  /** Response headers for the client (a renewed session cookie). */
  readonly responseHeaders?: readonly HeaderPair[];
}

export type AuthnResult =
  | { readonly kind: 'none' }
  | Success
  | { readonly kind: 'failure'; readonly error: GatehouseError }
  /** The method answers the client itself (a redirect to the IdP, a callback page). */
  | { readonly kind: 'respond'; readonly decision: Deny };

export const NONE: AuthnResult = Object.freeze({ kind: 'none' });

export type MethodType = 'apiKey' | 'jwt' | 'session' | 'oidc';

export interface Authenticator {
  /** The method's name in the policy. */
  readonly name: string;
  readonly type: MethodType;
  /** RFC 7235 scheme offered in `WWW-Authenticate` when no credential was presented (`Key`, `Bearer`). */
  readonly challenge: string | undefined;
  /** Identity header names this method may set besides the standard ones (claims to headers...). */
  readonly headerNames: readonly string[];
  authenticate(input: CheckInput, ctx: RequestContext): AuthnResult | Promise<AuthnResult>;
  /**
   * Optional answer when no method found a credential and there is no anonymous consumer: an OIDC
   * login redirect, for example. The first method that returns one decides.
   */
  unauthenticated?(input: CheckInput, ctx: RequestContext): Deny | Promise<Deny> | undefined;
}

/**
 * Requests a policy answers before authentication (logout, OIDC callback). `undefined` = not mine.
 */
export interface Endpoint {
  readonly name: string;
  handle(input: CheckInput, ctx: RequestContext): Deny | Promise<Deny> | undefined;
}

/** Runs after an allow with an authenticated identity (creating a session, for example). */
export interface AllowHook {
  readonly name: string;
  onAllow(
    input: CheckInput,
    identity: Identity,
    ctx: RequestContext,
  ): readonly HeaderPair[] | Promise<readonly HeaderPair[]>;
}
