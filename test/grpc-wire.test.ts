// The transport below the Check mapping: our trimmed protos against Envoy's published ones (same
// names, numbers, types and bytes), message-size limits, HTTP/2 keepalive and graceful shutdown.
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { type GrpcServer, startGrpcServer } from '../src/transport/grpc.js';
import { PROTO_DIR, loadServices } from '../src/transport/grpc-protos.js';
import {
  CANONICAL_PROTO_OPTIONS,
  type EnvoyClient,
  buildCheckRequest,
  ServingStatus,
  checkMethod,
  createEnvoyClient,
  deniedOf,
  okOf,
  createHealthClient,
  decodeCheckResponse,
} from './support/envoy-client.js';
import { eventually } from './support/eventually.js';
import { FakeEngine, allow, later, never } from './support/fake-engine.js';

const MiB = 1 << 20;
const REQ = { host: 'upload.example.com', path: '/files', method: 'PUT' };

describe('request size limits', { timeout: 30_000 }, () => {
  const engine = new FakeEngine();
  let server: GrpcServer;
  let envoy: EnvoyClient;

  before(async () => {
    server = await startGrpcServer({ address: '127.0.0.1:0', engine, maxRequestBytes: 8 * MiB, maxHeaderBytes: 8192, deadlineMarginMs: 20 });
    envoy = createEnvoyClient(`127.0.0.1:${server.port}`);
  });
  after(async () => {
    envoy.close();
    await server.close(1000);
  });

  test('a 6 MiB body (past gRPC’s 4 MiB default) reaches the engine whole, as body and as raw_body', async () => {
    for (const body of ['a'.repeat(6 * MiB), Buffer.alloc(6 * MiB, 0x62)]) {
      engine.reset();
      const res = await envoy.check(REQ, { body, deadlineMs: 10_000 });
      assert.equal(res.kind, 'ok');
      assert.equal(engine.inputs.length, 1);
      const seen = engine.inputs[0]?.body ?? '';
      assert.equal(seen.length, 6 * MiB);
      assert.equal(seen[0], typeof body === 'string' ? 'a' : 'b');
    }
  });

  test('a CheckRequest over maxRequestBytes is refused by gRPC with RESOURCE_EXHAUSTED', async () => {
    engine.reset();
    await assert.rejects(envoy.check(REQ, { body: 'x'.repeat(9 * MiB), deadlineMs: 10_000 }), (err: unknown) => {
      assert.equal(Reflect.get(err as object, 'code'), grpc.status.RESOURCE_EXHAUSTED);
      return true;
    });
    assert.equal(engine.inputs.length, 0);
    assert.equal(engine.observed.length, 0);
    // The connection survives: the next Check is answered.
    assert.equal((await envoy.check(REQ)).kind, 'ok');
  });
});

