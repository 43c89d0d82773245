// grpc.health.v1.Health for Kubernetes gRPC probes and Envoy's gRPC health checks. The server as a
// whole ('') and the Authorization service share one status.
import * as grpc from '@grpc/grpc-js';
import type { HealthCheckRequestMsg, HealthCheckResponseMsg, HealthListResponseMsg } from './grpc-protos.js';
import { AUTHORIZATION_SERVICE } from './grpc-services.js';

export const ServingStatus = {
  UNKNOWN: 0,
  SERVING: 1,
  NOT_SERVING: 2,
  SERVICE_UNKNOWN: 3,
} as const;

const KNOWN_SERVICES: ReadonlySet<string> = new Set(['', AUTHORIZATION_SERVICE]);
const SERVING_MSG: HealthCheckResponseMsg = Object.freeze({ status: ServingStatus.SERVING });
const NOT_SERVING_MSG: HealthCheckResponseMsg = Object.freeze({ status: ServingStatus.NOT_SERVING });
const UNKNOWN_MSG: HealthCheckResponseMsg = Object.freeze({ status: ServingStatus.SERVICE_UNKNOWN });

type WatchCall = grpc.ServerWritableStream<HealthCheckRequestMsg, HealthCheckResponseMsg>;

export class HealthService {
  #serving = false;
  #closed = false;
  /** Open Watch streams, each with whether it watches a known service. */
  readonly #watchers = new Map<WatchCall, boolean>();

  /** Changes the status; Watch streams hear of it only when it actually changes. */
  setServing(serving: boolean): void {
    if (this.#closed || serving === this.#serving) return;
    this.#serving = serving;
    const msg = this.#current();
    for (const [call, known] of this.#watchers) if (known) call.write(msg);
  }

  /** NOT_SERVING for good, and ends every Watch so a graceful shutdown is not held open by them. */
  close(): void {
    this.setServing(false);
    this.#closed = true;
    for (const call of this.#watchers.keys()) call.end();
    this.#watchers.clear();
  }

  readonly implementation: grpc.UntypedServiceImplementation = {
    Check: (
      call: grpc.ServerUnaryCall<HealthCheckRequestMsg, HealthCheckResponseMsg>,
      callback: grpc.sendUnaryData<HealthCheckResponseMsg>,
    ): void => {
      const service = call.request.service ?? '';
      if (!KNOWN_SERVICES.has(service)) {
        callback({ code: grpc.status.NOT_FOUND, details: 'unknown service' });
        return;
      }
      callback(null, this.#current());
    },
    List: (
      _call: grpc.ServerUnaryCall<unknown, HealthListResponseMsg>,
      callback: grpc.sendUnaryData<HealthListResponseMsg>,
    ): void => {
      const msg = this.#current();
      const statuses: Record<string, HealthCheckResponseMsg> = {};
      for (const name of KNOWN_SERVICES) statuses[name] = msg;
      callback(null, { statuses });
    },
    Watch: (call: WatchCall): void => {
      // The set of services never changes, so a stream for another one only ever says SERVICE_UNKNOWN.
      const known = KNOWN_SERVICES.has(call.request.service ?? '');
      call.write(known ? this.#current() : UNKNOWN_MSG);
      if (this.#closed) {
        call.end();
        return;
      }
      this.#watchers.set(call, known);
      call.on('cancelled', () => this.#watchers.delete(call));
    },
  };

  #current(): HealthCheckResponseMsg {
    return this.#serving ? SERVING_MSG : NOT_SERVING_MSG;
  }
}
