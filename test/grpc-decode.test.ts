// The direct CheckRequest decoder reads what the generic protobuf decoder read, for requests encoded
// with Envoy's own protos (generated, both header encodings, bodies, Unicode, invalid UTF-8) and for
// mutated bytes; what it cannot read it refuses with its own error, and through the server that is an
// INTERNAL status, never an answer.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { type CheckRequestFields, CheckRequestDecodeError, WHOLE_TEXT_MAX, decodeCheckRequest, readCheckRequest } from '../src/transport/grpc-decode.js';
import { loadServices } from '../src/transport/grpc-protos.js';
import { startGrpcServer } from '../src/transport/grpc.js';
import { type CheckOptions, type DecodedCheckResponse, type SimpleHttpRequest, buildCheckRequest, checkMethod, createEnvoyClient, decodeCheckResponse, okOf } from './support/envoy-client.js';
import { FakeEngine, allow } from './support/fake-engine.js';
import { keptHeap } from './support/kept-heap.js';
import { type Random, seeded } from './support/random.js';

// --- a comparable view of either decoder's output -------------------------------------------------

interface HttpView {
  readonly [field: string]: string | readonly (readonly string[])[];
}

interface View {
  readonly attributes?: {
    readonly source?: { readonly address?: { readonly socket?: string | null; readonly pipe?: string | null } };
    readonly request?: { readonly http?: HttpView };
  };
}

const HTTP_STRINGS = ['id', 'method', 'path', 'host', 'scheme', 'body'] as const;

function get(x: unknown, key: string): unknown {
  return typeof x === 'object' && x !== null ? (x as Record<string, unknown>)[key] : undefined;
}

const hex = (b: unknown): string => {
  assert.ok(b instanceof Uint8Array, `expected bytes, got ${typeof b}`);
  return Buffer.from(b).toString('hex');
};

/** Either decoder's output as plain data: absent fields left out, bytes as hex, the headers map last-wins. */
function view(msg: unknown): View {
  const attributes = get(msg, 'attributes');
  if (attributes === undefined) return {};
  const out: { source?: unknown; request?: unknown } = {};
  const source = get(attributes, 'source');
  if (source !== undefined) {
    const address = get(source, 'address');
    if (address === undefined) out.source = {};
    else {
      const a: { socket?: string | null; pipe?: string | null } = {};
      const socket = get(address, 'socket_address');
      if (socket !== undefined) a.socket = (get(socket, 'address') as string | undefined) ?? null;
      const pipe = get(address, 'pipe');
      if (pipe !== undefined) a.pipe = (get(pipe, 'path') as string | undefined) ?? null;
      out.source = { address: a };
    }
  }
  const request = get(attributes, 'request');
  if (request !== undefined) {
    const http = get(request, 'http');
    out.request = http === undefined ? {} : { http: httpView(http) };
  }
  return { attributes: out } as View;
}

function httpView(http: unknown): HttpView {
  const v: Record<string, string | (readonly string[])[]> = {};
  for (const f of HTTP_STRINGS) {
    const s = get(http, f);
    if (s !== undefined) v[f] = s as string;
  }
  const rawBody = get(http, 'raw_body');
  if (rawBody !== undefined) v['raw_body'] = hex(rawBody);
  const headers = get(http, 'headers');
  if (headers !== undefined) {
    const merged = new Map<string, string>();
    if (Array.isArray(headers)) for (let i = 0; i < headers.length; i += 2) merged.set(headers[i] as string, headers[i + 1] as string);
    else for (const [k, val] of Object.entries(headers as Record<string, string>)) merged.set(k, val);
    // Sorted: the generic decoder's plain object puts integer-like names (`123`) first.
    v['headers'] = [...merged].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  }
  const headerMap = get(http, 'header_map');
  if (headerMap !== undefined) {
    const lines = (get(headerMap, 'headers') as unknown[] | undefined) ?? [];
    v['header_map'] = lines.map((h) => {
      const raw = get(h, 'raw_value');
      const value = get(h, 'value');
      return [(get(h, 'key') as string | undefined) ?? '', value === undefined ? '-' : `=${value as string}`, raw === undefined ? '-' : hex(raw)];
    });
  }
  return v;
}