describe('wire compatibility with Envoy’s protos', { timeout: 20_000 }, () => {
  test('the protos are found next to the package, from dist/src/transport', () => {
    assert.equal(PROTO_DIR, fileURLToPath(new URL('../../proto/', import.meta.url)));
  });

  test('every message and enum we ship matches Envoy’s field by field; dropped fields are reserved', async () => {
    const ours = await protoLoader.load('envoy/service/auth/v3/external_auth.proto', {
      keepCase: true,
      includeDirs: [PROTO_DIR],
    });
    const theirs = await protoLoader.load('envoy/service/auth/v3/external_auth.proto', CANONICAL_PROTO_OPTIONS);
    const ourTypes = flatten(ours);
    const theirTypes = flatten(theirs);
    const compared: string[] = [];
    for (const [name, ourType] of ourTypes) {
      if (name.startsWith('google.protobuf.')) continue; // built into the loader, identical by definition
      const theirType = theirTypes.get(name);
      assert.ok(theirType !== undefined, `${name} does not exist in Envoy's protos`);
      compared.push(name);
      assert.equal(ourType.kind, theirType.kind, name);
      if (ourType.kind === 'enum' || theirType.kind === 'enum') {
        assert.deepEqual(ourType, theirType, name);
        continue;
      }
      const theirFields = new Map(theirType.fields.map((f) => [f.number, f]));
      for (const f of ourType.fields) {
        const t = theirFields.get(f.number);
        assert.ok(t !== undefined, `${name}.${f.name} (${f.number}) is not in Envoy's ${name}`);
        assert.deepEqual(
          { name: f.name, type: f.type, label: f.label, typeName: resolve(f.typeName, name, ourTypes), oneof: f.oneof },
          { name: t.name, type: t.type, label: t.label, typeName: resolve(t.typeName, name, theirTypes), oneof: t.oneof },
          `${name}.${f.name}`,
        );
      }
      for (const t of theirType.fields) {
        if (ourType.fields.some((f) => f.number === t.number)) continue;
        assert.ok(
          ourType.reserved.some(([lo, hi]) => t.number >= lo && t.number <= hi),
          `${name}.${t.name} (${t.number}) is omitted but not reserved`,
        );
      }
    }
    // Spot-check that the walk covered the nested and shared types, not just the top level.
    for (const n of [
      'envoy.service.auth.v3.AttributeContext.HttpRequest',
      'envoy.service.auth.v3.AttributeContext.Peer',
      'envoy.config.core.v3.HeaderValueOption',
      'envoy.config.core.v3.HeaderValueOption.HeaderAppendAction',
      'envoy.config.core.v3.SocketAddress',
      'envoy.type.v3.StatusCode',
      'google.rpc.Status',
    ]) {
      assert.ok(compared.includes(n), `${n} was compared`);
    }
  });

  test('a CheckRequest encoded with Envoy’s protos decodes with ours, every field intact', async () => {
    const theirs = checkMethod();
    const { authorization } = await loadServices();
    const ourCheck = authorization['Check'];
    assert.ok(ourCheck !== undefined);
    const request = buildCheckRequest(
      { method: 'POST', host: 'api.example.com', path: '/a?b=c', headers: { cookie: ['x=1', 'y=2'] }, peer: '198.51.100.9' },
      { rawHeaders: true, body: Buffer.from([0x00, 0xff, 0x41]), contextExtensions: { tenant: 't1' } },
      51234,
    );
    const bytes = theirs.requestSerialize(request);
    const decoded = ourCheck.requestDeserialize(bytes);
    const http = path(decoded, 'attributes', 'request', 'http');
    assert.equal(path(http, 'method'), 'POST');
    assert.equal(path(http, 'path'), '/a?b=c');
    assert.equal(path(http, 'host'), 'api.example.com');
    assert.equal(path(http, 'scheme'), 'https');
    assert.equal(path(http, 'protocol'), 'HTTP/1.1');
    assert.equal(path(http, 'size'), 3);
    assert.deepEqual(path(http, 'raw_body'), Buffer.from([0x00, 0xff, 0x41]));
    const headerList = path(http, 'header_map', 'headers');
    assert.ok(Array.isArray(headerList));
    const lines = (headerList as unknown[]).map((h) => [path(h, 'key'), Buffer.from(path(h, 'raw_value') as Uint8Array).toString()]);
    assert.deepEqual(lines.slice(0, 6), [
      [':authority', 'api.example.com'],
      [':path', '/a?b=c'],
      [':method', 'POST'],
      [':scheme', 'https'],
      ['cookie', 'x=1'],
      ['cookie', 'y=2'],
    ]);
    assert.equal(path(decoded, 'attributes', 'source', 'address', 'socket_address', 'address'), '198.51.100.9');
    assert.equal(path(decoded, 'attributes', 'source', 'address', 'socket_address', 'port_value'), 51234);
    assert.equal(path(decoded, 'attributes', 'destination', 'address', 'socket_address', 'port_value'), 8080);
    assert.deepEqual(path(decoded, 'attributes', 'context_extensions'), { tenant: 't1' });
    const seconds = path(decoded, 'attributes', 'request', 'time', 'seconds'); // int64 as number, per our loader
    assert.ok(typeof seconds === 'number' && Math.abs(seconds - Date.now() / 1000) < 60, `time.seconds ${String(seconds)}`);
    // Re-encoding with our protos gives back Envoy's bytes: nothing was lost or renumbered.
    assert.deepEqual(Buffer.from(ourCheck.requestSerialize(decoded)), Buffer.from(bytes));
  });

  test('a CheckResponse encoded with ours decodes with Envoy’s protos, append present even when false', async () => {
    const theirs = checkMethod();
    const { authorization } = await loadServices();
    const ourCheck = authorization['Check'];
    assert.ok(ourCheck !== undefined);
    const okBytes = ourCheck.responseSerialize({
      status: { code: 0 },
      ok_response: {
        headers: [{ header: { key: 'x-user', value: 'u1' }, append: { value: false } }],
        headers_to_remove: ['authorization'],
        response_headers_to_add: [{ header: { key: 'set-cookie', value: 's=1' }, append: { value: true } }],
        query_parameters_to_remove: ['apikey'],
      },
    });
    // HeaderValueOption{ header = 1 {key = 1 "x-user", value = 2 "u1"}, append = 2 {value = 1 false} }:
    // the BoolValue is on the wire, so Envoy sees has_append() and overwrites.
    const option = Buffer.from([0x0a, 0x0c, 0x0a, 0x06, ...Buffer.from('x-user'), 0x12, 0x02, ...Buffer.from('u1'), 0x12, 0x02, 0x08, 0x00]);
    assert.ok(Buffer.from(okBytes).includes(option), 'append=false is encoded explicitly');
    assert.deepEqual(decodeCheckResponse(theirs.responseDeserialize(okBytes)), {
      grpcCode: 0,
      message: '',
      kind: 'ok',
      ok: {
        headers: [{ key: 'x-user', value: 'u1', append: false }],
        headersToRemove: ['authorization'],
        responseHeadersToAdd: [{ key: 'set-cookie', value: 's=1', append: true }],
        queryParametersToSet: [],
        queryParametersToRemove: ['apikey'],
      },
    });

    // A status code missing from envoy.type.v3.StatusCode still travels as its number.
    const deniedBytes = ourCheck.responseSerialize({
      status: { code: 7, message: 'custom' },
      denied_response: { status: { code: 299 }, body: 'x' },
    });
    assert.deepEqual(decodeCheckResponse(theirs.responseDeserialize(deniedBytes)), {
      grpcCode: 7,
      message: 'custom',
      kind: 'denied',
      denied: { status: 299, headers: [], body: 'x' },
    });
  });

  test('a live allow from the server, decoded by Envoy’s protos, is byte-identical to our encoding', async () => {
    const engine = new FakeEngine();
    engine.script = () => allow({ setHeaders: [{ name: 'x-user', value: 'u1' }] });
    const server = await startGrpcServer({ address: '127.0.0.1:0', engine, maxRequestBytes: MiB, maxHeaderBytes: 8192, deadlineMarginMs: 20 });
    const method = checkMethod();
    const client = new grpc.Client(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure());
    try {
      // Ask for the raw bytes: a pass-through deserializer sees exactly what Envoy would.
      const raw = await new Promise<Buffer>((resolve, reject) => {
        client.makeUnaryRequest(
          method.path,
          method.requestSerialize,
          (b: Buffer) => b,
          buildCheckRequest({ host: 'a.example', path: '/' }),
          new grpc.Metadata(),
          { deadline: Date.now() + 5000 },
          (err, res) => (err !== null || res === undefined ? reject(err ?? new Error('no response')) : resolve(res)),
        );
      });
      const expected = Buffer.concat([
        Buffer.from([0x0a, 0x02, 0x08, 0x00]), // status { code: 0 }
        Buffer.from([0x1a, 0x14, 0x12, 0x12]), // ok_response { headers {
        Buffer.from([0x0a, 0x0c, 0x0a, 0x06, ...Buffer.from('x-user'), 0x12, 0x02, ...Buffer.from('u1')]), // header
        Buffer.from([0x12, 0x02, 0x08, 0x00]), // append { value: false } } }
      ]);
      assert.deepEqual(raw, expected);
    } finally {
      client.close();
      await server.close(500);
    }
  });
});

