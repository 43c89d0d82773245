// A Check client that speaks as Envoy's ext_authz HTTP filter does, built on Envoy's own published
// protos (shipped in @grpc/grpc-js-xds/deps), so tests prove wire compatibility, not agreement
// with our trimmed copies.
//
//   const envoy = createEnvoyClient(`127.0.0.1:${server.port}`);
//   const res = await envoy.check({ host: 'api.example.com', path: '/v1/items?x=1', headers: { 'x-api-key': 'k' } });
//   assert.deepEqual(okOf(res).headers, [{ key: 'x-consumer-id', value: 'c1', append: false }]);
//   const denied = deniedOf(await envoy.check({ host: 'api.example.com', path: '/' }));
//   assert.equal(denied.status, 401);
//   envoy.close();
//
// Requests carry what Envoy's filter sends: source/destination socket addresses, request.time, and
// request.http with id, method, path (query included), host, scheme, protocol, size, and every
// header, pseudo-headers included, either merged in `headers` or line by line in `header_map`.
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { PROTO_DIR } from '../../src/transport/grpc-protos.js';

/** The HTTP request Envoy received from the client. */
export interface SimpleHttpRequest {
  /** Default GET. */
  readonly method?: string;
  /** Becomes `host` and `:authority`. */
  readonly host: string;
  /** Path with query string, as on the request line. */
  readonly path: string;
  /** Default https. */
  readonly scheme?: string;
  /** Default HTTP/1.1. */
  readonly protocol?: 'HTTP/1.0' | 'HTTP/1.1' | 'HTTP/2' | 'HTTP/3';
  /** Request headers; names are lowercased as Envoy does. An array value is a header repeated. */
  readonly headers?: Readonly<Record<string, string | readonly string[]>>;
  /** Downstream client address (source.address). Default 127.0.0.1. */
  readonly peer?: string;
}

export interface CheckOptions {
  /** grpc-timeout Envoy attaches (ext_authz `timeout`, 200 ms by default in Envoy). Default 5000. */
  readonly deadlineMs?: number;
  /** encode_raw_headers: send `header_map` with raw_value bytes instead of the merged `headers` map. */
  readonly rawHeaders?: boolean;
  /** with_request_body: a string goes in `body`, a Buffer in `raw_body` (pack_as_bytes). */
  readonly body?: string | Buffer;
  /** Envoy's network ext_authz filter: attributes without request.http. */
  readonly noHttp?: boolean;
  /** Per-route context_extensions. */
  readonly contextExtensions?: Readonly<Record<string, string>>;
  /** Replaces the built `attributes.request.http` fields, for malformed-request tests. */
  readonly httpOverride?: Readonly<Record<string, unknown>>;
}

export interface DecodedHeader {
  readonly key: string;
  readonly value: string;
  /** google.protobuf.BoolValue `append`; undefined when the server left it unset. */
  readonly append: boolean | undefined;
}

export interface DecodedOk {
  readonly headers: DecodedHeader[];
  readonly headersToRemove: string[];
  readonly responseHeadersToAdd: DecodedHeader[];
  readonly queryParametersToSet: { key: string; value: string }[];
  readonly queryParametersToRemove: string[];
}

export interface DecodedDenied {
  /** HTTP status Envoy sends; undefined when unset (Envoy then sends 403). */
  readonly status: number | undefined;
  readonly headers: DecodedHeader[];
  readonly body: string;
}

interface DecodedBase {
  /** google.rpc.Status code in CheckResponse.status (0 = allow). */
  readonly grpcCode: number;
  readonly message: string;
}

/** A CheckResponse as plain data, for exact assertions. */
export type DecodedCheckResponse =
  | (DecodedBase & { readonly kind: 'ok'; readonly ok: DecodedOk })
  | (DecodedBase & { readonly kind: 'denied'; readonly denied: DecodedDenied })
  | (DecodedBase & { readonly kind: 'none' });

export interface EnvoyClient {
  /** Resolves with the decoded response; rejects with the grpc.ServiceError of a failed call. */
  check(req: SimpleHttpRequest, opts?: CheckOptions): Promise<DecodedCheckResponse>;
  /** Sends an already built CheckRequest object (canonical field names) and decodes the answer. */
  checkRaw(request: Readonly<Record<string, unknown>>, deadlineMs?: number): Promise<DecodedCheckResponse>;
  close(): void;
}