// --- generated requests -----------------------------------------------------------------------------

const HOSTS = ['api.example.com', 'a.b', 'xn--caf-dma.example', 'host:8443', '[::1]:80', '', 'ünïcødé.example'];
const PATHS = ['/', '/v1/items?x=1', '/a/../b', '/%2F%2e', '/caf\u00e9', `/${'p'.repeat(300)}`, ''];
const METHODS = ['GET', 'POST', 'DELETE', 'PROPFIND', ''];
const NAMES = ['x-api-key', 'authorization', 'cookie', 'user-agent', 'accept', 'x-consumer-id', 'x_consumer_id', '0', '123', 'a'.repeat(80)];
const VALUES = ['', 'k', 'Bearer abc.def.ghi', 'a=1; b=2', 'ünïcødé ✓', '\u0000\u0001', 'x'.repeat(500), 'emoji 🎟️'];
const PEERS = ['127.0.0.1', '198.51.100.9', '2001:db8::1', ''];

function randomRequest(r: Random): { req: SimpleHttpRequest; opts: CheckOptions } {
  const headers: Record<string, string | string[]> = {};
  for (let n = r.int(8); n > 0; n--) {
    const name = r.pick(NAMES);
    headers[name] = r.chance(0.2) ? [r.pick(VALUES), r.pick(VALUES)] : r.pick(VALUES);
  }
  const req: SimpleHttpRequest = { method: r.pick(METHODS), host: r.pick(HOSTS), path: r.pick(PATHS), headers, peer: r.pick(PEERS) };
  const opts: { -readonly [K in keyof CheckOptions]: CheckOptions[K] } = { rawHeaders: r.chance(0.5) };
  if (r.chance(0.2)) opts.body = r.chance(0.5) ? r.pick(VALUES) : Buffer.from(Array.from({ length: r.int(40) }, () => r.int(256)));
  if (r.chance(0.2)) opts.contextExtensions = { tenant: r.pick(VALUES) };
  if (r.chance(0.05)) opts.noHttp = true;
  return { req, opts };
}

/** Invalid UTF-8 in a raw header value and in text fields (written as bytes by a hand-built message). */
function withInvalidUtf8(r: Random, bytes: Buffer): Buffer {
  // Replace one ASCII byte inside the message with a lone continuation or an overlong lead byte.
  const copy = Buffer.from(bytes);
  const at = r.int(copy.length);
  if ((copy[at] as number) >= 0x20 && (copy[at] as number) < 0x7f) copy[at] = r.pick([0x80, 0xc0, 0xff, 0xe2]);
  return copy;
}

/**
 * The generic decoder over a schema of only the fields the direct decoder reads (same numbers and
 * types), so that what both skip is skipped whole by both. Over the full schema the generic decoder
 * also looks inside fields a Check never reads (the request time, the destination) and refuses some
 * mutated bytes there that the direct decoder passes over.
 */
function trimmedGeneric(): (b: Buffer) => unknown {
  const s = (id: number, type = 'string'): { type: string; id: number } => ({ type, id });
  const json: unknown = {
      nested: {
        trim: {
          nested: {
            Authorization: { methods: { Check: { requestType: 'CheckRequest', responseType: 'CheckRequest' } } },
            CheckRequest: { fields: { attributes: s(1, 'AttributeContext') } },
            AttributeContext: { fields: { source: s(1, 'Peer'), request: s(4, 'Request') } },
            Peer: { fields: { address: s(1, 'Address') } },
            Address: { fields: { socket_address: s(1, 'SocketAddress'), pipe: s(2, 'Pipe') } },
            SocketAddress: { fields: { address: s(2) } },
            Pipe: { fields: { path: s(1) } },
            Request: { fields: { http: s(2, 'HttpRequest') } },
            HttpRequest: {
              fields: {
                id: s(1),
                method: s(2),
                headers: { keyType: 'string', type: 'string', id: 3 },
                path: s(4),
                host: s(5),
                scheme: s(6),
                body: s(11),
                raw_body: s(12, 'bytes'),
                header_map: s(13, 'HeaderMap'),
              },
            },
            HeaderMap: { fields: { headers: { rule: 'repeated', type: 'HeaderValue', id: 1 } } },
            HeaderValue: { fields: { key: s(1), value: s(2), raw_value: s(3, 'bytes') } },
          },
        },
      },
    };
  const pkg = protoLoader.fromJSON(json as Parameters<typeof protoLoader.fromJSON>[0], { keepCase: true, longs: Number, enums: Number, defaults: false, arrays: false, objects: false, oneofs: false });
  const service = pkg['trim.Authorization'];
  assert.ok(service !== undefined && !('format' in service));
  const check = service['Check'];
  assert.ok(check !== undefined);
  return (b) => check.requestDeserialize(b);
}

