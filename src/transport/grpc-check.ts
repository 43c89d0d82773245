// envoy.service.auth.v3.Authorization/Check: request -> engine -> response, with the deadline
// guard. Every path ends in exactly one answer and one engine.observe(); none of them allows.
import type * as grpc from '@grpc/grpc-js';
import type { Decision, Deny } from '../core/decision.js';
import { EMPTY_PAIRS } from '../core/decision.js';
import type { CheckEngine } from '../core/engine.js';
import { GatehouseError, asGatehouseError } from '../core/errors.js';
import type { CheckInput } from '../core/input.js';
import type { CheckRequestMsg, CheckResponseMsg } from './grpc-protos.js';
import { toCheckInput } from './grpc-request.js';
import { toCheckResponse } from './grpc-response.js';

export interface GrpcLogger {
  warn(msg: string, fields?: Record<string, unknown>): void;
}

type Callback = grpc.sendUnaryData<CheckResponseMsg>;

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

export class CheckHandler {
  readonly #engine: CheckEngine;
  readonly #maxHeaderBytes: number;
  readonly #marginMs: number;
  readonly #logger: GrpcLogger | undefined;

  constructor(engine: CheckEngine, maxHeaderBytes: number, marginMs: number, logger: GrpcLogger | undefined) {
    this.#engine = engine;
    this.#maxHeaderBytes = maxHeaderBytes;
    this.#marginMs = marginMs;
    this.#logger = logger;
  }

  /** The unary handler registered with grpc-js. */
  readonly handle = (call: grpc.ServerUnaryCall<CheckRequestMsg, CheckResponseMsg>, callback: Callback): void => {
    const start = performance.now();
    const attributes = call.request.attributes;
    const http = attributes?.request?.http;
    if (http === undefined) {
      let decision: Decision;
      try {
        decision = this.#engine.checkWithoutHttp();
      } catch (err) {
        decision = this.reject(err);
      }
      this.answer(callback, decision, start, undefined);
      return;
    }

    let input: CheckInput;
    try {
      input = toCheckInput(http, attributes?.source, this.#maxHeaderBytes);
    } catch (err) {
      this.answer(callback, this.reject(err), start, undefined);
      return;
    }

    let result: Decision | Promise<Decision>;
    try {
      result = this.#engine.check(input);
    } catch (err) {
      this.answer(callback, this.reject(err), start, input);
      return;
    }
    if (result instanceof Promise) {
      // Only asynchronous decisions pay for a timer and a pending record.
      new PendingCheck(this, callback, input, start).wait(result, deadlineOf(call), this.#marginMs);
    } else {
      this.answer(callback, result, start, input);
    }
  };

  /** Sends the response, then reports it; a failing observer never changes the answer. */
  answer(callback: Callback, decision: Decision, start: number, input: CheckInput | undefined): void {
    let response: CheckResponseMsg;
    try {
      response = toCheckResponse(decision);
    } catch (err) {
      this.#warn('decision could not be encoded', err);
      decision = LAST_RESORT;
      response = toCheckResponse(LAST_RESORT);
    }
    callback(null, response);
    try {
      this.#engine.observe(decision, (performance.now() - start) / 1000, input);
    } catch (err) {
      this.#warn('engine.observe failed', err);
    }
  }

  /** The engine's deny for a failure; a GatehouseError is expected, anything else is a fault. */
  reject(err: unknown): Deny {
    const error = asGatehouseError(err);
    if (error.kind === 'internal') this.#warn('check failed', error);
    try {
      return this.#engine.reject(error);
    } catch (rejectErr) {
      this.#warn('engine.reject failed', rejectErr);
      return LAST_RESORT;
    }
  }

  #warn(msg: string, err: unknown): void {
    if (this.#logger === undefined) return;
    const error = asGatehouseError(err);
    try {
      this.#logger.warn(msg, { code: error.code, error: error.message });
    } catch {
      // A broken logger must not turn into a broken answer.
    }
  }
}

/** One asynchronous Check: the first of decision, failure or deadline answers; the rest are dropped. */
class PendingCheck {
  readonly #handler: CheckHandler;
  readonly #callback: Callback;
  readonly #input: CheckInput;
  readonly #start: number;
  #done = false;
  #timer: NodeJS.Timeout | undefined;

  constructor(handler: CheckHandler, callback: Callback, input: CheckInput, start: number) {
    this.#handler = handler;
    this.#callback = callback;
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
    this.#handler.answer(this.#callback, decision, this.#start, this.#input);
  }

  fail(err: unknown): void {
    if (this.#done) return;
    this.settle(this.#handler.reject(err));
  }

  expire(): void {
    if (this.#done) return;
    const waited = Math.round(performance.now() - this.#start);
    const error = new GatehouseError('deadline_exceeded', 'unavailable', `no decision ${waited} ms into the call`);
    this.settle(this.#handler.reject(error));
  }
}

function expirePending(pending: PendingCheck): void {
  pending.expire();
}

/** The call deadline in epoch milliseconds; Infinity when the client set none. */
function deadlineOf(call: grpc.ServerUnaryCall<CheckRequestMsg, CheckResponseMsg>): number {
  const deadline = call.getDeadline();
  return deadline instanceof Date ? deadline.getTime() : deadline;
}