const DEPS = join(dirname(createRequire(import.meta.url).resolve('@grpc/grpc-js-xds/package.json')), 'deps');

/** Envoy's canonical protos with the include paths Envoy's own build uses. */
export const CANONICAL_PROTO_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: Number,
  enums: Number,
  defaults: false,
  includeDirs: ['envoy-api', 'googleapis', 'protoc-gen-validate', 'xds'].map((d) => join(DEPS, d)),
};

let canonical: protoLoader.PackageDefinition | undefined;

/** Envoy's external_auth.proto as published, loaded once per process. */
export function loadCanonical(): protoLoader.PackageDefinition {
  canonical ??= protoLoader.loadSync('envoy/service/auth/v3/external_auth.proto', CANONICAL_PROTO_OPTIONS);
  return canonical;
}

/** `credentials` default to plaintext; TLS tests pass grpc.credentials.createSsl(...) and channel options. */
export function createEnvoyClient(address: string, credentials: grpc.ChannelCredentials = grpc.credentials.createInsecure(), options: grpc.ChannelOptions = {}): EnvoyClient {
  const method = checkMethod();
  const client = new grpc.Client(address, credentials, options);
  let clientPort = 40000;

  const send = (request: Readonly<Record<string, unknown>>, deadlineMs: number): Promise<DecodedCheckResponse> =>
    new Promise((resolve, reject) => {
      client.makeUnaryRequest(
        method.path,
        method.requestSerialize,
        method.responseDeserialize,
        request,
        new grpc.Metadata(),
        { deadline: Date.now() + deadlineMs },
        (err, res) => {
          if (err !== null) reject(err);
          else resolve(decodeCheckResponse(res));
        },
      );
    });

  return {
    check(req, opts = {}) {
      clientPort = clientPort >= 65000 ? 40000 : clientPort + 1;
      return send(buildCheckRequest(req, opts, clientPort), opts.deadlineMs ?? 5000);
    },
    checkRaw(request, deadlineMs = 5000) {
      return send(request, deadlineMs);
    },
    close() {
      client.close();
    },
  };
}

/** Authorization/Check as described by Envoy's published protos. */
export function checkMethod(): protoLoader.MethodDefinition<object, object> {
  const pkg = loadCanonical();
  const def = pkg['envoy.service.auth.v3.Authorization'];
  if (def === undefined || 'format' in def) throw new Error('Authorization service missing from canonical protos');
  const check = def['Check'];
  if (check === undefined) throw new Error('Authorization/Check missing from canonical protos');
  return check;
}

/** The ok_response of an allow; throws, showing the whole response, for anything else. */
export function okOf(res: DecodedCheckResponse): DecodedOk {
  if (res.kind !== 'ok') throw new Error(`expected an allow, got ${JSON.stringify(res)}`);
  return res.ok;
}

/** The denied_response of a deny; throws, showing the whole response, for anything else. */
export function deniedOf(res: DecodedCheckResponse): DecodedDenied {
  if (res.kind !== 'denied') throw new Error(`expected a deny, got ${JSON.stringify(res)}`);
  return res.denied;
}

