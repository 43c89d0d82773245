// The boundary between transports and the core. A transport turns its protocol request into a
// CheckInput, asks the engine, and maps the Decision back. It never decides anything itself.
import type { Decision, Deny } from './decision.js';
import type { GatehouseError } from './errors.js';
import type { CheckInput } from './input.js';

export interface CheckEngine {
  /** Decides one request. Never throws; may settle asynchronously (sessions, JWKS, IdP). */
  check(input: CheckInput): Decision | Promise<Decision>;
  /** Answer for a Check that carries no HTTP request (Envoy's network ext_authz filter). */
  checkWithoutHttp(): Decision;
  /**
   * Deny for a request the transport could not turn into a CheckInput (malformed, oversized) or
   * could not decide before its deadline.
   */
  reject(error: GatehouseError): Deny;
  /** Called exactly once per answered Check, with the time spent, for metrics and the decision log. */
  observe(decision: Decision, seconds: number, input: CheckInput | undefined): void;
}