async function decoders(): Promise<{ generic: (b: Buffer) => unknown; trimmed: (b: Buffer) => unknown; encode: (m: Record<string, unknown>) => Buffer }> {
  const ours = (await loadServices()).authorization['Check'];
  assert.ok(ours !== undefined);
  const canonical = checkMethod();
  return { generic: (b) => ours.requestDeserialize(b), trimmed: trimmedGeneric(), encode: (m) => Buffer.from(canonical.requestSerialize(m)) };
}

/** The direct decoder's reading, or the error it refused with (which must be its own). */
function directOrRefused(bytes: Buffer, label: string): CheckRequestFields | undefined {
  try {
    return decodeCheckRequest(bytes);
  } catch (err) {
    assert.ok(err instanceof CheckRequestDecodeError, `${label}: ${String(err)}`);
    assert.match(err.message, /^CheckRequest malformed: /);
    return undefined;
  }
}

describe('CheckRequest decoder', async () => {
  const { generic, trimmed, encode } = await decoders();

  test('3,000 generated requests encoded with Envoy’s protos: the same fields as the generic decoder', () => {
    const r = seeded(0x5eed_d0de);
    let rawMode = 0;
    let bodies = 0;
    for (let i = 0; i < 3000; i++) {
      const { req, opts } = randomRequest(r);
      const bytes = encode(buildCheckRequest(req, opts, 40000 + i));
      const direct = decodeCheckRequest(bytes);
      assert.deepEqual(view(direct), view(generic(bytes)), `case ${i}: ${JSON.stringify(req)} ${JSON.stringify(opts)}`);
      if (direct.attributes?.request?.http?.header_map !== undefined) rawMode++;
      if (direct.attributes?.request?.http?.body !== undefined || direct.attributes?.request?.http?.raw_body !== undefined) bodies++;
    }
    // The generator reached both header encodings and both body kinds.
    assert.ok(rawMode > 1000 && rawMode < 2000, `raw header_map cases: ${rawMode}`);
    assert.ok(bodies > 300, `cases with a body: ${bodies}`);
  });

  test('non-ASCII and invalid UTF-8 bytes in text fields read as the generic decoder reads them (U+FFFD)', () => {
    const r = seeded(77);
    let read = 0;
    let replaced = 0;
    for (let i = 0; i < 2000; i++) {
      const { req, opts } = randomRequest(r);
      const bytes = withInvalidUtf8(r, encode(buildCheckRequest(req, opts)));
      const direct = directOrRefused(bytes, `case ${i}`); // refused when the byte landed in a tag or a length
      if (direct === undefined) continue;
      assert.deepEqual(view(direct), view(trimmed(bytes)), `case ${i}`);
      read++;
      if (JSON.stringify(view(direct)).includes('\ufffd')) replaced++;
    }
    assert.ok(read > 1500, `cases read: ${read}`);
    assert.ok(replaced > 500, `cases with a replacement character: ${replaced}`);
  });

  test('a message over the whole-text size (fields decoded one by one) reads the same', () => {
    const bytes = encode(
      buildCheckRequest({ host: 'ünïcødé.example', path: '/up', method: 'PUT', headers: { 'x-a': 'ü', 'x-b': 'plain' } }, { body: 'b'.repeat(70_000) }),
    );
    assert.ok(bytes.length > WHOLE_TEXT_MAX);
    const direct = decodeCheckRequest(bytes);
    assert.deepEqual(view(direct), view(generic(bytes)));
    assert.equal(direct.attributes?.request?.http?.host, 'ünïcødé.example');
    assert.equal(direct.attributes?.request?.http?.body?.length, 70_000);
  });

  test('20,000 mutated requests: what it reads agrees with the generic decoder; the rest is refused with its own error', () => {
    const r = seeded(0xbadbeef);
    const seeds = Array.from({ length: 50 }, (_, i) => encode(buildCheckRequest(randomRequest(r).req, randomRequest(r).opts, 41000 + i)));
    let read = 0;
    let refused = 0;
    for (let i = 0; i < 20_000; i++) {
      const bytes = mutate(r, r.pick(seeds));
      const direct = directOrRefused(bytes, `case ${i}`);
      if (direct === undefined) {
        refused++;
        continue;
      }
      assert.deepEqual(view(direct), view(trimmed(bytes)), `case ${i}: ${bytes.toString('hex')}`);
      read++;
    }
    assert.ok(read > 2000 && refused > 2000, `read ${read}, refused ${refused}`);
  });
});

