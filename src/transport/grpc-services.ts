// The two gRPC services gatehouse serves, defined here instead of by loading proto/ through
// @grpc/proto-loader: every message they read or write has a direct codec (CheckRequest in
// grpc-decode.ts, CheckResponse in grpc-encode.ts, the health messages below), so the server never
// needs protobufjs. Loading it and Envoy's protos cost ~6 MB of resident memory that an idle sidecar
// kept. Paths and field numbers follow envoy/service/auth/v3/external_auth.proto and
// grpc/health/v1/health.proto; test/grpc.test.ts and test/grpc-wire.test.ts call both services with
// clients built from those protos.
import type * as grpc from '@grpc/grpc-js';
import { CheckRequestDecodeError, Reader, readCheckRequest } from './grpc-decode.js';
import { encodeCheckResponse, lenField, Writer } from './grpc-encode.js';
import type { HealthCheckRequestMsg, HealthCheckResponseMsg, HealthListResponseMsg } from './grpc-protos.js';

export const AUTHORIZATION_SERVICE = 'envoy.service.auth.v3.Authorization';
const HEALTH_SERVICE = 'grpc.health.v1.Health';

/** The side of a method a server never uses (it serves the method; it does not call it). */
function clientSide(method: string): () => never {
  return () => {
    throw new Error(`${method}: this definition serves the method; calling it needs a client built from the protos`);
  };
}

function method<Req, Res>(service: string, name: string, read: (b: Buffer) => Req, write: (m: Res) => Buffer, responseStream = false): grpc.MethodDefinition<Req, Res> {
  const path = `/${service}/${name}`;
  return { path, requestStream: false, responseStream, requestDeserialize: read, responseSerialize: write, requestSerialize: clientSide(path), responseDeserialize: clientSide(path) };
}

export const AUTHORIZATION_DEFINITION: grpc.ServiceDefinition = {
  Check: method(AUTHORIZATION_SERVICE, 'Check', readCheckRequest, encodeCheckResponse),
};

// --- grpc.health.v1 ----------------------------------------------------------------------------

const LEN = 2; // wire type: length-delimited
const SERVICE_FIELD = (1 << 3) | LEN; // HealthCheckRequest.service

/** HealthCheckRequest: its `service`, other fields passed over; bytes that cannot be read throw. */
export function decodeHealthCheckRequest(buf: Buffer): HealthCheckRequestMsg {
  try {
    const r = new Reader(buf);
    const end = buf.length;
    let service: string | undefined;
    while (r.pos < end) {
      const tag = r.tag(end);
      if (tag === SERVICE_FIELD) service = r.string(end);
      else r.skipField(tag, end);
    }
    return service === undefined ? {} : { service };
  } catch (e) {
    if (e instanceof CheckRequestDecodeError) throw new Error(`HealthCheckRequest malformed: ${e.detail}`);
    throw e;
  }
}

/** HealthListRequest has no fields: anything readable is one. */
function decodeHealthListRequest(buf: Buffer): Record<string, never> {
  decodeHealthCheckRequest(buf);
  return {};
}

/** HealthCheckResponse: `status` (field 1, varint), absent when 0 as proto3 writes it. */
export function encodeHealthCheckResponse(msg: HealthCheckResponseMsg): Buffer {
  if (!Number.isInteger(msg.status) || msg.status < 0 || msg.status > 127) throw new RangeError(`health status ${msg.status}`);
  return msg.status === 0 ? Buffer.alloc(0) : Buffer.from([0x08, msg.status]);
}

/** HealthListResponse: `map<string, HealthCheckResponse> statuses = 1`, one entry per service. */
export function encodeHealthListResponse(msg: HealthListResponseMsg): Buffer {
  const entries = Object.entries(msg.statuses).map(([name, status]) => ({ name, bytes: Buffer.byteLength(name, 'utf8'), value: encodeHealthCheckResponse(status) }));
  const entrySize = (e: (typeof entries)[number]): number => lenField(e.bytes) + lenField(e.value.length);
  const w = new Writer(entries.reduce((n, e) => n + lenField(entrySize(e)), 0));
  for (const e of entries) {
    w.tag(1, LEN);
    w.varint(entrySize(e));
    w.string(1, e.name, e.bytes);
    w.tag(2, LEN);
    w.varint(e.value.length);
    w.bytes(e.value);
  }
  return w.buf;
}

export const HEALTH_DEFINITION: grpc.ServiceDefinition = {
  Check: method(HEALTH_SERVICE, 'Check', decodeHealthCheckRequest, encodeHealthCheckResponse),
  List: method(HEALTH_SERVICE, 'List', decodeHealthListRequest, encodeHealthListResponse),
  Watch: method(HEALTH_SERVICE, 'Watch', decodeHealthCheckRequest, encodeHealthCheckResponse, true),
};
