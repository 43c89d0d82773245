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
  /** The normalized request path as this policy compares paths (its `pathMatching` applied). */
  readonly path: string;
}

export interface Success {
  readonly kind: 'success';
  readonly identity: Identity;
  /** Upstream headers to strip because they carry the credential (hideCredentials). */
  readonly removeHeaders?: readonly string[];
  /** Query parameters to strip because they carry the credential. */
  readonly removeQuery?: readonly string[];
  /** Cookies to drop from the upstream `Cookie` header (a credential cookie, the session cookie). */
  readonly removeCookies?: readonly string[];
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
   * Where the request carries this method's credential, as a location key (`header:authorization`),
   * or undefined when it carries none. Cheap and synchronous: the pipeline asks it whether anything
   * was presented at all (the anonymous consumer is only for requests with no credential) and whether
   * a presented credential is still unchecked after another method succeeded. A method whose
   * credential may linger harmlessly (a browser's stale session cookie) answers undefined.
   */
  presented(input: CheckInput): string | undefined;
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
