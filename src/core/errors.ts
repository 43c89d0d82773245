// One catalogue of failures: every stable `code` with its kind (which alone decides the status) and
// the message clients see. Metrics, logs and deny bodies use the code; `detail` (the Error message)
// is for operators and never reaches a client. Routing never reads message text.

export type FailureKind =
  | 'unauthenticated' // 401 (or the policy's unauthenticated response)
  | 'forbidden' // 403
  | 'method_not_allowed' // 405: the best-matching policy does not cover the method
  | 'bad_request' // 400: the request itself is malformed
  | 'too_large' // 431: headers beyond the configured limit
  | 'unavailable' // 503: a dependency (Redis, IdP) cannot answer
  | 'internal'; // 500: a fault of ours; details hidden

interface Entry {
  readonly kind: FailureKind;
  /** What the client is told. */
  readonly message: string;
}

const e = (kind: FailureKind, message: string): Entry => ({ kind, message });
const MALFORMED_PATH = e('bad_request', 'Malformed request path');
const BAD_REQUEST = e('bad_request', 'Bad request');
const INVALID_CREDENTIALS = e('unauthenticated', 'Invalid authentication credentials');
const FORBIDDEN = e('forbidden', 'Forbidden');
const SIGN_IN_BROKEN = e('bad_request', 'The sign-in could not be completed; start again');
const SIGN_IN_REFUSED = e('unauthenticated', 'The sign-in could not be verified; start again');
const UNAVAILABLE = e('unavailable', 'Service unavailable');
const INTERNAL = e('internal', 'Internal error');

export const ERRORS = {
  // The request cannot be read.
  host_missing: BAD_REQUEST,
  forward_request_incomplete: e('bad_request', 'The proxy did not say which request to check'),
  request_malformed: BAD_REQUEST,
  header_malformed: BAD_REQUEST,
  header_too_large: e('too_large', 'Request header fields too large'),
  path_not_absolute: MALFORMED_PATH,
  path_bad_escape: MALFORMED_PATH,
  path_control_char: MALFORMED_PATH,
  path_fragment: MALFORMED_PATH,
  path_backslash: MALFORMED_PATH,
  path_dot_parameters: MALFORMED_PATH,
  path_encoded_slash: MALFORMED_PATH,
  // Routing.
  no_policy: FORBIDDEN,
  no_http_request: FORBIDDEN,
  method_not_allowed: e('method_not_allowed', 'Method not allowed'),
  // Authentication.
  credential_missing: e('unauthenticated', 'No credentials found in request'),
  key_unknown: INVALID_CREDENTIALS,
  key_malformed: INVALID_CREDENTIALS,
  jwt_malformed: e('unauthenticated', 'The token is malformed'),
  jwt_too_large: e('unauthenticated', 'The token is too large'),
  jwt_alg_not_allowed: e('unauthenticated', 'The token algorithm is not allowed'),
  jwt_crit_unsupported: e('unauthenticated', 'The token has unsupported critical header parameters'),
  jwt_key_unknown: e('unauthenticated', 'The token signing key is unknown'),
  jwt_signature_invalid: e('unauthenticated', 'The token signature is invalid'),
  jwt_expired: e('unauthenticated', 'The token has expired'),
  jwt_not_yet_valid: e('unauthenticated', 'The token is not valid yet'),
  jwt_issuer_invalid: e('unauthenticated', 'The token issuer is not accepted'),
  jwt_audience_invalid: e('unauthenticated', 'The token audience is not accepted'),
  jwt_claim_invalid: e('unauthenticated', 'The token claims are not accepted'),
  jwt_too_long_lived: e('unauthenticated', 'The token lifetime is too long'),
  jwt_revoked: e('unauthenticated', 'The token has been revoked'),
  // OpenID Connect: a login callback that cannot be completed is the browser's problem (400), one the
  // provider or its answer refuses a 401, a provider that cannot be reached a 503.
  oidc_state_missing: SIGN_IN_BROKEN,
  oidc_flow_missing: SIGN_IN_BROKEN,
  oidc_flow_invalid: SIGN_IN_BROKEN,
  oidc_flow_expired: SIGN_IN_BROKEN,
  oidc_flow_replayed: SIGN_IN_BROKEN,
  oidc_state_mismatch: SIGN_IN_BROKEN,
  oidc_callback_malformed: SIGN_IN_BROKEN,
  oidc_login_refused: e('unauthenticated', 'The identity provider did not sign you in'),
  oidc_code_rejected: SIGN_IN_REFUSED,
  oidc_id_token_invalid: SIGN_IN_REFUSED,
  oidc_userinfo_invalid: SIGN_IN_REFUSED,
  oidc_token_inactive: e('unauthenticated', 'The token is not active'),
  oidc_token_invalid: INVALID_CREDENTIALS,
  // Authorization.
  anonymous_forbidden: FORBIDDEN,
  group_forbidden: FORBIDDEN,
  consumer_forbidden: FORBIDDEN,
  claim_forbidden: FORBIDDEN,
  // Dependencies and state.
  not_ready: UNAVAILABLE,
  policy_invalid: UNAVAILABLE,
  deadline_exceeded: UNAVAILABLE,
  jwks_unavailable: e('unavailable', 'Token keys are unavailable'),
  revocation_unavailable: e('unavailable', 'Token revocation list is unavailable'),
  revocation_full: UNAVAILABLE,
  session_store_unavailable: UNAVAILABLE,
  session_refresh_timeout: UNAVAILABLE,
  oidc_provider_unavailable: e('unavailable', 'The identity provider cannot be reached; try again in a moment'),
  oidc_introspection_busy: e('unavailable', 'The identity provider is busy; try again in a moment'),
  // Faults of ours (500): details only in the log.
  internal_error: INTERNAL,
  identity_header_invalid: INTERNAL,
  session_config_invalid: INTERNAL,
  session_store_invalid_put: INTERNAL,
  session_cookie_value_invalid: INTERNAL,
  session_audience_mismatch: INTERNAL,
  session_too_large: INTERNAL,
  // Process life (never a Check answer).
  listen_failed: INTERNAL,
  startup_aborted: UNAVAILABLE,
} as const satisfies Readonly<Record<string, Entry>>;