function mutate(r: Random, bytes: Buffer): Buffer {
  const b = Buffer.from(bytes);
  switch (r.int(5)) {
    case 0: // one byte changed
      b[r.int(b.length)] = r.int(256);
      return b;
    case 1: // truncated
      return b.subarray(0, r.int(b.length));
    case 2: {
      // one byte removed
      const at = r.int(b.length);
      return Buffer.concat([b.subarray(0, at), b.subarray(at + 1)]);
    }
    case 3: {
      // one byte inserted
      const at = r.int(b.length);
      return Buffer.concat([b.subarray(0, at), Buffer.from([r.int(256)]), b.subarray(at)]);
    }
    default: {
      // a bit flipped near the start (tags and lengths of the outer messages live there)
      const at = r.int(Math.min(b.length, 40));
      b[at] = (b[at] as number) ^ (1 << r.int(8));
      return b;
    }
  }
}

// --- hand-built wire -----------------------------------------------------------------------------------

function varint(n: number): number[] {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
}

const tag = (field: number, wire: number): number[] => varint(field * 8 + wire);
const len = (field: number, ...parts: (number[] | Buffer)[]): number[] => {
  const body = parts.flatMap((p) => [...p]);
  return [...tag(field, 2), ...varint(body.length), ...body];
};
const str = (field: number, s: string): number[] => len(field, Buffer.from(s, 'utf8'));
/** CheckRequest{attributes{request{http{...}}}} around the given HttpRequest fields. */
const wrapHttp = (...http: number[][]): Buffer => Buffer.from(len(1, len(4, len(2, ...http))));

