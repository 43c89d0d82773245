// The gRPC transport lets go of each call when its HTTP/2 stream closes (src/transport/grpc-release.ts):
// the listeners grpc-js put on the stream, which hold its call and everything the call reached, are
// removed, so that the call dies in V8's young generation. What that saves is measured by
// `node dist/bench/promotion.js` (bench/README.md); here, that it happens on real streams, for every
// kind of ending, and that nothing else is touched.
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { connect, constants } from 'node:http2';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { CheckHandler } from '../src/transport/grpc-check.js';
import { releaseCallOnClose } from '../src/transport/grpc-release.js';
import { AUTHORIZATION_DEFINITION } from '../src/transport/grpc-services.js';
import { SERVER_INTERCEPTORS } from '../src/transport/grpc.js';
import { frame } from '../bench/channel-http2.js';
import { type EnvoyClient, buildCheckRequest, checkMethod, createEnvoyClient } from './support/envoy-client.js';
import { allow, FakeEngine, never } from './support/fake-engine.js';

const CALL_EVENTS = ['data', 'end', 'wantTrailers'] as const;
const REQ = { host: 'api.example.com', path: '/orders' };

/** Allows, or never answers for a path of /hang, and keeps nothing of what it saw. */
function engine(): FakeEngine {
  const e = new FakeEngine({ keep: false });
  e.script = (input) => (input.path === '/hang' ? never() : allow({ code: 'noop' }));
  return e;
}

/** Each call's HTTP/2 stream, as grpc-js's base call holds it, with its listener counts at the start. */
interface Seen {
  readonly stream: EventEmitter;
  readonly atStart: Readonly<Record<string, number>>;
}

function counts(stream: EventEmitter): Record<string, number> {
  return Object.fromEntries(CALL_EVENTS.map((e) => [e, stream.listenerCount(e)]));
}

/** A server with the given interceptors, then one that records each call's stream. */
async function serve(interceptors: readonly grpc.ServerInterceptor[], seen: Seen[]): Promise<{ readonly port: number; readonly server: grpc.Server }> {
  const spy: grpc.ServerInterceptor = (_method, call) => {
    const stream: unknown = Reflect.get(call, 'stream');
    assert.ok(stream instanceof EventEmitter, "grpc-js's base call no longer holds its stream as `stream`");
    seen.push({ stream, atStart: counts(stream) });
    return call as grpc.ServerInterceptingCall;
  };
  const server = new grpc.Server({ interceptors: [...interceptors, spy] });
  server.addService(AUTHORIZATION_DEFINITION, { Check: new CheckHandler(engine(), 8192, 100, undefined).handle });
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, bound) => (err === null ? resolve(bound) : reject(err)));
  });
  return { port, server };
}

/** Resolves once every recorded stream has emitted 'close'. */
async function allClosed(seen: readonly Seen[]): Promise<void> {
  await Promise.all(
    seen.map(({ stream }) =>
      Reflect.get(stream, 'closed') === true && Reflect.get(stream, 'destroyed') === true ? undefined : new Promise((resolve) => stream.once('close', resolve)),
    ),
  );
  // 'close' listeners run in the order they were added: the release's may still be due.
  await new Promise((resolve) => setImmediate(resolve));
}

