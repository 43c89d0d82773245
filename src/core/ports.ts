// The ports of the core: what the pipeline calls and reads. Methods (authn/, session/), rules (authz/)
// and the policy index (policy/) implement them; the core imports none of those folders.
import type { Deny } from './decision.js';
import type { GatehouseError } from './errors.js';
import type { HeaderPair, Identity, IdentityHeaderNames } from './identity.js';
import type { CheckInput } from './input.js';

export interface RequestContext {
  /** Milliseconds since the epoch, from the injected clock. */
  readonly now: number;
  /** `namespace/name` of the policy being applied. */
  readonly policy: string;
  /** The normalized request path as this policy compares paths (its `pathMatching` applied). */
  readonly path: string;
  /**
   * An explain or a shadow evaluation: answer as for real but change nothing. Hooks, endpoints and
   * methods create no session, renew or end none, refresh no token, record no logout, count nothing.
   */
  readonly dryRun?: boolean;
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

export interface Authenticator {
  /** The method's name in the policy. */
  readonly name: string;
  /** The method block it was compiled from (`apiKey`, `jwt`, `session`, `oidc`...). */
  readonly type: string;
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

/** An authorization rule: every one must pass once a request is authenticated (403 otherwise). */
export interface Rule {
  readonly name: string;
  /** undefined = pass. */
  check(identity: Identity): GatehouseError | undefined;
}

/** What a policy becomes once compiled: frozen matchers and ready-to-run methods. The Check path reads only these. */
export interface SkipRule {
  readonly paths: readonly string[] | undefined;
  readonly methods: ReadonlySet<string> | undefined;
}

export interface DenyTemplate {
  readonly status: number;
  readonly headers: readonly HeaderPair[];
  /** A fixed body, or undefined for the default JSON `{"code","message"}`. */
  readonly body: { readonly contentType: string; readonly text: string } | undefined;
}

export interface CompiledPolicy {
  /** `namespace/name`. */
  readonly id: string;
  readonly namespace: string;
  readonly name: string;
  readonly generation: number;
  readonly hosts: readonly string[];
  readonly paths: readonly string[];
  readonly methods: ReadonlySet<string> | undefined;
  /** What a method outside `methods` gets when this policy's path matched best. */
  readonly otherMethods: 'refuse' | 'fallThrough';
  /** Path matching options (CheckInput.pathVariant bits); `paths` and skip paths are stored in that form. */
  readonly pathOptions: number;
  /** `%2F`/`%5C` in a request path are accepted as data instead of refused. */
  readonly allowEncodedSlashes: boolean;
  readonly skip: readonly SkipRule[];
  readonly endpoints: readonly Endpoint[];
  readonly mode: 'any' | 'all';
  readonly authenticators: readonly Authenticator[];
  readonly anonymous: AnonymousConsumer | undefined;
  readonly rules: readonly Rule[];
  readonly hooks: readonly AllowHook[];
  readonly realm: string;
  readonly identityHeaders: IdentityHeaderNames;
  /** Every header name this policy may set upstream; all are stripped from client requests. */
  readonly headerNames: readonly string[];
  readonly unauthenticated: DenyTemplate;
  readonly unauthorized: DenyTemplate;
  readonly failOpen: boolean;
  /** Set when the policy could not be compiled: it serves only denials (`policy_invalid`). */
  readonly broken: string | undefined;
  /** Number of API keys held (for the gauge). */
  readonly keyCount: number;
  /** `shadow`: evaluated and reported, never refusing a request (see policy/index.ts for routing). */
  readonly enforcement: 'enforce' | 'shadow';
}

export interface AnonymousConsumer {
  readonly id: string;
  readonly username: string | undefined;
  readonly customId: string | undefined;
  readonly groups: readonly string[];
}
