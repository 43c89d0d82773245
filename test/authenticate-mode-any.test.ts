// An untraced `mode: any` policy settles authentication without the bookkeeping for several methods
// while at most one has accepted a credential (core/authenticate.ts). Its outcome must be the one the
// general path gives: every kind of result, answered at once or later, is decided both ways (an
// explained Check takes the general path) and compared, for one method and for every sequence of up
// to three.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { authenticate } from '../src/core/authenticate.js';
import { GatehouseError } from '../src/core/errors.js';
import type { Identity } from '../src/core/identity.js';
import type { CheckInput } from '../src/core/input.js';
import type { AuthnResult, Authenticator, CompiledPolicy, RequestContext } from '../src/core/ports.js';
import type { TraceSink } from '../src/core/trace.js';

const identity: Identity = { method: 'keys', consumerId: 'c1', username: 'u1', customId: undefined, credential: undefined, anonymous: false, claims: {}, groups: ['g'], headers: [] };

const RESULTS: Record<string, AuthnResult> = {
  none: { kind: 'none' },
  success: { kind: 'success', identity },
  'success hiding the credential, with a response header': {
    kind: 'success',
    identity,
    removeHeaders: ['apikey'],
    removeCookies: ['s'],
    responseHeaders: [{ name: 'set-cookie', value: 's=1' }],
  },
  failure: { kind: 'failure', error: new GatehouseError('key_unknown', 'no consumer holds the presented key') },
  respond: {
    kind: 'respond',
    decision: { kind: 'deny', code: 'login_redirect', policy: 'ns/p', method: 'oidc', status: 302, headers: [{ name: 'location', value: 'https://idp/' }], body: '', detail: '' },
  },
};

function method(result: AuthnResult, later: boolean): Authenticator {
  return {
    name: 'keys',
    type: 'apiKey',
    challenge: 'Key',
    headerNames: [],
    authenticate: () => (later ? Promise.resolve(result) : result),
    presented: () => (result.kind === 'none' ? undefined : 'header:apikey'),
  };
}

// authenticate() reads the policy's methods and mode only; the input and context go to the method.
const policyOf = (a: Authenticator): CompiledPolicy => ({ authenticators: [a], mode: 'any' }) as unknown as CompiledPolicy;
const input = {} as CheckInput;
const ctx = {} as RequestContext;
const traced: TraceSink = { method: () => undefined } as unknown as TraceSink;

describe('authentication in mode any without the general bookkeeping', () => {
  for (const [name, result] of Object.entries(RESULTS)) {
    for (const later of [false, true]) {
      it(`${name}${later ? ', answered later' : ''}: the same outcome as the general path`, async () => {
        const policy = policyOf(method(result, later));
        const fast = authenticate(policy, input, ctx);
        const general = authenticate(policy, input, ctx, traced);
        assert.equal(fast instanceof Promise, later);
        assert.deepEqual(await fast, await general);
      });
    }
  }

  it('a method that fails asynchronously rejects the same way on both paths', async () => {
    const broken: Authenticator = { ...method({ kind: 'none' }, true), authenticate: () => Promise.reject(new Error('boom')) };
    await assert.rejects(Promise.resolve(authenticate(policyOf(broken), input, ctx)), /boom/);
    await assert.rejects(Promise.resolve(authenticate(policyOf(broken), input, ctx, traced)), /boom/);
  });

  // Up to three methods, each one of: nothing presented, a success in place A, B or none named, a
  // rejection in place A or B, a login redirect; answered at once or later. 14 + 196 + 2,744 policies.
  type Step = { readonly result: AuthnResult; readonly at: string | undefined };
  const steps = (i: number): Step[] => {
    const own: Identity = { ...identity, consumerId: `c${i}`, groups: [`g${i}`], headers: [{ name: `x-m${i}`, value: String(i) }] };
    const hides = { removeHeaders: [`h${i}`], removeCookies: [`k${i}`], removeQuery: [`q${i}`], responseHeaders: [{ name: `x-r${i}`, value: String(i) }] };
    const refused = new GatehouseError('key_unknown', `method ${i} refused the credential`);
    return [
      { result: { kind: 'none' }, at: undefined },
      { result: { kind: 'success', identity: own, ...hides }, at: 'A' },
      { result: { kind: 'success', identity: own, ...hides }, at: 'B' },
      { result: { kind: 'success', identity: own, ...hides }, at: undefined },
      { result: { kind: 'failure', error: refused }, at: 'A' },
      { result: { kind: 'failure', error: refused }, at: 'B' },
      { result: RESULTS.respond as AuthnResult, at: undefined },
    ];
  };
  const methodOf = (i: number, s: Step, later: boolean): Authenticator => ({
    ...method(s.result, later),
    name: `m${i}`,
    presented: () => s.at,
  });
  const sequences = (n: number): Authenticator[][] => {
    if (n === 0) return [[]];
    const out: Authenticator[][] = [];
    for (const head of sequences(n - 1)) for (const s of steps(n)) for (const later of [false, true]) out.push([...head, methodOf(n, s, later)]);
    return out;
  };
  for (const n of [1, 2, 3]) {
    it(`every sequence of ${n} method${n === 1 ? '' : 's'}: the same outcome as the general path`, async () => {
      const all = sequences(n);
      assert.equal(all.length, 14 ** n);
      let identities = 0;
      for (const authenticators of all) {
        const policy = { authenticators, mode: 'any' } as unknown as CompiledPolicy;
        const fast = await authenticate(policy, input, ctx);
        const general = await authenticate(policy, input, ctx, traced);
        const shown = authenticators.map((a) => `${a.name}@${String(a.presented(input))}`).join(', ');
        assert.deepEqual(fast, general, shown);
        if (fast.kind === 'identity') identities++;
      }
      // Not a vacuous comparison: a good share of the sequences end in an identity.
      assert.ok(identities > all.length / 6, `${identities} identities in ${all.length}`);
    });
  }
});
