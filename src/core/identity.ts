// Who a request is, once a method has authenticated it. Kong's consumer model: an id, a username, a
// custom id, groups, and the credential that proved it.

export interface HeaderPair {
  readonly name: string;
  readonly value: string;
}

export interface Identity {
  /** Name of the policy method that produced it (the `name` in spec.authentication.methods). */
  readonly method: string;
  readonly consumerId: string;
  readonly username: string | undefined;
  readonly customId: string | undefined;
  /** Identifier of the credential (not the credential itself). */
  readonly credential: string | undefined;
  readonly groups: readonly string[];
  readonly anonymous: boolean;
  /** Verified claims (JWT, OIDC) for authorization rules; empty for API keys. */
  readonly claims: Readonly<Record<string, unknown>>;
  /** Extra upstream headers this method sets (claims to headers, userinfo). Names lowercase. */
  readonly headers: readonly HeaderPair[];
  /**
   * Made for one Check only (a token verified while the token cache is off): nothing derived from it
   * is kept. Without it an identity is shared (one per key, per cached token, per session) and its
   * upstream header lists are built once and reused.
   */
  readonly transient?: true;
}

export const NO_CLAIMS: Readonly<Record<string, unknown>> = Object.freeze({});
export const NO_HEADERS: readonly HeaderPair[] = Object.freeze([]);

/** The identity header names one policy uses (lowercase). */
export interface IdentityHeaderNames {
  readonly consumerId: string;
  readonly username: string;
  readonly customId: string;
  readonly credential: string;
  readonly groups: string;
  readonly anonymous: string;
}

/** Identity header names when a policy renames none (Kong's). */
export const DEFAULT_IDENTITY_HEADER_NAMES: IdentityHeaderNames = Object.freeze({
  consumerId: 'x-consumer-id',
  username: 'x-consumer-username',
  customId: 'x-consumer-custom-id',
  credential: 'x-credential-identifier',
  groups: 'x-authenticated-groups',
  anonymous: 'x-anonymous-consumer',
});

export const DEFAULT_IDENTITY_HEADERS: readonly string[] = Object.freeze(Object.values(DEFAULT_IDENTITY_HEADER_NAMES));
