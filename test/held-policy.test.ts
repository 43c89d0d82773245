// The store keeps a policy's spec as JSON text: proof that what it compiles is what the source read,
// for generated specs of every JSON-ish shape and for the values JSON cannot carry.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PolicyResource } from '../src/config/resources.js';
import { HeldPolicy } from '../src/policy/held-policy.js';
import { compilePolicy } from '../src/policy/compile.js';
import { PolicyStore } from '../src/policy/store.js';
import { SecretIndex } from '../src/config/secrets.js';
import { type Random, seeded } from './support/random.js';

const resource = (spec: unknown, origin = 'a.yaml#1'): PolicyResource => ({ namespace: 'shop', name: 'api', generation: 2, creationTimestamp: '2026-01-01T00:00:00Z', spec, origin });

const ODD_NUMBERS = [Infinity, -Infinity, NaN, -0];
const STRINGS = ['', 'a', 'api.example.com', 'é', '\u{1F600}', '\ud800', 'x\u0000y', '"\\', 'a'.repeat(40)];
const KEYS = ['hosts', 'a', '__proto__', 'constructor', '0', '10', 'é', ''];

/** A spec-like value; `odd` allows the numbers JSON cannot carry. */
function value(r: Random, depth: number, odd: boolean): unknown {
  const kind = depth > 3 ? r.int(4) : r.int(6);
  switch (kind) {
    case 0:
      return r.pick(STRINGS);
    case 1:
      return odd && r.chance(0.3) ? r.pick(ODD_NUMBERS) : r.pick([0, 1, -1, 0.5, 1e300, -7, 2 ** 53]);
    case 2:
      return r.pick([true, false, null]);
    case 3:
      return r.pick(STRINGS) + String(r.int(1000));
    case 4:
      return Array.from({ length: r.int(4) }, () => value(r, depth + 1, odd));
    default: {
      const o: Record<string, unknown> = {};
      for (let i = r.int(5); i > 0; i--) Object.defineProperty(o, r.pick(KEYS), { value: value(r, depth + 1, odd), writable: true, enumerable: true, configurable: true });
      return o;
    }
  }
}

describe('HeldPolicy', () => {
  it('gives back every generated spec exactly (2,000 specs, JSON-safe or not), as a spec of its own each time', () => {
    const r = seeded(20261203);
    for (let i = 0; i < 2000; i++) {
      const spec = value(r, 0, i % 2 === 1);
      const held = new HeldPolicy(resource(spec));
      const back = held.resource();
      assert.deepStrictEqual(back, resource(spec), `spec ${i}: ${String(JSON.stringify(spec))}`);
      if (typeof spec === 'object' && spec !== null && JSON.stringify(spec) !== undefined && !hasOdd(spec)) assert.notEqual(held.resource().spec, spec, `spec ${i} is a fresh copy`);
    }
  });

  it('a spec with .inf or -0 is kept as written, not as JSON would round it (null, 0)', () => {
    for (const odd of ODD_NUMBERS) {
      const spec = { hosts: ['a.example'], response: { unauthenticated: { status: odd } } };
      const back = new HeldPolicy(resource(spec)).resource().spec as typeof spec;
      assert.ok(Object.is(back.response.unauthenticated.status, odd), String(odd));
    }
    assert.equal(new HeldPolicy(resource(undefined)).resource().spec, undefined);
  });

  it('is the same as another only with the same spec and origin', () => {
    const spec = { hosts: ['a.example'], authentication: { methods: [{ name: 'k', apiKey: { selector: { matchLabels: { t: 'a' } } } }] } };
    const a = new HeldPolicy(resource(spec));
    assert.equal(a.same(new HeldPolicy(resource(structuredClone(spec)))), true);
    assert.equal(a.same(new HeldPolicy(resource(spec, 'b.yaml#1'))), false);
    assert.equal(a.same(new HeldPolicy(resource({ ...spec, hosts: ['b.example'] }))), false);
    const odd = { hosts: ['a.example'], x: Infinity };
    const held = new HeldPolicy(resource(odd));
    assert.equal(held.same(new HeldPolicy(resource(odd))), true);
    assert.equal(held.same(new HeldPolicy(resource({ ...odd }))), false, 'not JSON: same only when the very spec');
    assert.equal(held.same(new HeldPolicy(resource({ hosts: ['a.example'], x: null }))), false);
  });

  it('reads the spec\'s own enforcement', () => {
    assert.equal(new HeldPolicy(resource({ enforcement: 'shadow' })).shadow, true);
    assert.equal(new HeldPolicy(resource({ enforcement: 'enforce' })).shadow, false);
    assert.equal(new HeldPolicy(resource('shadow')).shadow, false);
    assert.equal(new HeldPolicy(resource(null)).shadow, false);
  });

  it('through the store, a spec JSON cannot carry (.inf) is compiled as written and its problem named', () => {
    const spec = { hosts: ['a.example'], authentication: { methods: [{ name: 'k', apiKey: { selector: { matchLabels: { t: 'a' } } } }] }, response: { unauthenticated: { status: Infinity } } };
    const direct = compilePolicy(resource(spec), new SecretIndex(), { clock: Date.now });
    assert.equal(direct.ok, false);
    const first = direct.ok ? undefined : direct.problems.find((p) => p.severity === 'error');
    assert.equal(`${first?.path}: ${first?.message}`, 'spec.response.unauthenticated.status: Expected integer');
    const store = new PolicyStore({ clock: Date.now });
    store.upsertPolicy(resource(spec));
    store.markSynced();
    const status = store.status('shop', 'api');
    assert.equal(status?.reason, 'Invalid');
    assert.equal(status?.message, `${first?.path}: ${first?.message}; its hosts are denied until it is fixed`);
  });
});

function hasOdd(v: unknown): boolean {
  if (typeof v === 'number') return !Number.isFinite(v) || Object.is(v, -0);
  if (typeof v !== 'object' || v === null) return false;
  return Object.values(v).some(hasOdd);
}