describe('shutdown and connection handling', { timeout: 20_000 }, () => {
  test('close() lets an in-flight slow Check finish, ends Watch streams, then refuses calls', async () => {
    const engine = new FakeEngine();
    engine.script = () => later(300, allow({ setHeaders: [{ name: 'x-slow', value: '1' }] }));
    const server = await startGrpcServer({ address: '127.0.0.1:0', engine, maxRequestBytes: 1 << 20, maxHeaderBytes: 4096, deadlineMarginMs: 20 });
    const envoy = createEnvoyClient(`127.0.0.1:${server.port}`);
    const health = createHealthClient(`127.0.0.1:${server.port}`);
    try {
      server.setServing(true);
      const watch = health.watch('');
      assert.equal(await watch.next(), ServingStatus.SERVING);
      const inflight = envoy.check(REQ, { deadlineMs: 5000 });
      await eventually(() => engine.inputs.length === 1, 2000, 'the Check to reach the engine');
      const started = performance.now();
      const closed = server.close(5000);
      assert.equal(await watch.next(), ServingStatus.NOT_SERVING);
      assert.equal(await watch.ended, grpc.status.OK);
      const res = await inflight;
      assert.equal(res.kind, 'ok');
      assert.deepEqual(okOf(res).headers, [{ key: 'x-slow', value: '1', append: false }]);
      await closed;
      assert.ok(performance.now() - started < 2000, 'closed once the call was done, not at the grace limit');
      await assert.rejects(envoy.check(REQ, { deadlineMs: 1000 }), (err: unknown) => {
        assert.equal(Reflect.get(err as object, 'code'), grpc.status.UNAVAILABLE);
        return true;
      });
    } finally {
      envoy.close();
      health.close();
      await server.close(100);
    }
  });

  test('close() cancels calls still running when the grace period ends', async () => {
    const engine = new FakeEngine();
    engine.script = () => never();
    const server = await startGrpcServer({ address: '127.0.0.1:0', engine, maxRequestBytes: 1 << 20, maxHeaderBytes: 4096, deadlineMarginMs: 20 });
    const envoy = createEnvoyClient(`127.0.0.1:${server.port}`);
    try {
      const inflight = envoy.check(REQ, { deadlineMs: Infinity }).catch((err: unknown) => err);
      await eventually(() => engine.inputs.length === 1, 2000, 'the Check to reach the engine');
      const started = performance.now();
      await server.close(150);
      const elapsed = performance.now() - started;
      assert.ok(elapsed >= 140 && elapsed < 1000, `closed after ${elapsed} ms`);
      const res = await inflight;
      assert.ok(res instanceof Error, 'the cancelled call fails instead of being answered');
      assert.notEqual(Reflect.get(res, 'code'), grpc.status.OK);
    } finally {
      envoy.close();
    }
  });

  test('client keepalive pings every second draw no GOAWAY: the connection stays READY', async () => {
    const engine = new FakeEngine();
    const server = await startGrpcServer({ address: '127.0.0.1:0', engine, maxRequestBytes: 1 << 20, maxHeaderBytes: 4096, deadlineMarginMs: 20 });
    const channel = new grpc.Channel(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure(), {
      'grpc.keepalive_time_ms': 1000,
      'grpc.keepalive_timeout_ms': 1000,
      'grpc.keepalive_permit_without_calls': 1,
    });
    const states: grpc.connectivityState[] = [];
    try {
      const ready = await waitForState(channel, grpc.connectivityState.READY, 3000);
      assert.equal(ready, true);
      const watching = watchStates(channel, states, 2600);
      await watching;
      assert.deepEqual(states, [], 'no connectivity change while pinging');
      assert.equal(channel.getConnectivityState(false), grpc.connectivityState.READY);
    } finally {
      channel.close();
      await server.close(100);
    }
  });
});

