// The pure pipeline with scripted methods: phases, modes, async methods, failures and fail-open.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AuthnResult, Authenticator } from '../src/core/ports.js';
import type { Decision } from '../src/core/decision.js';
import { type ErrorCode, GatehouseError, refusalError } from '../src/core/errors.js';
import { NO_CLAIMS, type Identity } from '../src/core/identity.js';
import { CheckInput } from '../src/core/input.js';
import { Pipeline } from '../src/core/pipeline.js';
import { compilePolicy } from '../src/policy/compile.js';
import type { CompiledPolicy } from '../src/core/ports.js';
import { PolicyIndex } from '../src/policy/index.js';
import { SecretIndex } from '../src/config/secrets.js';

const identity = (method: string, id: string, extra: Partial<Identity> = {}): Identity => ({
  method,
  consumerId: id,
  username: undefined,
  customId: undefined,
  credential: undefined,
  groups: [],
  anonymous: false,
  claims: NO_CLAIMS,
  headers: [],
  ...extra,
});

/** A method with a fixed answer; `at` is where its credential sits (methods sharing it read one credential). */
function method(name: string, result: AuthnResult | (() => Promise<AuthnResult>), at = `header:${name}`): Authenticator {
  return {
    name,
    type: 'apiKey',
    challenge: 'Test',
    headerNames: [],
    presented: () => (typeof result !== 'function' && result.kind === 'none' ? undefined : at),
    authenticate: () => (typeof result === 'function' ? result() : result),
  };
}

function setup(spec: Record<string, unknown>, methods: Authenticator[]): PolicyIndex {
  const r = compilePolicy(
    { namespace: 'ns', name: 'p', generation: 1, creationTimestamp: undefined, origin: 't', spec: { hosts: ['h.example.com'], authentication: { methods: [] }, anonymous: { id: 'anon' }, ...spec } },
    new SecretIndex(),
    { clock: () => 0 },
  );
  assert.ok(r.ok);
  const policy: CompiledPolicy = { ...r.policy, authenticators: methods };
  return new PolicyIndex([{ policy, createdAt: undefined }]);
}

const input = new CheckInput({ method: 'GET', scheme: 'https', host: 'h.example.com', path: '/', headers: new Map(), peer: '127.0.0.1' });
const pipeline = new Pipeline({ onNoPolicy: 'deny' });
const decide = async (index: PolicyIndex): Promise<Decision> => pipeline.decide(index, input, 0);
const fail = (code: ErrorCode): AuthnResult => ({ kind: 'failure', error: new GatehouseError(code, code) });
const ok = (id: string, extra: Partial<Identity> = {}): AuthnResult => ({ kind: 'success', identity: identity('m', id, extra) });

