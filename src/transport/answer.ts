// What every transport does around the engine, whatever its protocol: one answer per request, never
// an allow by accident. A synchronous decision is answered at once; an asynchronous one is raced
// against the caller's deadline (minus a margin, so the deny still reaches the proxy in time) and
// only it pays for a timer. A failure anywhere becomes the engine's deny, a failing engine a fixed 500.
import type { Decision, Deny } from '../core/decision.js';
import { EMPTY_PAIRS } from '../core/decision.js';
import type { CheckEngine } from '../core/engine-port.js';
import { asGatehouseError, GatehouseError } from '../core/errors.js';
import type { CheckInput } from '../core/input.js';

export interface TransportLogger {
  warn(msg: string, fields?: Record<string, unknown>): void;
}

/** Used only when the engine's own reject() fails: a fixed 500, never an allow. */
const LAST_RESORT: Deny = Object.freeze({
  kind: 'deny',
  code: 'internal_error',
  policy: undefined,
  method: undefined,
  status: 500,
  headers: EMPTY_PAIRS,
  body: 'Internal error',
  detail: 'engine.reject failed',
});

/** Sends one decision in the transport's protocol; throws if it cannot be encoded. */
export type Send = (decision: Decision) => void;

export class Answerer {
  readonly #engine: CheckEngine;
  readonly #marginMs: number;
  readonly #logger: TransportLogger | undefined;

  constructor(engine: CheckEngine, marginMs: number, logger: TransportLogger | undefined) {
    this.#engine = engine;
    this.#marginMs = marginMs;
    this.#logger = logger;
  }

  /**
   * Decides `input` (or answers `failure`, when the request could not become a CheckInput) and sends
   * the answer before `deadline` (epoch ms; Infinity for none).
   */
  decide(send: Send, start: number, input: CheckInput, deadline: number): void {
    let result: Decision | Promise<Decision>;
    try {
      result = this.#engine.check(input);
    } catch (err) {
      this.answer(send, this.reject(err), start, input);
      return;
    }
    if (result instanceof Promise) new Pending(this, send, input, start).wait(result, deadline, this.#marginMs);
    else this.answer(send, result, start, input);
  }

  /** Sends the answer, then reports it; a failing observer never changes the answer. */
  answer(send: Send, decision: Decision, start: number, input: CheckInput | undefined): void {
    try {
      send(decision);
    } catch (err) {
      this.warn('decision could not be encoded', err);
      decision = LAST_RESORT;
      send(LAST_RESORT);
    }
    try {
      this.#engine.observe(decision, (performance.now() - start) / 1000, input);
    } catch (err) {
      this.warn('engine.observe failed', err);
    }
  }

  /** The engine's deny for a failure; a GatehouseError is expected, anything else is a fault. */
  reject(err: unknown): Deny {
    const error = asGatehouseError(err);
    if (error.kind === 'internal') this.warn('check failed', error);
    try {
      return this.#engine.reject(error);
    } catch (rejectErr) {
      this.warn('engine.reject failed', rejectErr);
      return LAST_RESORT;
    }
  }

  warn(msg: string, err: unknown): void {
    if (this.#logger === undefined) return;
    const error = asGatehouseError(err);
    try {
      this.#logger.warn(msg, { code: error.code, error: error.message });
    } catch {
      // A broken logger must not turn into a broken answer.
    }
  }
}

/** One asynchronous decision: the first of decision, failure or deadline answers; the rest are dropped. */
class Pending {
  readonly #answerer: Answerer;
  readonly #send: Send;
  readonly #input: CheckInput;
  readonly #start: number;
  #done = false;
  #timer: NodeJS.Timeout | undefined;

  constructor(answerer: Answerer, send: Send, input: CheckInput, start: number) {
    this.#answerer = answerer;
    this.#send = send;
    this.#input = input;
    this.#start = start;
  }

  wait(result: Promise<Decision>, deadline: number, marginMs: number): void {
    result.then(
      (decision) => this.settle(decision),
      (err: unknown) => this.fail(err),
    );
    if (deadline === Infinity) return;
    const budget = deadline - marginMs - Date.now();
    if (budget <= 0) this.expire();
    else this.#timer = setTimeout(expirePending, budget, this);
  }

  settle(decision: Decision): void {
    if (this.#done) return;
    this.#done = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#answerer.answer(this.#send, decision, this.#start, this.#input);
  }

  fail(err: unknown): void {
    if (this.#done) return;
    this.settle(this.#answerer.reject(err));
  }

  expire(): void {
    if (this.#done) return;
    const waited = Math.round(performance.now() - this.#start);
    this.settle(this.#answerer.reject(new GatehouseError('deadline_exceeded', `no decision ${waited} ms into the call`)));
  }
}

function expirePending(pending: Pending): void {
  pending.expire();
}
