// The CheckEngine the transports call: the pure pipeline over the current index, plus metrics and the
// decision log. Anything thrown below becomes a deny here. Shadow policies beside the one that decided
// are evaluated after the answer (a dry run, bounded in number under way) and counted; one that decided
// alone is reported by the pipeline.
import { isPromise } from '../core/authenticate.js';
import type { Decision, Deny } from '../core/decision.js';
import type { CheckEngine } from '../core/engine-port.js';
import { asGatehouseError, GatehouseError } from '../core/errors.js';
import type { CheckInput } from '../core/input.js';
import { Pipeline } from '../core/pipeline.js';
import type { CompiledPolicy } from '../core/ports.js';
import { Redactor } from '../core/redact.js';
import { denyFor } from '../core/respond.js';
import type { Probe } from '../core/trace.js';
import { compactPhases, TraceRecorder } from '../core/trace-recorder.js';
import type { PolicyIndex } from '../policy/index.js';
import type { Logger } from '../telemetry/log.js';
import { LogLimiter } from '../telemetry/log-limiter.js';
import type { Metrics } from '../telemetry/metrics.js';

export interface EngineOptions {
  readonly index: () => PolicyIndex | undefined;
  readonly clock: () => number;
  readonly metrics: Metrics;
  readonly logger: Logger;
  /** Answer for requests matching no policy and for Checks without an HTTP request. */
  readonly onNoPolicy: 'deny' | 'allow';
  /** Shadow evaluations under way at once, at most; beyond, one is skipped and counted as such. */
  readonly maxShadowEvaluations?: number;
  /** Thins the 'check failed' warnings, per policy, method and code (default: one per 10 s each). */
  readonly warnings?: LogLimiter;
}

type Child = { inc(): void };

const DRY_RUN: Probe = Object.freeze({ dryRun: true, trace: undefined });
const MAX_SHADOW_EVALUATIONS = 256;
/** A disagreement is logged at info at most this often per shadow policy; the others at debug. */
const SHADOW_INFO_EVERY_MS = 1000;

export class GatehouseEngine implements CheckEngine {
  readonly #o: EngineOptions;
  readonly #pipeline: Pipeline;
  /**
   * prom-client label lookups hash every call; the label sets are few, so keep the children, by
   * policy, method, decision and code: the strings come from compiled policies, and a Map probe with
   * a string already hashed costs less than building and hashing a joined key on every Check.
   */
  readonly #counters = new Map<string, Map<string, Map<string, Map<string, Child>>>>();
  readonly #shadowCounters = new Map<string, Child>();
  readonly #allowTimer;
  readonly #denyTimer;
  /** At debug level every Check is traced for the decision log (not a dry run: the real decision). */
  readonly #debug: boolean;
  readonly #traces = new WeakMap<CheckInput, TraceRecorder>();
  readonly #maxShadows: number;
  #shadowsUnderWay = 0;
  readonly #shadowLogged = new Map<string, number>();
  readonly #warnings: LogLimiter;