describe('pipeline', () => {
  it('synchronous methods give a synchronous decision (no promise on the API-key path)', () => {
    const d = pipeline.decide(setup({}, [method('a', ok('alice'))]), input, 0);
    assert.equal(typeof (d as { then?: unknown }).then, 'undefined');
    assert.equal((d as Decision).kind, 'allow');
  });

  it('mode any: one credential refused by one method and accepted by another (two issuers) allows', async () => {
    const d = await decide(setup({}, [method('a', fail('jwt_key_unknown'), 'header:authorization'), method('b', async () => ok('bob'), 'header:authorization')]));
    assert.equal(d.kind, 'allow');
    assert.equal(d.kind === 'allow' && d.identity?.consumerId, 'bob');
  });

  it('mode any: a refused credential is a 401 even when another credential succeeds', async () => {
    const failedFirst = await decide(setup({}, [method('a', fail('key_unknown')), method('b', async () => ok('bob'))]));
    assert.deepEqual([failedFirst.kind, failedFirst.code, failedFirst.method], ['deny', 'key_unknown', 'a']);
    const failedLast = await decide(setup({}, [method('a', ok('alice')), method('b', fail('jwt_expired'))]));
    assert.deepEqual([failedLast.kind, failedLast.code, failedLast.method], ['deny', 'jwt_expired', 'b']);
  });

  it('mode any: only failures deny with the first failure, not anonymous', async () => {
    const d = await decide(setup({}, [method('a', { kind: 'none' }), method('b', fail('jwt_expired')), method('c', fail('key_unknown'))]));
    assert.equal(d.kind, 'deny');
    assert.equal(d.code, 'jwt_expired');
    assert.equal(d.method, 'b');
  });

  it('mode all: a missing credential denies even after successes', async () => {
    const d = await decide(setup({ authentication: { mode: 'all', methods: [] } }, [method('a', ok('alice')), method('b', { kind: 'none' })]));
    assert.equal(d.kind, 'deny');
    assert.equal(d.code, 'credential_missing');
    assert.equal(d.kind === 'deny' && d.status, 401);
  });

  it('a method that answers itself (a redirect) decides at once', async () => {
    const redirect: Decision = { kind: 'deny', code: 'login_redirect', policy: 'ns/p', method: 'sso', status: 302, headers: [{ name: 'location', value: 'https://idp/' }], body: '', detail: '' };
    const d = await decide(setup({}, [method('sso', async () => ({ kind: 'respond', decision: redirect })), method('b', ok('never'))]));
    assert.deepEqual(d, redirect);
  });

  it('an infrastructure failure denies with 503 unless the policy fails open', async () => {
    const closed = await decide(setup({}, [method('a', async () => { throw new GatehouseError('session_store_unavailable', 'redis down'); })]));
    assert.equal(closed.kind, 'deny');
    assert.equal(closed.kind === 'deny' && closed.status, 503);
    assert.equal(closed.kind === 'deny' && JSON.parse(closed.body).message, 'Service unavailable');
    const open = await decide(setup({ failureMode: 'open' }, [method('a', async () => { throw new GatehouseError('session_store_unavailable', 'redis down'); })]));
    assert.equal(open.kind, 'allow');
    assert.equal(open.code, 'fail_open');
    assert.equal(open.kind === 'allow' && open.identity, undefined);
  });

  it('an unexpected exception is an internal error whose text never reaches the client', async () => {
    const d = await decide(setup({}, [method('a', () => { throw new Error('secret internals'); })]));
    assert.equal(d.kind, 'deny');
    if (d.kind !== 'deny') return;
    assert.equal(d.status, 500);
    assert.equal(d.body, '{"code":"internal_error","message":"Internal error"}');
    assert.equal(d.detail, 'secret internals');
  });

  it('an identity value with a line break is never sent as a header', async () => {
    const d = await decide(setup({}, [method('a', ok('evil\r\nx-admin: 1'))]));
    assert.equal(d.kind, 'deny');
    assert.equal(d.code, 'identity_header_invalid');
  });

  it('before the first sync every request is denied with 503 not_ready', () => {
    const d = pipeline.decide(undefined, input, 0) as Decision;
    assert.equal(d.kind, 'deny');
    assert.equal(d.code, 'not_ready');
    assert.equal(d.kind === 'deny' && d.status, 503);
  });

  it('custom deny responses: status, headers and body from the policy', async () => {
    const index = setup(
      { response: { unauthenticated: { status: 401, headers: { 'X-Reason': 'login' }, body: { json: { error: 'login required' } } } } },
      [method('a', fail('key_unknown'))],
    );
    const d = await decide(index);
    assert.equal(d.kind, 'deny');
    if (d.kind !== 'deny') return;
    assert.deepEqual(d.headers, [
      { name: 'www-authenticate', value: 'Test realm="h.example.com"' },
      { name: 'content-type', value: 'application/json' },
      { name: 'x-reason', value: 'login' },
    ]);
    assert.equal(d.body, '{"error":"login required"}');
  });

  it('the anonymous consumer can be refused by authorization', async () => {
    const d = await decide(setup({ authorization: { allowAnonymous: false } }, [method('a', { kind: 'none' })]));
    assert.equal(d.kind, 'deny');
    assert.equal(d.code, 'anonymous_forbidden');
    assert.equal(d.kind === 'deny' && d.status, 403);
  });
});

