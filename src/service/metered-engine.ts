// The CheckEngine the transports call: the pure pipeline over the current index, plus metrics and the
// decision log. Anything thrown below becomes a deny here.
import type { Decision, Deny } from '../core/decision.js';
import type { CheckEngine } from '../core/engine-port.js';
import { asGatehouseError, GatehouseError } from '../core/errors.js';
import type { CheckInput } from '../core/input.js';
import { Pipeline } from '../core/pipeline.js';
import { denyFor } from '../core/respond.js';
import type { PolicyIndex } from '../policy/index.js';
import type { Logger } from '../telemetry/log.js';
import type { Metrics } from '../telemetry/metrics.js';

export interface EngineOptions {
  readonly index: () => PolicyIndex | undefined;
  readonly clock: () => number;
  readonly metrics: Metrics;
  readonly logger: Logger;
  /** Answer for requests matching no policy and for Checks without an HTTP request. */
  readonly onNoPolicy: 'deny' | 'allow';
}

type Child = { inc(): void };

export class GatehouseEngine implements CheckEngine {
  readonly #o: EngineOptions;
  readonly #pipeline: Pipeline;
  /** prom-client label lookups hash every call; the label sets are few, so keep the children. */
  readonly #counters = new Map<string, Child>();
  readonly #allowTimer;
  readonly #denyTimer;

  constructor(options: EngineOptions) {
    this.#o = options;
    this.#pipeline = new Pipeline({ onNoPolicy: options.onNoPolicy });
    this.#allowTimer = options.metrics.checkDuration.labels('allow');
    this.#denyTimer = options.metrics.checkDuration.labels('deny');
  }

  check(input: CheckInput): Decision | Promise<Decision> {
    try {
      const d = this.#pipeline.decide(this.#o.index(), input, this.#o.clock());
      if (typeof (d as { then?: unknown }).then === 'function') {
        return (d as Promise<Decision>).catch((e: unknown) => this.reject(asGatehouseError(e)));
      }
      return d;
    } catch (e) {
      return this.reject(asGatehouseError(e));
    }
  }

  checkWithoutHttp(): Decision {
    if (this.#o.onNoPolicy === 'allow') {
      return { kind: 'allow', code: 'default_allow', policy: undefined, method: undefined, identity: undefined, setHeaders: [], removeHeaders: [], responseHeaders: [], removeQuery: [] };
    }
    return denyFor(new GatehouseError('no_http_request', 'Check without an HTTP request'), undefined, undefined);
  }

  reject(error: GatehouseError): Deny {
    return denyFor(error, undefined, undefined);
  }

  observe(decision: Decision, seconds: number, input: CheckInput | undefined): void {
    const key = `${decision.policy ?? ''}\0${decision.method ?? ''}\0${decision.kind}\0${decision.code}`;
    let child = this.#counters.get(key);
    if (child === undefined) {
      child = this.#o.metrics.checks.labels(decision.policy ?? '', decision.method ?? '', decision.kind, decision.code);
      this.#counters.set(key, child);
    }
    child.inc();
    (decision.kind === 'allow' ? this.#allowTimer : this.#denyTimer).observe(seconds);
    const log = this.#o.logger;
    if (decision.kind === 'deny' && (decision.status >= 500 || decision.code === 'internal_error')) {
      log.warn('check failed', fields(decision, seconds, input));
    } else if (log.enabled('debug')) {
      log.debug('check', fields(decision, seconds, input));
    }
  }
}

function fields(d: Decision, seconds: number, input: CheckInput | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {
    decision: d.kind,
    code: d.code,
    policy: d.policy,
    method: d.method,
    ms: Math.round(seconds * 1e6) / 1e3,
    host: input?.host,
    path: input?.path,
    verb: input?.method,
    request_id: input?.requestId,
  };
  if (d.kind === 'deny') {
    out.status = d.status;
    out.detail = d.detail;
  } else if (d.identity !== undefined) {
    out.consumer = d.identity.consumerId;
  }
  return out;
}