  constructor(options: EngineOptions) {
    this.#o = options;
    this.#pipeline = new Pipeline({
      onNoPolicy: options.onNoPolicy,
      onShadow: (policy, wouldBe, answer, input) => this.#shadowDecided(policy.id, wouldBe, answer, input),
    });
    this.#allowTimer = options.metrics.checkDuration.labels('allow');
    this.#denyTimer = options.metrics.checkDuration.labels('deny');
    this.#debug = options.logger.enabled('debug');
    this.#maxShadows = options.maxShadowEvaluations ?? MAX_SHADOW_EVALUATIONS;
    this.#warnings = options.warnings ?? new LogLimiter();
  }

  check(input: CheckInput): Decision | Promise<Decision> {
    try {
      const index = this.#o.index();
      const now = this.#o.clock();
      const d = this.#pipeline.decide(index, input, now, this.#debug ? this.#traced(input) : undefined);
      const beside = index !== undefined && index.shadowCount > 0;
      if (isPromise(d)) {
        const settled = d.catch((e: unknown) => this.reject(asGatehouseError(e)));
        return beside ? settled.then((live) => this.#beside(index, input, now, live)) : settled;
      }
      return beside ? this.#beside(index, input, now, d) : d;
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
    this.#counterOf(decision).inc();
    (decision.kind === 'allow' ? this.#allowTimer : this.#denyTimer).observe(seconds);
    const log = this.#o.logger;
    if (decision.kind === 'deny' && (decision.status >= 500 || decision.code === 'internal_error')) {
      // A client can cause these once per request: the first per window in full, the rest counted.
      const suppressed = this.#warnings.admit(`check failed\0${decision.policy ?? ''}\0${decision.method ?? ''}\0${decision.kind}\0${decision.code}`, () => ({
        msg: 'check failed',
        fields: { decision: decision.kind, code: decision.code, policy: decision.policy, method: decision.method, status: decision.status },
      }));
      if (suppressed === undefined) return;
      const fields = this.#fields(decision, seconds, input);
      if (suppressed > 0) fields.suppressed = suppressed;
      log.warn('check failed', fields);
    } else if (log.enabled('debug')) {
      log.debug('check', this.#fields(decision, seconds, input));
    }
  }

  #counterOf(d: Decision): Child {
    const policy = d.policy ?? '';
    const method = d.method ?? '';
    let byMethod = this.#counters.get(policy);
    if (byMethod === undefined) this.#counters.set(policy, (byMethod = new Map()));
    let byKind = byMethod.get(method);
    if (byKind === undefined) byMethod.set(method, (byKind = new Map()));
    let byCode = byKind.get(d.kind);
    if (byCode === undefined) byKind.set(d.kind, (byCode = new Map()));
    let child = byCode.get(d.code);
    if (child === undefined) byCode.set(d.code, (child = this.#o.metrics.checks.labels(policy, method, d.kind, d.code)));
    return child;
  }

  #traced(input: CheckInput): Probe {
    const trace = new TraceRecorder();
    this.#traces.set(input, trace);
    return { dryRun: false, trace };
  }

  #fields(d: Decision, seconds: number, input: CheckInput | undefined): Record<string, unknown> {
    const out = fields(d, input);
    out.ms = Math.round(seconds * 1e6) / 1e3;
    const trace = input === undefined ? undefined : this.#traces.get(input);
    // The phase codes in one line: a refused request in the log is understood without rerunning it.
    if (trace !== undefined) out.phases = compactPhases(trace.result(d, NO_LOCATIONS));
    return out;
  }

  /** Schedules the shadow policies selecting `input` (other than one that decided alone); answers `live` at once. */
  #beside(index: PolicyIndex, input: CheckInput, now: number, live: Decision): Decision {
    const shadows = index.shadows(input);
    if (shadows === undefined) return live;
    for (const policy of shadows) {
      if (policy.id === live.policy) continue;
      if (this.#shadowsUnderWay >= this.#maxShadows) {
        this.#countShadow(policy.id, 'skipped', 'overloaded');
        continue;
      }
      this.#shadowsUnderWay++;
      // After the answer has gone: a shadow policy never holds a request up.
      setImmediate(() => void this.#evaluate(policy, index, input, now, live).finally(() => this.#shadowsUnderWay--));
    }
    return live;
  }

  async #evaluate(policy: CompiledPolicy, index: PolicyIndex, input: CheckInput, now: number, live: Decision): Promise<void> {
    let wouldBe: Decision;
    try {
      wouldBe = await this.#pipeline.evaluate(policy, index, input, now, DRY_RUN);
    } catch (e) {
      wouldBe = denyFor(asGatehouseError(e), policy, undefined);
    }
    this.#shadowDecided(policy.id, wouldBe, live, input);
  }

  /** Counts and logs a shadow policy's would-be decision against what was answered. */
  #shadowDecided(policy: string, wouldBe: Decision, answered: Decision, input: CheckInput): void {
    const outcome = wouldBe.kind === answered.kind ? wouldBe.kind : wouldBe.kind === 'deny' ? 'would_deny' : 'would_allow';
    this.#countShadow(policy, outcome, wouldBe.code);
    const log = this.#o.logger;
    const disagrees = outcome === 'would_deny' || outcome === 'would_allow';
    const now = Date.now();
    const last = this.#shadowLogged.get(policy);
    if (disagrees && (last === undefined || now - last >= SHADOW_INFO_EVERY_MS)) {
      this.#shadowLogged.set(policy, now);
      log.info('shadow decision differs', shadowFields(policy, outcome, wouldBe, answered, input));
    } else if (log.enabled('debug')) {
      log.debug('shadow decision', shadowFields(policy, outcome, wouldBe, answered, input));
    }
  }

  #countShadow(policy: string, outcome: string, code: string): void {
    const key = `${policy}\0${outcome}\0${code}`;
    let child = this.#shadowCounters.get(key);
    if (child === undefined) {
      child = this.#o.metrics.shadowDecisions.labels(policy, outcome, code);
      this.#shadowCounters.set(key, child);
    }
    child.inc();
  }
}

const NO_LOCATIONS = new Redactor();

function fields(d: Decision, input: CheckInput | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {
    decision: d.kind,
    code: d.code,
    policy: d.policy,
    method: d.method,
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

function shadowFields(policy: string, outcome: string, wouldBe: Decision, answered: Decision, input: CheckInput): Record<string, unknown> {
  return { ...fields(wouldBe, input), policy, outcome, answered: answered.kind, answered_code: answered.code, answered_by: answered.policy };
}