/** The CheckRequest Envoy's ext_authz filter builds (check_request_utils.cc) for `req`. */
export function buildCheckRequest(req: SimpleHttpRequest, opts: CheckOptions = {}, clientPort = 40001): Record<string, unknown> {
  const now = Date.now();
  const attributes: Record<string, unknown> = {
    source: { address: socketAddress(req.peer ?? '127.0.0.1', clientPort) },
    destination: { address: socketAddress('127.0.0.1', 8080) },
  };
  if (opts.contextExtensions !== undefined) attributes['context_extensions'] = opts.contextExtensions;
  const time = { seconds: Math.floor(now / 1000), nanos: (now % 1000) * 1e6 };
  if (opts.noHttp === true) {
    attributes['request'] = { time };
    return { attributes };
  }

  const method = req.method ?? 'GET';
  const scheme = req.scheme ?? 'https';
  // Envoy's header map: pseudo-headers first, then the request's headers as received, plus what
  // the connection manager adds before any filter runs (x-forwarded-proto, x-request-id).
  const lines: [string, string][] = [
    [':authority', req.host],
    [':path', req.path],
    [':method', method],
    [':scheme', scheme],
  ];
  for (const [name, value] of Object.entries(req.headers ?? {})) {
    const values: readonly string[] = typeof value === 'string' ? [value] : value;
    for (const v of values) lines.push([name.toLowerCase(), v]);
  }
  if (!lines.some(([n]) => n === 'x-forwarded-proto')) lines.push(['x-forwarded-proto', scheme]);
  if (!lines.some(([n]) => n === 'x-request-id')) lines.push(['x-request-id', randomUUID()]);
  const body = opts.body;
  if (body !== undefined) lines.push(['x-envoy-auth-partial-body', 'false']);

  const http: Record<string, unknown> = {
    id: String(Math.floor(Math.random() * Number.MAX_SAFE_INTEGER)),
    method,
    path: req.path,
    host: req.host,
    scheme,
    size: body === undefined ? 0 : Buffer.byteLength(body),
    protocol: req.protocol ?? 'HTTP/1.1',
  };
  if (opts.rawHeaders === true) {
    http['header_map'] = { headers: lines.map(([key, v]) => ({ key, raw_value: Buffer.from(v, 'utf8') })) };
  } else {
    const merged: Record<string, string> = {};
    for (const [name, v] of lines) {
      const prev = merged[name];
      merged[name] = prev === undefined ? v : `${prev},${v}`;
    }
    http['headers'] = merged;
  }
  if (typeof body === 'string') http['body'] = body;
  else if (body !== undefined) http['raw_body'] = body;
  Object.assign(http, opts.httpOverride ?? {});
  attributes['request'] = { time, http };
  return { attributes };
}

function socketAddress(address: string, port: number): Record<string, unknown> {
  return { socket_address: { address, port_value: port } };
}

/** CheckResponse (as decoded by proto-loader with CANONICAL_PROTO_OPTIONS) -> plain data. */
export function decodeCheckResponse(res: unknown): DecodedCheckResponse {
  const status = obj(field(res, 'status'));
  const base: DecodedBase = {
    grpcCode: num(field(status, 'code')) ?? 0,
    message: str(field(status, 'message')),
  };
  const ok = field(res, 'ok_response');
  if (ok !== undefined) {
    return {
      ...base,
      kind: 'ok',
      ok: {
        headers: list(field(ok, 'headers')).map(decodeHeader),
        headersToRemove: list(field(ok, 'headers_to_remove')).map(str),
        responseHeadersToAdd: list(field(ok, 'response_headers_to_add')).map(decodeHeader),
        queryParametersToSet: list(field(ok, 'query_parameters_to_set')).map((q) => ({
          key: str(field(q, 'key')),
          value: str(field(q, 'value')),
        })),
        queryParametersToRemove: list(field(ok, 'query_parameters_to_remove')).map(str),
      },
    };
  }
  const denied = field(res, 'denied_response');
  if (denied !== undefined) {
    const httpStatus = field(denied, 'status');
    return {
      ...base,
      kind: 'denied',
      denied: {
        status: httpStatus === undefined ? undefined : (num(field(httpStatus, 'code')) ?? 0),
        headers: list(field(denied, 'headers')).map(decodeHeader),
        body: str(field(denied, 'body')),
      },
    };
  }
  return { ...base, kind: 'none' };
}

function decodeHeader(option: unknown): DecodedHeader {
  const header = field(option, 'header');
  const raw = field(header, 'raw_value');
  const append = field(option, 'append');
  return {
    key: str(field(header, 'key')),
    value: raw instanceof Uint8Array && raw.length > 0 ? Buffer.from(raw).toString('utf8') : str(field(header, 'value')),
    append: append === undefined ? undefined : field(append, 'value') === true,
  };
}

function field(o: unknown, name: string): unknown {
  return typeof o === 'object' && o !== null ? Reflect.get(o, name) : undefined;
}
function obj(v: unknown): unknown {
  return typeof v === 'object' && v !== null ? v : {};
}
function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}
function num(v: unknown): number | undefined {
  return typeof v === 'number' ? v : undefined;
}
function list(v: unknown): unknown[] {
  return Array.isArray(v) ? (v as unknown[]) : [];
}

// --- grpc.health.v1, as Envoy's grpc_health_check and Kubernetes gRPC probes call it ------------
// The health protos are gRPC's, unchanged in ours, so the server's own copy is loaded here.