// --- connectivity ------------------------------------------------------------------------------

function waitForState(channel: grpc.Channel, target: grpc.connectivityState, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve) => {
    const step = (): void => {
      const state = channel.getConnectivityState(true);
      if (state === target) return resolve(true);
      channel.watchConnectivityState(state, deadline, (err) => (err === undefined ? step() : resolve(false)));
    };
    step();
  });
}

/** Records every state change for `ms` milliseconds. */
function watchStates(channel: grpc.Channel, out: grpc.connectivityState[], ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  return new Promise((resolve) => {
    const step = (current: grpc.connectivityState): void => {
      channel.watchConnectivityState(current, deadline, (err) => {
        if (err !== undefined) return resolve();
        const next = channel.getConnectivityState(false);
        out.push(next);
        step(next);
      });
    };
    step(channel.getConnectivityState(false));
  });
}

// --- descriptor walking ------------------------------------------------------------------------

interface FieldInfo {
  readonly name: string;
  readonly number: number;
  readonly type: string;
  readonly label: string;
  readonly typeName: string;
  readonly oneof: string | undefined;
}
type TypeInfo =
  | { readonly kind: 'message'; readonly fields: FieldInfo[]; readonly reserved: [number, number][] }
  | { readonly kind: 'enum'; readonly values: [string, number][] };

