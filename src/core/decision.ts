// What the core answers. Transports map it to their protocol and know nothing else.
import type { HeaderPair, Identity } from './identity.js';

export interface Allow {
  readonly kind: 'allow';
  /** Stable reason: `authenticated`, `anonymous`, `skipped`, `default_allow`. */
  readonly code: string;
  /** `namespace/name` of the policy that decided, if any. */
  readonly policy: string | undefined;
  readonly method: string | undefined;
  readonly identity: Identity | undefined;
  /** Upstream request headers to set, overwriting any client copy. Names lowercase. */
  readonly setHeaders: readonly HeaderPair[];
  /** Upstream request headers to remove (never one of setHeaders). */
  readonly removeHeaders: readonly string[];
  /** Headers added to the response sent to the client (appended: Set-Cookie). */
  readonly responseHeaders: readonly HeaderPair[];
  /** Query parameters to remove from the upstream request. */
  readonly removeQuery: readonly string[];
}

export interface Deny {
  readonly kind: 'deny';
  /** Stable reason code (`key_unknown`, `no_policy`, ...). */
  readonly code: string;
  readonly policy: string | undefined;
  readonly method: string | undefined;
  /** HTTP status sent to the client (401, 403, 302 for redirects, 200 for a logout page...). */
  readonly status: number;
  /** Response headers to the client. Names lowercase. */
  readonly headers: readonly HeaderPair[];
  readonly body: string;
  /** Operator-facing detail for logs; never sent. */
  readonly detail: string;
}

export type Decision = Allow | Deny;

export const EMPTY_PAIRS: readonly HeaderPair[] = Object.freeze([]);
export const EMPTY_NAMES: readonly string[] = Object.freeze([]);
