// envoy.service.auth.v3.Authorization/Check: CheckRequest -> CheckInput -> engine -> CheckResponse.
// The answer discipline (one answer, deadline, last resort) is the shared one in answer.ts.
import type * as grpc from '@grpc/grpc-js';
import type { Decision } from '../core/decision.js';
import type { CheckEngine } from '../core/engine-port.js';
import type { CheckInput } from '../core/input.js';
import { Answerer, type TransportLogger } from './answer.js';
import type { CheckRequestFields } from './grpc-decode.js';
import type { CheckResponseMsg } from './grpc-protos.js';
import { toCheckInput } from './grpc-request.js';
import { toCheckResponse } from './grpc-response.js';

export type GrpcLogger = TransportLogger;

type Callback = grpc.sendUnaryData<CheckResponseMsg>;

export class CheckHandler {
  readonly #engine: CheckEngine;
  readonly #maxHeaderBytes: number;
  readonly #answerer: Answerer;

  constructor(engine: CheckEngine, maxHeaderBytes: number, marginMs: number, logger: GrpcLogger | undefined) {
    this.#engine = engine;
    this.#maxHeaderBytes = maxHeaderBytes;
    this.#answerer = new Answerer(engine, marginMs, logger);
  }

  /** The unary handler registered with grpc-js. */
  readonly handle = (call: grpc.ServerUnaryCall<CheckRequestFields, CheckResponseMsg>, callback: Callback): void => {
    const start = performance.now();
    // toCheckResponse runs inside send so that a decision that cannot be encoded becomes the last resort.
    const send = (decision: Decision): void => callback(null, toCheckResponse(decision));
    const request = call.request;
    const a = this.#answerer;
    if (request.failure !== undefined) {
      a.answer(send, a.reject(request.failure), start, undefined);
      return;
    }
    const attributes = request.attributes;
    const http = attributes?.request?.http;
    if (http === undefined) {
      let decision: Decision;
      try {
        decision = this.#engine.checkWithoutHttp();
      } catch (err) {
        decision = a.reject(err);
      }
      a.answer(send, decision, start, undefined);
      return;
    }
    let input: CheckInput;
    try {
      input = toCheckInput(http, attributes?.source, this.#maxHeaderBytes);
    } catch (err) {
      a.answer(send, a.reject(err), start, undefined);
      return;
    }
    a.decide(send, start, input, deadlineOf(call));
  };
}

/** The call deadline in epoch milliseconds; Infinity when the client set none. */
function deadlineOf(call: grpc.ServerUnaryCall<CheckRequestFields, CheckResponseMsg>): number {
  const deadline = call.getDeadline();
  return deadline instanceof Date ? deadline.getTime() : deadline;
}
