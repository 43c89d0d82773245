// The baseline: the same gRPC transport with an engine that allows without looking at the request,
// so gatehouse's throughput divided by this one's is the share left after gatehouse's own work.
import type { Allow, Decision, Deny } from '../src/core/decision.js';
import { EMPTY_NAMES, EMPTY_PAIRS } from '../src/core/decision.js';
import type { CheckEngine } from '../src/core/engine-port.js';
import type { CheckInput } from '../src/core/input.js';
import { type GatehouseError, STATUS_FOR_KIND } from '../src/core/errors.js';

const ALLOW: Allow = Object.freeze({
  kind: 'allow',
  code: 'noop',
  policy: undefined,
  method: undefined,
  identity: undefined,
  setHeaders: EMPTY_PAIRS,
  removeHeaders: EMPTY_NAMES,
  responseHeaders: EMPTY_PAIRS,
  removeQuery: EMPTY_NAMES,
});

export class NoopEngine implements CheckEngine {
  /** Checks allowed, and refused by the transport by code: the bench's tally of every answer. */
  answered = 0;
  readonly refused = new Map<string, number>();

  check(_input: CheckInput): Decision {
    this.answered++;
    return ALLOW;
  }

  checkWithoutHttp(): Decision {
    this.answered++;
    return ALLOW;
  }

  /** Malformed requests still get a deny: the baseline must never allow what the transport refused. */
  reject(error: GatehouseError): Deny {
    this.refused.set(error.code, (this.refused.get(error.code) ?? 0) + 1);
    return {
      kind: 'deny',
      code: error.code,
      policy: undefined,
      method: undefined,
      status: STATUS_FOR_KIND[error.kind],
      headers: EMPTY_PAIRS,
      body: '',
      detail: error.message,
    };
  }

  observe(): void {
    // Nothing recorded: the baseline has no metrics to keep.
  }
}
