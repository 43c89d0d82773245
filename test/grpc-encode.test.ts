// The direct CheckResponse encoder writes exactly the bytes of the generic protobuf encoder, for every
// shape of answer gatehouse gives, and Envoy's canonical protos read them back unchanged.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Decision } from '../src/core/decision.js';
import { encodeCheckResponse } from '../src/transport/grpc-encode.js';
import { loadServices } from '../src/transport/grpc-protos.js';
import { toCheckResponse } from '../src/transport/grpc-response.js';
import { checkMethod, decodeCheckResponse } from './support/envoy-client.js';

const allow = (over: Partial<Extract<Decision, { kind: 'allow' }>> = {}): Decision => ({
  kind: 'allow',
  code: 'authenticated',
  policy: 'ns/p',
  method: 'keys',
  identity: undefined,
  setHeaders: [],
  removeHeaders: [],
  responseHeaders: [],
  removeQuery: [],
  ...over,
});

const deny = (over: Partial<Extract<Decision, { kind: 'deny' }>> = {}): Decision => ({
  kind: 'deny',
  code: 'key_unknown',
  policy: 'ns/p',
  method: 'keys',
  status: 401,
  headers: [],
  body: '',
  detail: '',
  ...over,
});

const long = 'x'.repeat(300);
const CASES: Record<string, Decision> = {
  'empty allow': allow(),
  'allow with identity, removals, cookies and query removal': allow({
    setHeaders: [
      { name: 'x-consumer-id', value: 'acme' },
      { name: 'x-consumer-username', value: 'Ünïcødé ✓' },
      { name: 'x-long', value: long },
    ],
    removeHeaders: ['x-anonymous-consumer', 'apikey'],
    responseHeaders: [
      { name: 'set-cookie', value: 'a=1; Path=/; HttpOnly' },
      { name: 'set-cookie', value: 'b=2' },
    ],
    removeQuery: ['apikey'],
  }),
  'deny 401 with challenge and JSON body': deny({
    headers: [
      { name: 'www-authenticate', value: 'Key realm="shop"' },
      { name: 'content-type', value: 'application/json' },
    ],
    body: '{"code":"key_unknown","message":"Invalid authentication credentials"}',
  }),
  'deny 302 without body': deny({ status: 302, code: 'login_redirect', headers: [{ name: 'location', value: `https://idp.example.com/auth?${long}` }] }),
  'deny 503 with a large body': deny({ status: 503, code: 'session_store_unavailable', body: 'y'.repeat(70_000) }),
  'logout with several Set-Cookie': deny({ status: 200, code: 'session_logout', headers: [{ name: 'set-cookie', value: 'a=; Max-Age=0' }, { name: 'set-cookie', value: 'a_2=; Max-Age=0' }] }),
};

describe('CheckResponse encoder', async () => {
  const generic = (await loadServices()).authorization['Check'];
  assert.ok(generic);
  const canonical = checkMethod();

  for (const [name, decision] of Object.entries(CASES)) {
    it(`${name}: same bytes as the generic encoder, same message through Envoy's protos`, () => {
      const msg = toCheckResponse(decision);
      const direct = encodeCheckResponse(msg);
      assert.deepEqual(direct, generic.responseSerialize(msg));
      assert.deepEqual(decodeCheckResponse(canonical.responseDeserialize(direct)), decodeCheckResponse(canonical.responseDeserialize(generic.responseSerialize(msg))));
    });
  }

  it('frozen (shared) lists are encoded once and copied: same bytes on every use, in every field', () => {
    // As an identity's headers and a policy's strip list reach the encoder: frozen, shared by every Check.
    const names = Object.freeze(['x-consumer-id', 'x-ünïcødé', long]);
    const pairs = Object.freeze([Object.freeze({ name: 'x-consumer-id', value: 'acme' }), Object.freeze({ name: 'x-groups', value: `a, b, ${long}` })]);
    const shapes: Decision[] = [
      allow({ setHeaders: pairs, removeHeaders: names }),
      allow({ setHeaders: pairs, removeHeaders: names, removeQuery: names }),
      allow({ removeHeaders: names, responseHeaders: pairs }),
      deny({ headers: pairs, body: 'no' }),
    ];
    for (let round = 0; round < 3; round++) {
      for (const decision of shapes) {
        const msg = toCheckResponse(decision);
        assert.deepEqual(encodeCheckResponse(msg), generic.responseSerialize(msg), `round ${round}`);
      }
    }
  });

  it('negative status codes (never sent, but int32) match too', () => {
    const msg = { status: { code: -5, message: 'x' } };
    assert.deepEqual(encodeCheckResponse(msg), generic.responseSerialize(msg));
  });
});