/** Every message and enum, nested ones included, by full name. */
function flatten(pkg: protoLoader.PackageDefinition): Map<string, TypeInfo> {
  const out = new Map<string, TypeInfo>();
  for (const [name, def] of Object.entries(pkg)) {
    const format: unknown = Reflect.get(def, 'format');
    if (typeof format !== 'string') continue; // a service
    const type: unknown = Reflect.get(def, 'type');
    if (format.endsWith('EnumDescriptorProto')) addEnum(out, name, type);
    else addMessage(out, name, type);
  }
  return out;
}

function addMessage(out: Map<string, TypeInfo>, name: string, d: unknown): void {
  const oneofs = list(path(d, 'oneofDecl')).map((o) => String(path(o, 'name')));
  const fields = list(path(d, 'field')).map((f): FieldInfo => {
    const idx = path(f, 'oneofIndex');
    const proto3Optional = path(f, 'proto3Optional') === true;
    return {
      name: String(path(f, 'name')),
      number: Number(path(f, 'number')),
      type: String(path(f, 'type')),
      label: String(path(f, 'label')),
      typeName: String(path(f, 'typeName') ?? ''),
      oneof: typeof idx === 'number' && !proto3Optional ? oneofs[idx] : undefined,
    };
  });
  const reserved = list(path(d, 'reservedRange')).map((r): [number, number] => [Number(path(r, 'start')), Number(path(r, 'end'))]);
  out.set(name, { kind: 'message', fields, reserved });
  for (const n of list(path(d, 'nestedType'))) addMessage(out, `${name}.${String(path(n, 'name'))}`, n);
  for (const e of list(path(d, 'enumType'))) addEnum(out, `${name}.${String(path(e, 'name'))}`, e);
}

function addEnum(out: Map<string, TypeInfo>, name: string, d: unknown): void {
  const values = list(path(d, 'value')).map((v): [string, number] => [String(path(v, 'name')), Number(path(v, 'number'))]);
  out.set(name, { kind: 'enum', values });
}

/** Resolves a type reference the way protoc does: innermost enclosing scope first. */
function resolve(typeName: string, scope: string, types: ReadonlyMap<string, TypeInfo>): string {
  if (typeName === '') return '';
  if (typeName.startsWith('.')) return typeName.slice(1);
  const parts = scope.split('.');
  for (let i = parts.length; i >= 0; i--) {
    const candidate = [...parts.slice(0, i), typeName].join('.');
    if (types.has(candidate)) return candidate;
  }
  return `unresolved:${typeName}`;
}

function path(o: unknown, ...keys: string[]): unknown {
  let cur = o;
  for (const k of keys) cur = typeof cur === 'object' && cur !== null ? Reflect.get(cur, k) : undefined;
  return cur;
}

function list(v: unknown): unknown[] {
  return Array.isArray(v) ? (v as unknown[]) : [];
}