export const ServingStatus = { UNKNOWN: 0, SERVING: 1, NOT_SERVING: 2, SERVICE_UNKNOWN: 3 } as const;

export interface HealthWatch {
  /** The next status the server streams; rejects after `timeoutMs` without one. */
  next(timeoutMs?: number): Promise<number>;
  /** Resolves with the gRPC status code once the server ends the stream. */
  readonly ended: Promise<number>;
  cancel(): void;
}

export interface HealthClient {
  /** Health/Check; rejects with the grpc.ServiceError (NOT_FOUND for an unknown service). */
  check(service: string, deadlineMs?: number): Promise<number>;
  /** Health/List: every service the server knows, with its status. */
  list(): Promise<Record<string, number>>;
  /** Health/Check with these bytes as the request, unread by any encoder; resolves with the gRPC status code. */
  checkRaw(bytes: Buffer): Promise<number>;
  watch(service: string): HealthWatch;
  close(): void;
}

export function createHealthClient(address: string): HealthClient {
  const pkg = protoLoader.loadSync('grpc/health/v1/health.proto', {
    keepCase: true,
    enums: Number,
    defaults: true,
    includeDirs: [PROTO_DIR],
  });
  const def = pkg['grpc.health.v1.Health'];
  if (def === undefined || 'format' in def) throw new Error('grpc.health.v1.Health missing');
  const checkDef = def['Check'];
  const listDef = def['List'];
  const watchDef = def['Watch'];
  if (checkDef === undefined || listDef === undefined || watchDef === undefined) throw new Error('Health methods missing');
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  const statusOf = (msg: unknown): number => num(field(msg, 'status')) ?? ServingStatus.UNKNOWN;

  return {
    check(service, deadlineMs = 5000) {
      return new Promise((resolve, reject) => {
        client.makeUnaryRequest(
          checkDef.path,
          checkDef.requestSerialize,
          checkDef.responseDeserialize,
          { service },
          new grpc.Metadata(),
          { deadline: Date.now() + deadlineMs },
          (err, res) => (err !== null ? reject(err) : resolve(statusOf(res))),
        );
      });
    },
    list() {
      return new Promise((resolve, reject) => {
        client.makeUnaryRequest(listDef.path, listDef.requestSerialize, listDef.responseDeserialize, {}, new grpc.Metadata(), { deadline: Date.now() + 5000 }, (err, res) => {
          if (err !== null) return reject(err);
          const statuses = field(res, 'statuses');
          const out: Record<string, number> = {};
          if (typeof statuses === 'object' && statuses !== null) for (const [name, msg] of Object.entries(statuses)) out[name] = statusOf(msg);
          resolve(out);
        });
      });
    },
    checkRaw(bytes) {
      return new Promise((resolve) => {
        client.makeUnaryRequest(checkDef.path, (b: Buffer) => b, (b: Buffer) => b, bytes, new grpc.Metadata(), { deadline: Date.now() + 5000 }, (err) => resolve(err === null ? grpc.status.OK : err.code));
      });
    },
    watch(service) {
      const call = client.makeServerStreamRequest(
        watchDef.path,
        watchDef.requestSerialize,
        watchDef.responseDeserialize,
        { service },
        new grpc.Metadata(),
        {},
      );
      const queue: number[] = [];
      const waiters: ((status: number) => void)[] = [];
      call.on('data', (msg: unknown) => {
        const waiter = waiters.shift();
        if (waiter === undefined) queue.push(statusOf(msg));
        else waiter(statusOf(msg));
      });
      const ended = new Promise<number>((resolve) => {
        call.on('status', (s: grpc.StatusObject) => resolve(s.code));
      });
      call.on('error', () => undefined); // the code arrives through 'status'
      return {
        next(timeoutMs = 2000) {
          const queued = queue.shift();
          if (queued !== undefined) return Promise.resolve(queued);
          return new Promise<number>((resolve, reject) => {
            const timer = setTimeout(() => {
              waiters.splice(waiters.indexOf(done), 1);
              reject(new Error(`no health update within ${timeoutMs} ms`));
            }, timeoutMs);
            const done = (status: number): void => {
              clearTimeout(timer);
              resolve(status);
            };
            waiters.push(done);
          });
        },
        ended,
        cancel() {
          call.cancel();
        },
      };
    },
    close() {
      client.close();
    },
  };
}