export type ErrorCode = keyof typeof ERRORS;

export interface Challenge {
  /** RFC 7235 auth-scheme, e.g. `Bearer`, `Key`. */
  readonly scheme: string;
  /** Extra auth-params after realm, e.g. RFC 6750 `error`. Values are quoted on output. */
  readonly params?: Readonly<Record<string, string>>;
}

export interface FailureOptions {
  readonly challenge?: Challenge;
  readonly cause?: unknown;
}

export class GatehouseError extends Error {
  readonly code: ErrorCode;
  readonly kind: FailureKind;
  readonly publicMessage: string;
  readonly challenge: Challenge | undefined;

  constructor(code: ErrorCode, detail: string, options: FailureOptions = {}) {
    super(detail, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'GatehouseError';
    this.code = code;
    const entry: Entry = ERRORS[code];
    this.kind = entry.kind;
    this.publicMessage = entry.message;
    this.challenge = options.challenge;
  }
}

/**
 * A refusal made for one request (a bad token, say): an expected answer, not a fault, so it carries
 * no stack trace. Capturing one is most of what an Error costs, and a flood of junk credentials
 * would pay it on every Check.
 */
export function refusalError(code: ErrorCode, detail: string, options: FailureOptions = {}): GatehouseError {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return new GatehouseError(code, detail, options);
  } finally {
    Error.stackTraceLimit = limit;
  }
}

export const STATUS_FOR_KIND: Readonly<Record<FailureKind, number>> = {
  unauthenticated: 401,
  forbidden: 403,
  method_not_allowed: 405,
  bad_request: 400,
  too_large: 431,
  unavailable: 503,
  internal: 500,
};

/** Wraps anything thrown into an internal failure without leaking its text to clients. */
export function asGatehouseError(err: unknown): GatehouseError {
  if (err instanceof GatehouseError) return err;
  const detail = err instanceof Error ? err.message : String(err);
  return new GatehouseError('internal_error', detail, { cause: err });
}