describe('CheckRequest decoder on hand-built wire', async () => {
  const { generic } = await decoders();
  const host = str(5, 'api.example.com');

  test('unknown fields of every wire type, at every level, are skipped', () => {
    const unknowns = [
      [...tag(99, 0), ...varint(2 ** 40)],
      [...tag(98, 1), 1, 2, 3, 4, 5, 6, 7, 8],
      [...tag(97, 5), 1, 2, 3, 4],
      len(96, Buffer.from('ignored')),
    ];
    for (const u of unknowns) {
      const bytes = Buffer.from([...len(1, ...[u], len(1, u, len(1, u, len(1, u, str(2, '10.0.0.1')))), len(4, u, len(2, u, host))), ...u]);
      const direct = decodeCheckRequest(bytes);
      assert.equal(direct.attributes?.request?.http?.host, 'api.example.com');
      assert.equal(direct.attributes?.source?.address?.socket_address?.address, '10.0.0.1');
      assert.deepEqual(view(direct), view(generic(bytes)));
    }
  });

  test('a field sent twice keeps the last, a message sent twice replaces the first, as the generic decoder does', () => {
    const bytes = Buffer.from([...len(1, len(4, len(2, str(5, 'first'), str(2, 'GET'))), len(4, len(2, str(5, 'second'), str(5, 'third'))))]);
    const direct = decodeCheckRequest(bytes);
    assert.equal(direct.attributes?.request?.http?.host, 'third');
    assert.equal(direct.attributes?.request?.http?.method, undefined);
    assert.deepEqual(view(direct), view(generic(bytes)));
  });

  test('map entries without key or value read as empty strings; a key sent twice comes twice, in order', () => {
    const bytes = wrapHttp(host, len(3, str(2, 'no-key')), len(3, str(1, 'no-value')), len(3, str(1, 'k'), str(2, '1')), len(3, str(1, 'k'), str(2, '2')));
    const direct = decodeCheckRequest(bytes);
    assert.deepEqual(direct.attributes?.request?.http?.headers, ['', 'no-key', 'no-value', '', 'k', '1', 'k', '2']);
    assert.deepEqual(view(direct), view(generic(bytes)));
  });

  test('a header named __proto__ is a header like any other', () => {
    const bytes = wrapHttp(host, len(3, str(1, '__proto__'), str(2, 'x')));
    assert.deepEqual(decodeCheckRequest(bytes).attributes?.request?.http?.headers, ['__proto__', 'x']);
    assert.deepEqual(view(decodeCheckRequest(bytes)), view(generic(bytes)));
  });

  test('an empty header_map is present with no lines, and takes precedence over the headers map', () => {
    const direct = decodeCheckRequest(wrapHttp(host, len(13), len(3, str(1, 'a'), str(2, 'b'))));
    assert.deepEqual(direct.attributes?.request?.http?.header_map, { headers: [] });
  });

  const refused: Record<string, Buffer> = {
    'a truncated varint': Buffer.from([0x0a, 0x80]),
    'a varint longer than 10 bytes': Buffer.from([...tag(99, 0), 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01]),
    'a length past the end': Buffer.from([0x0a, 0x05, 0x22, 0x00]),
    'a nested length past its parent': Buffer.from([...len(1, [0x22, 0x04, 0x12, 0x00]), 0x00, 0x00]),
    'field number 0': Buffer.from([0x02, 0x00]),
    'a field number past 2^29': Buffer.from([...varint(2 ** 32 + 10), 0x01]),
    'a start-group wire type': Buffer.from([...tag(99, 3), ...tag(99, 4)]),
    'an end-group wire type': Buffer.from(tag(99, 4)),
    'wire type 6': Buffer.from(tag(99, 6)),
    'a known string field sent as a varint': wrapHttp([...tag(5, 0), 0x01]),
    'a known message field sent as fixed32': Buffer.from([...tag(1, 5), 1, 2, 3, 4]),
    'a truncated fixed64': Buffer.from([...tag(99, 1), 1, 2, 3]),
    'a truncated fixed32': Buffer.from([...tag(99, 5), 1, 2]),
  };
  for (const [name, bytes] of Object.entries(refused)) {
    test(`refused: ${name}`, () => {
      assert.throws(() => decodeCheckRequest(bytes), (err: unknown) => err instanceof CheckRequestDecodeError && /^CheckRequest malformed: /.test(err.message));
    });
  }

  test('an empty message decodes to no attributes (the network filter’s shape is handled by the Check)', () => {
    assert.deepEqual(decodeCheckRequest(Buffer.alloc(0)), { attributes: undefined, failure: undefined });
  });
});

describe('CheckRequest decoder and memory', () => {
  test('a field kept after the Check keeps only itself, not the message it came in', { timeout: 60_000 }, () => {
    // 6,000 requests of ~12 KiB (a body; under the whole-text size) each carry a 40-character header
    // value and a short one; the values are kept, the requests dropped. Were a value a view into its
    // message's text, the kept values would hold ~72 MB.
    const decoder = fileURLToPath(new URL('../src/transport/grpc-decode.js', import.meta.url));
    const setup = `
      const { decodeCheckRequest } = await import(${JSON.stringify(decoder)});
    `;
    const out = keptHeap(setup, `
      const varint = (n) => { const out = []; while (n >= 0x80) { out.push((n & 0x7f) | 0x80); n = Math.floor(n / 128); } out.push(n); return out; };
      const len = (field, body) => Buffer.concat([Buffer.from([field * 8 + 2, ...varint(body.length)]), body]);
      const str = (field, s) => len(field, Buffer.from(s, 'latin1'));
      for (let i = 0; i < 6000; i++) {
        const long = 'v'.repeat(36) + String(1000 + i);
        const http = Buffer.concat([str(5, 'a.example'), len(3, Buffer.concat([str(1, 'x-token'), str(2, long)])), len(3, Buffer.concat([str(1, 'x-short'), str(2, 's' + (i % 10))])), str(11, 'b'.repeat(12 * 1024))]);
        const msg = len(1, len(4, len(2, http)));
        if (msg.length > ${WHOLE_TEXT_MAX}) throw new Error('message of ' + msg.length + ' bytes is past the whole-text size');
        const h = decodeCheckRequest(msg).attributes.request.http.headers;
        if (h[1] !== long) throw new Error('decoded ' + h[1]);
        kept.push(h[1], h[3]);
      }
    `);
    assert.equal(out.kept, 12_000);
    assert.ok(out.grown < 8 * 1024 * 1024, `heap grew by ${(out.grown / 1048576).toFixed(1)} MB for 12,000 kept values`);
  });
});

