// The ext_authz gRPC transport as Envoy sees it: requests built the way Envoy's filter builds them,
// responses decoded with Envoy's own protos, decisions scripted by a fake engine.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import type { Decision } from '../src/core/decision.js';
import { type GrpcServer, startGrpcServer } from '../src/transport/grpc.js';
import {
  type EnvoyClient,
  type HealthClient,
  type SimpleHttpRequest,
  ServingStatus,
  createEnvoyClient,
  deniedOf,
  okOf,
  createHealthClient,
} from './support/envoy-client.js';
import { FakeEngine, allow, deny, later, never } from './support/fake-engine.js';

const MAX_HEADER_BYTES = 4096;
const MARGIN_MS = 100;
const REQ: SimpleHttpRequest = { host: 'api.example.com', path: '/v1/items?page=2' };

describe('ext_authz Check over gRPC', { timeout: 30_000 }, () => {
  const engine = new FakeEngine();
  const warnings: { msg: string; fields: Record<string, unknown> | undefined }[] = [];
  let server: GrpcServer;
  let envoy: EnvoyClient;

  before(async () => {
    server = await startGrpcServer({
      address: '127.0.0.1:0',
      engine,
      maxRequestBytes: 1 << 20,
      maxHeaderBytes: MAX_HEADER_BYTES,
      // Envoy is a network hop away, so a margin of a few ms does there; this machine is shared and
      // its event loop lags under load, so the tests leave 100 ms.
      deadlineMarginMs: MARGIN_MS,
      logger: { warn: (msg, fields) => warnings.push({ msg, fields }) },
    });
    envoy = createEnvoyClient(`127.0.0.1:${server.port}`);
  });
  after(async () => {
    envoy.close();
    await server.close(1000);
  });
  beforeEach(() => {
    engine.reset();
    warnings.length = 0;
  });

  test('an allow sets, removes and appends exactly what the decision says', async () => {
    engine.script = () =>
      allow({
        setHeaders: [
          { name: 'x-consumer-id', value: 'c-1' },
          { name: 'x-consumer-username', value: 'alice' },
        ],
        removeHeaders: ['authorization', 'x-api-key'],
        responseHeaders: [
          { name: 'set-cookie', value: 'a=1; Path=/' },
          { name: 'set-cookie', value: 'b=2; Path=/' },
        ],
        removeQuery: ['apikey'],
      });
    const res = await envoy.check(REQ);
    assert.deepEqual(res, {
      grpcCode: 0,
      message: '',
      kind: 'ok',
      ok: {
        headers: [
          { key: 'x-consumer-id', value: 'c-1', append: false },
          { key: 'x-consumer-username', value: 'alice', append: false },
        ],
        headersToRemove: ['authorization', 'x-api-key'],
        responseHeadersToAdd: [
          { key: 'set-cookie', value: 'a=1; Path=/', append: true },
          { key: 'set-cookie', value: 'b=2; Path=/', append: true },
        ],
        queryParametersToSet: [],
        queryParametersToRemove: ['apikey'],
      },
    });
  });

  test('an allow without mutations is a bare OK with an empty ok_response', async () => {
    const res = await envoy.check(REQ);
    assert.deepEqual(res, {
      grpcCode: 0,
      message: '',
      kind: 'ok',
      ok: { headers: [], headersToRemove: [], responseHeadersToAdd: [], queryParametersToSet: [], queryParametersToRemove: [] },
    });
  });

  const denyCases: [number, number][] = [
    [401, 16],
    [403, 7],
    [503, 14],
    [400, 3],
    [431, 3],
    [500, 13],
    [302, 7],
    [200, 7],
    [429, 7],
  ];
  for (const [status, grpcCode] of denyCases) {
    test(`a ${status} deny carries gRPC code ${grpcCode}, the HTTP status, headers and body`, async () => {
      engine.script = () =>
        deny({
          status,
          code: `code_${status}`,
          headers: [
            { name: 'www-authenticate', value: 'Key realm="gatehouse"' },
            { name: 'content-type', value: 'application/json' },
          ],
          body: `{"status":${status}}`,
        });
      const res = await envoy.check(REQ);
      assert.deepEqual(res, {
        grpcCode,
        message: `code_${status}`,
        kind: 'denied',
        denied: {
          status,
          headers: [
            { key: 'www-authenticate', value: 'Key realm="gatehouse"', append: false },
            { key: 'content-type', value: 'application/json', append: false },
          ],
          body: `{"status":${status}}`,
        },
      });
    });
  }

  test('the merged headers map becomes a CheckInput without pseudo-headers', async () => {
    const res = await envoy.check(
      {
        method: 'post',
        host: 'API.Example.com:8443',
        path: '/v1/items?page=2&apikey=k',
        scheme: 'https',
        peer: '203.0.113.7',
        headers: { 'X-API-Key': 'secret', accept: ['text/html', 'application/json'], 'x-request-id': 'rid-1' },
      },
      { body: '{"a":1}' },
    );
    assert.equal(res.kind, 'ok');
    assert.equal(engine.inputs.length, 1);
    const input = engine.inputs[0]!;
    assert.equal(input.method, 'POST');
    assert.equal(input.scheme, 'https');
    assert.equal(input.host, 'api.example.com');
    assert.equal(input.port, 8443);
    assert.equal(input.path, '/v1/items');
    assert.equal(input.rawQuery, 'page=2&apikey=k');
    assert.equal(input.peer, '203.0.113.7');
    assert.equal(input.body, '{"a":1}');
    assert.match(input.requestId ?? '', /^[0-9]+$/);
    assert.deepEqual(
      [...input.headers],
      [
        ['x-api-key', 'secret'],
        ['accept', 'text/html,application/json'],
        ['x-request-id', 'rid-1'],
        ['x-forwarded-proto', 'https'],
        ['x-envoy-auth-partial-body', 'false'],
      ],
    );
  });

  test('header_map (encode_raw_headers) is read from raw_value, repeats joined, cookies with "; "', async () => {
    await envoy.check(
      {
        host: 'api.example.com',
        path: '/a',
        headers: {
          cookie: ['sid=abc', 'theme=dark'],
          'x-forwarded-for': ['198.51.100.1', '198.51.100.2'],
          'x-request-id': 'rid-2',
          'x-name': 'Zoë',
        },
      },
      { rawHeaders: true, body: Buffer.from('raw-body', 'utf8') },
    );
    const input = engine.inputs[0]!;
    assert.deepEqual(
      [...input.headers],
      [
        ['cookie', 'sid=abc; theme=dark'],
        ['x-forwarded-for', '198.51.100.1,198.51.100.2'],
        ['x-request-id', 'rid-2'],
        ['x-name', 'Zoë'],
        ['x-forwarded-proto', 'https'],
        ['x-envoy-auth-partial-body', 'false'],
      ],
    );
    assert.equal(input.cookie('theme'), 'dark');
    assert.equal(input.host, 'api.example.com');
    assert.equal(input.body, 'raw-body');
  });

  test('a raw_value that is not UTF-8 is denied 400 header_malformed without asking the engine', async () => {
    const res = await envoy.check(REQ, {
      httpOverride: {
        header_map: {
          headers: [
            { key: ':authority', raw_value: Buffer.from('api.example.com') },
            { key: 'x-bad', raw_value: Buffer.from([0x61, 0xff, 0xfe, 0x62]) },
          ],
        },
      },
    });
    assert.deepEqual(res, {
      grpcCode: 3,
      message: 'header_malformed',
      kind: 'denied',
      denied: { status: 400, headers: [{ key: 'content-type', value: 'text/plain', append: false }], body: 'Bad request' },
    });
    assert.equal(engine.inputs.length, 0);
    assert.equal(engine.rejected[0]?.code, 'header_malformed');
    assert.equal(engine.observed.length, 1);
    assert.equal(engine.observed[0]?.input, undefined);
  });

  test('one header value over the limit is denied 431 header_too_large', async () => {
    const res = await envoy.check({ ...REQ, headers: { 'x-big': 'v'.repeat(MAX_HEADER_BYTES + 1) } });
    assert.equal(res.kind, 'denied');
    assert.equal(res.grpcCode, 3);
    assert.equal(res.message, 'header_too_large');
    assert.deepEqual(deniedOf(res).status, 431);
    assert.equal(engine.inputs.length, 0);
    assert.equal(engine.rejected[0]?.kind, 'too_large');
  });

  test('many headers together over the limit are denied 431, in both header encodings', async () => {
    const headers: Record<string, string> = {};
    for (let i = 0; i < 40; i++) headers[`x-h${i}`] = 'v'.repeat(100); // 40 * 104 > 4096, each small
    for (const rawHeaders of [false, true]) {
      const res = await envoy.check({ ...REQ, headers }, { rawHeaders });
      assert.equal(res.message, 'header_too_large');
      assert.equal(deniedOf(res).status, 431);
    }
    assert.equal(engine.inputs.length, 0);
  });

  test('headers just under the limit are accepted', async () => {
    const res = await envoy.check({ ...REQ, headers: { 'x-big': 'v'.repeat(3000) } });
    assert.equal(res.kind, 'ok');
    assert.equal(engine.inputs[0]?.header('x-big')?.length, 3000);
  });

  test('a missing host is denied 400 host_missing; an empty host field falls back to :authority', async () => {
    const missing = await envoy.check(REQ, {
      httpOverride: { host: '', headers: { ':path': '/', ':method': 'GET', 'x-a': '1' } },
    });
    assert.equal(missing.kind, 'denied');
    assert.equal(missing.message, 'host_missing');
    assert.equal(missing.grpcCode, 3);
    assert.equal(deniedOf(missing).status, 400);
    assert.equal(engine.inputs.length, 0);

    const fallback = await envoy.check(REQ, { httpOverride: { host: '' } });
    assert.equal(fallback.kind, 'ok');
    assert.equal(engine.inputs[0]?.host, 'api.example.com');
  });

  test('a missing method or path is denied 400 request_malformed', async () => {
    for (const override of [
      { method: '', headers: { ':authority': 'a.example', ':path': '/' } },
      { path: '', headers: { ':authority': 'a.example', ':method': 'GET' } },
    ]) {
      const res = await envoy.check(REQ, { httpOverride: override });
      assert.equal(res.message, 'request_malformed');
      assert.equal(deniedOf(res).status, 400);
    }
    assert.equal(engine.inputs.length, 0);
  });

  test('a Check without an HTTP request (network filter) asks checkWithoutHttp', async () => {
    const res = await envoy.check(REQ, { noHttp: true });
    assert.deepEqual(res, {
      grpcCode: 7,
      message: 'no_http_request',
      kind: 'denied',
      denied: { status: 403, headers: [], body: '' },
    });
    assert.equal(engine.withoutHttpCalls, 1);
    assert.equal(engine.inputs.length, 0);
    assert.equal(engine.observed.length, 1);
    assert.equal(engine.observed[0]?.input, undefined);
  });

  test('an asynchronous decision inside the deadline is answered as decided', async () => {
    engine.script = () => later(30, allow({ setHeaders: [{ name: 'x-late', value: 'yes' }] }));
    const res = await envoy.check(REQ, { deadlineMs: 1000 });
    assert.equal(res.kind, 'ok');
    assert.deepEqual(okOf(res).headers, [{ key: 'x-late', value: 'yes', append: false }]);
  });

  test('an asynchronous decision with no call deadline is awaited without a timer', async () => {
    engine.script = () => later(50, allow());
    const res = await envoy.check(REQ, { deadlineMs: Infinity });
    assert.equal(res.kind, 'ok');
  });

  test('an engine that never settles gets a 503 deny before the caller gives up', async () => {
    engine.script = () => never();
    const started = performance.now();
    const res = await envoy.check(REQ, { deadlineMs: 400 });
    const elapsed = performance.now() - started;
    assert.deepEqual(res, {
      grpcCode: 14,
      message: 'deadline_exceeded',
      kind: 'denied',
      denied: {
        status: 503,
        headers: [{ key: 'content-type', value: 'text/plain', append: false }],
        body: 'Service unavailable',
      },
    });
    // Answered at about 400 - MARGIN_MS: after waiting for the engine, before Envoy's deadline.
    assert.ok(elapsed >= 250 && elapsed < 400, `answered after ${elapsed} ms`);
    assert.equal(engine.rejected[0]?.kind, 'unavailable');
    assert.equal(engine.observed.length, 1);
    assert.equal(engine.observed[0]?.decision.code, 'deadline_exceeded');
  });

  test('a deadline already inside the margin is answered at once', async () => {
    const slow = new FakeEngine();
    slow.script = () => never();
    const s = await startGrpcServer({ address: '127.0.0.1:0', engine: slow, maxRequestBytes: 1 << 20, maxHeaderBytes: 4096, deadlineMarginMs: 10_000 });
    const c = createEnvoyClient(`127.0.0.1:${s.port}`);
    try {
      const started = performance.now();
      const res = await c.check(REQ, { deadlineMs: 5000 });
      assert.equal(res.message, 'deadline_exceeded');
      assert.equal(deniedOf(res).status, 503);
      assert.ok(performance.now() - started < 1000, 'did not wait for the engine');
      assert.equal(slow.observed.length, 1);
    } finally {
      c.close();
      await s.close(100);
    }
  });

  test('an engine that throws is denied 500 internal_error and logged', async () => {
    engine.script = () => {
      throw new Error('boom');
    };
    const res = await envoy.check(REQ);
    assert.deepEqual(res, {
      grpcCode: 13,
      message: 'internal_error',
      kind: 'denied',
      denied: { status: 500, headers: [{ key: 'content-type', value: 'text/plain', append: false }], body: 'Internal error' },
    });
    assert.deepEqual(warnings, [{ msg: 'check failed', fields: { code: 'internal_error', error: 'boom' } }]);
  });

  test('an engine promise that rejects is denied 500 internal_error', async () => {
    engine.script = () => Promise.reject(new Error('async boom'));
    const res = await envoy.check(REQ);
    assert.equal(res.kind, 'denied');
    assert.equal(res.message, 'internal_error');
    assert.equal(deniedOf(res).status, 500);
    assert.equal(engine.observed.length, 1);
  });

  test('a reject() that throws still ends in a 500 deny, never an allow', async () => {
    const broken = new FakeEngine();
    broken.script = () => {
      throw new Error('boom');
    };
    broken.reject = () => {
      throw new Error('reject broke too');
    };
    const s = await startGrpcServer({ address: '127.0.0.1:0', engine: broken, maxRequestBytes: 1 << 20, maxHeaderBytes: 4096, deadlineMarginMs: 20 });
    const c = createEnvoyClient(`127.0.0.1:${s.port}`);
    try {
      const res = await c.check(REQ);
      assert.deepEqual(res, {
        grpcCode: 13,
        message: 'internal_error',
        kind: 'denied',
        denied: { status: 500, headers: [], body: 'Internal error' },
      });
      assert.equal(broken.observed.length, 1);
    } finally {
      c.close();
      await s.close(500);
    }
  });

  test('observe is called exactly once per answered Check, whatever the path', async () => {
    let n = 0;
    const late: Promise<Decision>[] = [];
    engine.script = () => {
      n++;
      if (n % 4 === 0) {
        // Settles after the deadline answer has gone out.
        const settling = later(700, allow());
        late.push(settling);
        return settling;
      }
      if (n % 4 === 1) return later(5, allow());
      if (n % 4 === 2) throw new Error('x');
      return deny({ status: 401, code: 'key_unknown' });
    };
    const results = await Promise.all([
      ...Array.from({ length: 8 }, () => envoy.check(REQ, { deadlineMs: 500 })),
      envoy.check(REQ, { noHttp: true }),
      envoy.check(REQ, { httpOverride: { host: '', headers: {} } }),
    ]);
    assert.equal(results.length, 10);
    assert.equal(engine.observed.length, 10);
    assert.deepEqual(
      engine.observed.map((o) => o.decision.code).sort(),
      [
        'authenticated',
        'authenticated',
        'deadline_exceeded',
        'deadline_exceeded',
        'host_missing',
        'internal_error',
        'internal_error',
        'key_unknown',
        'key_unknown',
        'no_http_request',
      ],
    );
    for (const o of engine.observed) assert.ok(o.seconds >= 0 && o.seconds < 1, `seconds ${o.seconds}`);
    // Late settlements after a deadline answer are dropped, not observed again.
    await Promise.all(late);
    // Whatever the server chained on those decisions has run by the next turn of the event loop.
    await new Promise((r) => setImmediate(r));
    assert.equal(late.length, 2);
    assert.equal(engine.observed.length, 10);
  });

  test('options are checked when the server is created', async () => {
    const base = { address: '127.0.0.1:0', engine, maxRequestBytes: 1024, maxHeaderBytes: 1024, deadlineMarginMs: 0 };
    await assert.rejects(startGrpcServer({ ...base, maxRequestBytes: 0 }), /grpc\.maxRequestBytes/);
    await assert.rejects(startGrpcServer({ ...base, maxHeaderBytes: 1.5 }), /grpc\.maxHeaderBytes/);
    await assert.rejects(startGrpcServer({ ...base, deadlineMarginMs: -1 }), /grpc\.deadlineMarginMs/);
    await assert.rejects(startGrpcServer({ ...base, address: '' }), /grpc\.address/);
  });
});