describe('calls let go when their stream closes', { timeout: 30_000 }, () => {
  const released: Seen[] = [];
  const kept: Seen[] = [];
  let withRelease: { readonly port: number; readonly server: grpc.Server };
  let without: { readonly port: number; readonly server: grpc.Server };
  let envoyA: EnvoyClient;
  let envoyB: EnvoyClient;

  before(async () => {
    withRelease = await serve(SERVER_INTERCEPTORS, released);
    without = await serve([], kept);
    envoyA = createEnvoyClient(`127.0.0.1:${withRelease.port}`);
    envoyB = createEnvoyClient(`127.0.0.1:${without.port}`);
  });
  after(() => {
    envoyA.close();
    envoyB.close();
    withRelease.server.forceShutdown();
    without.server.forceShutdown();
  });

  test("the server's interceptors start with the release", () => {
    assert.equal(SERVER_INTERCEPTORS[0], releaseCallOnClose);
  });

  test('answered Checks: grpc-js listened on each stream; once it closed, those listeners are gone', async () => {
    released.length = 0;
    kept.length = 0;
    const answers = await Promise.all(Array.from({ length: 20 }, () => envoyA.check(REQ)));
    await Promise.all(Array.from({ length: 20 }, () => envoyB.check(REQ)));
    for (const a of answers) assert.deepEqual([a.kind, a.grpcCode], ['ok', 0]);
    await allClosed(released);
    await allClosed(kept);
    assert.equal(released.length, 20);
    assert.equal(kept.length, 20);
    for (const { stream, atStart } of released) {
      assert.deepEqual(atStart, { data: 1, end: atStart['end'], wantTrailers: 0 });
      assert.ok((atStart['end'] ?? 0) >= 1);
      assert.deepEqual(counts(stream), { data: 0, end: 0, wantTrailers: 0 });
      assert.equal(stream.listenerCount('error') >= 1, true, "grpc-js's error listener stays");
    }
    // Without the release, grpc-js's own listeners (and through them its call) stay on the closed stream.
    for (const { stream } of kept) assert.ok(stream.listenerCount('data') >= 1 && stream.listenerCount('end') >= 1);
  });

  test('a Check cut off by its deadline, and one its client cancels, let go too', async () => {
    released.length = 0;
    const late = await envoyA.check({ ...REQ, path: '/hang' }, { deadlineMs: 400 });
    assert.deepEqual([late.kind, late.message], ['denied', 'deadline_exceeded']);
    // Cancelled: Envoy resets the stream (RST_STREAM CANCEL) when its own timeout fires first.
    const session = connect(`http://127.0.0.1:${withRelease.port}`);
    try {
      const message = checkMethod().requestSerialize(buildCheckRequest({ ...REQ, path: '/hang' }));
      const body = frame(message);
      const stream = session.request({ ':method': 'POST', ':path': '/envoy.service.auth.v3.Authorization/Check', 'content-type': 'application/grpc', te: 'trailers' });
      stream.end(body);
      while (released.length < 2) await new Promise((resolve) => setTimeout(resolve, 10));
      await new Promise<void>((resolve) => stream.close(constants.NGHTTP2_CANCEL, resolve));
    } finally {
      session.close();
    }
    await allClosed(released);
    assert.equal(released.length, 2);
    for (const { stream } of released) {
      assert.equal(Reflect.get(stream, 'destroyed'), true);
      assert.deepEqual(counts(stream), { data: 0, end: 0, wantTrailers: 0 });
    }
  });

  test('on an emitter, only the listeners that hold the call go, and only at close', () => {
    const stream = new EventEmitter();
    const heard: string[] = [];
    for (const event of [...CALL_EVENTS, 'error', 'close']) stream.on(event, () => heard.push(event));
    const call = { stream };
    const method = AUTHORIZATION_DEFINITION['Check'];
    assert.ok(method !== undefined);
    assert.equal(releaseCallOnClose(method, call as unknown as grpc.ServerInterceptingCall), call);
    stream.emit('data', 'x');
    assert.equal(stream.listenerCount('data'), 1);
    stream.emit('close');
    assert.deepEqual(heard, ['data', 'close']);
    assert.deepEqual(
      [...CALL_EVENTS, 'error', 'close'].map((e) => stream.listenerCount(e)),
      [0, 0, 0, 1, 1],
    );
    // A call that holds no emitter (another interceptor in front) is passed on untouched.
    const plain = { stream: 'not a stream' };
    assert.equal(releaseCallOnClose(method, plain as unknown as grpc.ServerInterceptingCall), plain);
  });
});
