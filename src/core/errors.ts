// Typed failures with a stable `code`. Routing (status, challenge) uses `kind`, never message text;
// metrics and logs use `code`. `detail` is for operators (logs) and never reaches the client.

export type FailureKind =
  | 'unauthenticated' // 401 (or the policy's unauthenticated response)
  | 'forbidden' // 403
  | 'method_not_allowed' // 405: the best-matching policy does not cover the method
  | 'bad_request' // 400: the request itself is malformed
  | 'too_large' // 431: headers beyond the configured limit
  | 'unavailable' // 503: a dependency (Redis, IdP) cannot answer
  | 'internal'; // 500: a fault of ours; details hidden

export interface Challenge {
  /** RFC 7235 auth-scheme, e.g. `Bearer`, `Key`. */
  readonly scheme: string;
  /** Extra auth-params after realm, e.g. RFC 6750 `error`. Values are quoted on output. */
  readonly params?: Readonly<Record<string, string>>;
}

export interface FailureOptions {
  /** What the client is told; defaults to a generic message for the kind. */
  readonly publicMessage?: string;
  readonly challenge?: Challenge;
  readonly cause?: unknown;
}

export class GatehouseError extends Error {
  readonly code: string;
  readonly kind: FailureKind;
  readonly publicMessage: string;
  readonly challenge: Challenge | undefined;

  constructor(code: string, kind: FailureKind, detail: string, options: FailureOptions = {}) {
    super(detail, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'GatehouseError';
    this.code = code;
    this.kind = kind;
    this.publicMessage = options.publicMessage ?? PUBLIC_MESSAGES[kind];
    this.challenge = options.challenge;
  }
}

const PUBLIC_MESSAGES: Readonly<Record<FailureKind, string>> = {
  unauthenticated: 'Unauthorized',
  forbidden: 'Forbidden',
  method_not_allowed: 'Method not allowed',
  bad_request: 'Bad request',
  too_large: 'Request header fields too large',
  unavailable: 'Service unavailable',
  internal: 'Internal error',
};

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
  return new GatehouseError('internal_error', 'internal', detail, { cause: err });
}