describe('grpc.health.v1', { timeout: 20_000 }, () => {
  const engine = new FakeEngine();
  let server: GrpcServer;
  let health: HealthClient;

  before(async () => {
    server = await startGrpcServer({ address: '127.0.0.1:0', engine, maxRequestBytes: 1 << 20, maxHeaderBytes: 4096, deadlineMarginMs: 20 });
    health = createHealthClient(`127.0.0.1:${server.port}`);
  });
  after(async () => {
    health.close();
    await server.close(1000);
  });

  test('Check reports NOT_SERVING until setServing(true), for the server and for Authorization', async () => {
    assert.equal(await health.check(''), ServingStatus.NOT_SERVING);
    assert.equal(await health.check(AUTHZ), ServingStatus.NOT_SERVING);
    server.setServing(true);
    assert.equal(await health.check(''), ServingStatus.SERVING);
    assert.equal(await health.check(AUTHZ), ServingStatus.SERVING);
    server.setServing(false);
    assert.equal(await health.check(''), ServingStatus.NOT_SERVING);
  });

  test('Check of an unknown service fails NOT_FOUND', async () => {
    await assert.rejects(health.check('no.such.Service'), (err: unknown) => {
      assert.equal(Reflect.get(err as object, 'code'), grpc.status.NOT_FOUND);
      return true;
    });
  });

  test('Watch sends the current status, then each change once', async () => {
    server.setServing(false);
    const watch = health.watch(AUTHZ);
    const whole = health.watch('');
    try {
      assert.equal(await watch.next(), ServingStatus.NOT_SERVING);
      assert.equal(await whole.next(), ServingStatus.NOT_SERVING);
      server.setServing(true);
      server.setServing(true); // no change, no message
      assert.equal(await watch.next(), ServingStatus.SERVING);
      assert.equal(await whole.next(), ServingStatus.SERVING);
      server.setServing(false);
      assert.equal(await watch.next(), ServingStatus.NOT_SERVING);
      await assert.rejects(watch.next(200), /no health update/);
    } finally {
      watch.cancel();
      whole.cancel();
    }
  });

  test('List names the server and Authorization with the current status', async () => {
    server.setServing(false);
    assert.deepEqual(await health.list(), { '': ServingStatus.NOT_SERVING, [AUTHZ]: ServingStatus.NOT_SERVING });
    server.setServing(true);
    assert.deepEqual(await health.list(), { '': ServingStatus.SERVING, [AUTHZ]: ServingStatus.SERVING });
    server.setServing(false);
  });

  test('a request read field by field: unknown fields are passed over; bytes that cannot be read fail INTERNAL', async () => {
    server.setServing(true);
    const service = Buffer.from(AUTHZ, 'utf8');
    const known = Buffer.concat([Buffer.from([0x10, 0x05, 0x1a, 0x01, 0x78]), Buffer.from([0x0a, service.length]), service]);
    assert.equal(await health.checkRaw(known), grpc.status.OK);
    assert.equal(await health.checkRaw(Buffer.concat([Buffer.from([0x0a, 0x03]), Buffer.from('no.')])), grpc.status.NOT_FOUND);
    for (const bad of [[0x0a, 0x05, 0x61], [0x0a], [0x00, 0x01], [0x0b], [0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]]) {
      assert.equal(await health.checkRaw(Buffer.from(bad)), grpc.status.INTERNAL, Buffer.from(bad).toString('hex'));
    }
    assert.equal(await health.check(''), ServingStatus.SERVING, 'the server answers on after them');
    server.setServing(false);
  });

  test('Watch of an unknown service says SERVICE_UNKNOWN and stays open', async () => {
    const watch = health.watch('no.such.Service');
    try {
      assert.equal(await watch.next(), ServingStatus.SERVICE_UNKNOWN);
      server.setServing(true);
      await assert.rejects(watch.next(200), /no health update/);
    } finally {
      watch.cancel();
    }
  });
});

const AUTHZ = 'envoy.service.auth.v3.Authorization';