describe('pipeline: upstream header lists of shared and one-off identities', () => {
  const headersOf = (d: Decision): readonly { readonly name: string; readonly value: string }[] => {
    assert.equal(d.kind, 'allow');
    return d.kind === 'allow' ? d.setHeaders : [];
  };
  const expected = [
    { name: 'x-consumer-id', value: 'alice' },
    { name: 'x-consumer-username', value: 'Alice' },
    { name: 'x-tier', value: 'gold' },
  ];

  it('a shared identity (a key, a cached token): its lists are built once, frozen, and the same on every Check', () => {
    const shared = identity('m', 'alice', { username: 'Alice', headers: [{ name: 'x-tier', value: 'gold' }] });
    const index = setup({}, [method('a', { kind: 'success', identity: shared })]);
    const first = headersOf(pipeline.decide(index, input, 0) as Decision);
    const second = headersOf(pipeline.decide(index, input, 0) as Decision);
    assert.deepEqual(first, expected);
    assert.equal(second, first);
    assert.ok(Object.isFrozen(first));
  });

  it('mode all: the identity merged from every method is made per Check, so it is transient and its lists are not kept', () => {
    const index = setup({ authentication: { mode: 'all', methods: [] } }, [
      method('a', ok('alice', { username: 'Alice', groups: ['staff'] })),
      method('b', ok('bob', { groups: ['beta'], headers: [{ name: 'x-tier', value: 'gold' }] })),
    ]);
    const d = pipeline.decide(index, input, 0) as Decision;
    assert.equal(d.kind, 'allow');
    if (d.kind !== 'allow') return;
    assert.equal(d.identity?.transient, true);
    assert.deepEqual(d.setHeaders, [
      { name: 'x-consumer-id', value: 'alice' },
      { name: 'x-consumer-username', value: 'Alice' },
      { name: 'x-authenticated-groups', value: 'staff, beta' },
      { name: 'x-tier', value: 'gold' },
    ]);
    assert.equal(Object.isFrozen(d.setHeaders), false);
  });

  it('a one-off identity (transient: a token verified with the cache off): the same headers, in a list nothing keeps', () => {
    const made: Identity[] = [];
    const oneOff = (): AuthnResult => {
      const id = identity('m', 'alice', { username: 'Alice', headers: [{ name: 'x-tier', value: 'gold' }], transient: true });
      made.push(id);
      return { kind: 'success', identity: id };
    };
    const index = setup({}, [{ ...method('a', { kind: 'none' }), presented: () => 'header:a', authenticate: oneOff }]);
    const first = headersOf(pipeline.decide(index, input, 0) as Decision);
    const second = headersOf(pipeline.decide(index, input, 0) as Decision);
    assert.equal(made.length, 2);
    assert.deepEqual(first, expected);
    assert.deepEqual(second, expected);
    assert.notEqual(second, first);
    // Not frozen: transports cache the encoding of frozen lists only, so a one-off list is encoded once and dropped.
    assert.equal(Object.isFrozen(first), false);
    assert.equal(Object.isFrozen(second), false);
  });
});

describe('pipeline: refusals', () => {
  const refusedWith = (error: GatehouseError): Authenticator => method('a', { kind: 'failure', error });
  const denyOf = (d: Decision): Extract<Decision, { kind: 'deny' }> => {
    assert.equal(d.kind, 'deny');
    if (d.kind !== 'deny') throw new Error('not a deny');
    return d;
  };

  it('errors made per request with a shared challenge: one set of headers, each deny with its own detail', () => {
    const challenge = Object.freeze({ scheme: 'Bearer', params: Object.freeze({ error: 'invalid_token' }) });
    let n = 0;
    const m: Authenticator = { ...method('a', { kind: 'none' }), presented: () => 'header:a', authenticate: () => ({ kind: 'failure', error: refusalError('jwt_signature_invalid', `forged token ${++n}`, { challenge }) }) };
    const index = setup({}, [m]);
    const first = denyOf(pipeline.decide(index, input, 0) as Decision);
    const second = denyOf(pipeline.decide(index, input, 0) as Decision);
    assert.deepEqual([first.status, first.code, first.detail, second.detail], [401, 'jwt_signature_invalid', 'forged token 1', 'forged token 2']);
    assert.equal(second.headers, first.headers);
    assert.ok(Object.isFrozen(first.headers));
    assert.deepEqual(second.headers.map((h) => h.name), ['www-authenticate', 'content-type']);
    assert.equal(second.body, first.body);
  });

  it('a challenge made for one request is answered as built and nothing of it is kept', () => {
    let n = 0;
    const m: Authenticator = { ...method('a', { kind: 'none' }), presented: () => 'header:a', authenticate: () => ({ kind: 'failure', error: new GatehouseError('jwt_expired', `token ${++n}`, { challenge: { scheme: 'Bearer', params: { error: `e${n}` } } }) }) };
    const index = setup({}, [m]);
    const first = denyOf(pipeline.decide(index, input, 0) as Decision);
    const second = denyOf(pipeline.decide(index, input, 0) as Decision);
    assert.equal(first.headers.find((h) => h.name === 'www-authenticate')?.value, 'Bearer realm="h.example.com", error="e1"');
    assert.equal(second.headers.find((h) => h.name === 'www-authenticate')?.value, 'Bearer realm="h.example.com", error="e2"');
    assert.equal(Object.isFrozen(second.headers), false);
  });

  it('a shared error answers the same frozen deny every time', () => {
    const shared = new GatehouseError('key_unknown', 'no consumer holds the presented key', { challenge: Object.freeze({ scheme: 'Key' }) });
    const index = setup({}, [refusedWith(shared)]);
    const first = denyOf(pipeline.decide(index, input, 0) as Decision);
    assert.equal(pipeline.decide(index, input, 0), first);
    assert.ok(Object.isFrozen(first));
  });

  it('a refusal error carries no stack trace: it is an answer, not a fault', () => {
    const e = refusalError('jwt_expired', 'token expired');
    assert.equal(e.stack, 'GatehouseError: token expired');
    assert.equal(Error.stackTraceLimit, 10);
    assert.match(new GatehouseError('jwt_expired', 'x').stack ?? '', /\n {4}at /);
  });
});