describe('CheckRequest decoder behind the server', { timeout: 20_000 }, () => {
  test('malformed bytes are denied 400 request_malformed without reaching the engine; unknown fields are passed over', async () => {
    const engine = new FakeEngine();
    engine.script = () => allow({ setHeaders: [{ name: 'x-user', value: 'u1' }] });
    const server = await startGrpcServer({ address: '127.0.0.1:0', engine, maxRequestBytes: 1 << 20, maxHeaderBytes: 8192, deadlineMarginMs: 20 });
    const method = checkMethod();
    const client = new grpc.Client(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure());
    const envoy = createEnvoyClient(`127.0.0.1:${server.port}`);
    const sendRaw = (bytes: Buffer): Promise<DecodedCheckResponse> =>
      new Promise((resolve, reject) => {
        client.makeUnaryRequest(
          method.path,
          (b: Buffer) => b,
          method.responseDeserialize,
          bytes,
          new grpc.Metadata(),
          { deadline: Date.now() + 5000 },
          (err, res) => (err !== null ? reject(err) : resolve(decodeCheckResponse(res))),
        );
      });
    try {
      for (const [bytes, detail] of [
        [Buffer.from([0x0a, 0x05, 0x22, 0x00]), 'CheckRequest malformed: length past the end of its message'],
        [Buffer.from([0x0b]), 'CheckRequest malformed: wire type 3'],
        [wrapHttp([...tag(5, 0), 0x01]), 'CheckRequest malformed: field 5 with wire type 0'],
      ] as const) {
        assert.deepEqual(await sendRaw(bytes), {
          grpcCode: 3,
          message: 'request_malformed',
          kind: 'denied',
          denied: { status: 400, headers: [{ key: 'content-type', value: 'text/plain', append: false }], body: 'Bad request' },
        });
        assert.equal(engine.rejected.at(-1)?.message, detail);
      }
      assert.equal(engine.rejected.length, 3);
      assert.equal(engine.inputs.length, 0);
      assert.deepEqual(
        engine.observed.map((o) => [o.decision.code, o.input]),
        [
          ['request_malformed', undefined],
          ['request_malformed', undefined],
          ['request_malformed', undefined],
        ],
      );

      const res = await envoy.checkRaw({ attributes: { request: { http: { host: 'a.example', path: '/', method: 'GET', protocol: 'HTTP/2', size: 12 } }, context_extensions: { a: 'b' } } });
      assert.deepEqual(okOf(res).headers, [{ key: 'x-user', value: 'u1', append: false }]);
      assert.equal(engine.inputs.length, 1);
      assert.equal(engine.inputs[0]?.host, 'a.example');
    } finally {
      envoy.close();
      client.close();
      await server.close(500);
    }
  });

  test('readCheckRequest never throws: a refusal comes back as the failure, a fault of the decoder too', () => {
    const refused = readCheckRequest(Buffer.from([0x02, 0x00]));
    assert.equal(refused.attributes, undefined);
    assert.ok(refused.failure instanceof CheckRequestDecodeError);
    assert.equal(refused.failure.code, 'request_malformed');
    assert.equal(refused.failure.message, 'CheckRequest malformed: field number 0');
    const notABuffer = readCheckRequest(undefined as unknown as Buffer);
    assert.ok(notABuffer.failure instanceof TypeError, String(notABuffer.failure));
  });
});
