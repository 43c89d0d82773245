// The cache for long client-sent keys answers exactly what a cache keyed by the whole key would, or
// nothing: generated keys that share their tails never read each other's values.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_KEY_CHARS, ownCopy, TAIL, TailKeyedCache } from '../src/core/tail-keyed-cache.js';

/** A small deterministic generator (mulberry32), so a failure names its seed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('tail-keyed cache', () => {
  it('keys that differ only before their last TAIL characters read only their own value', () => {
    const cache = new TailKeyedCache<string>(100);
    const tail = 'T'.repeat(TAIL);
    cache.set(`aaaa${tail}`, 'a');
    assert.equal(cache.get(`aaaa${tail}`), 'a');
    assert.equal(cache.get(`bbbb${tail}`), undefined, 'same tail, other head');
    assert.equal(cache.get(`aaa${tail}`), undefined, 'a shorter key with the same tail');
    assert.equal(cache.get(`xaaaa${tail}`), undefined, 'a longer key with the same tail');
    // The later of two keys sharing a tail replaces the earlier.
    cache.set(`bbbb${tail}`, 'b');
    assert.equal(cache.get(`bbbb${tail}`), 'b');
    assert.equal(cache.get(`aaaa${tail}`), undefined);
    // delete forgets only the key named, not another one with its tail.
    cache.delete(`aaaa${tail}`);
    assert.equal(cache.get(`bbbb${tail}`), 'b');
    cache.delete(`bbbb${tail}`);
    assert.equal(cache.get(`bbbb${tail}`), undefined);
    assert.equal(cache.size, 0);
  });

  it('keys no longer than TAIL are keys of their own; expiry and the bound are the bounded cache\'s', () => {
    const cache = new TailKeyedCache<number>(2);
    cache.set('', 0);
    cache.set('x'.repeat(TAIL), 1, 1000);
    assert.equal(cache.get(''), 0);
    assert.equal(cache.get('x'.repeat(TAIL), 999), 1);
    assert.equal(cache.get('x'.repeat(TAIL), 1000), undefined, 'expired');
    cache.set('a', 2);
    cache.set('b', 3);
    assert.equal(cache.size, 2);
    assert.equal(cache.get(''), undefined, 'evicted, least recent first');
    assert.deepEqual([cache.get('a'), cache.get('b')], [2, 3]);
  });

  for (const [seed, scopes] of [1, 2, 3, 4, 5].flatMap((seed) => [[seed, 1], [seed, 3]] as const)) {
    it(`seed ${seed}: 20,000 random operations over keys that share tails, in ${scopes === 1 ? 'an unscoped cache' : `${scopes} scopes`}, agree with a whole-key model`, () => {
      const next = random(seed);
      const pick = (s: string): string => s[Math.floor(next() * s.length)] as string;
      // Few heads, few tails: most keys collide with another's tail.
      const tails = Array.from({ length: 6 }, (_, i) => `${'ab'[i % 2]}${'-'.repeat(TAIL - 2)}${i}`);
      const key = (): string => {
        const head = Array.from({ length: Math.floor(next() * 4) }, () => pick('xyz')).join('');
        // Short keys that look like another scope's map key ("1:..." in scope 0) too.
        return next() < 0.1 ? (next() < 0.5 ? head : `${1 + Math.floor(next() * 2)}:${head}`) : head + (tails[Math.floor(next() * tails.length)] as string);
      };
      const cache = new TailKeyedCache<number>(1000, { scoped: scopes > 1 });
      // The model: whole keys per scope, and a set replaces whatever key of its scope shares its tail.
      const model = new Map<string, number>();
      const tailOf = (k: string): string => k.slice(-TAIL);
      const modelKey = (scope: number, k: string): string => JSON.stringify([scope, k]);
      for (let i = 0; i < 20_000; i++) {
        const k = key();
        const scope = Math.floor(next() * scopes);
        const op = next();
        if (op < 0.4) {
          for (const other of [...model.keys()]) {
            const [s, o] = JSON.parse(other) as [number, string];
            if (s === scope && tailOf(o) === tailOf(k)) model.delete(other);
          }
          model.set(modelKey(scope, k), i);
          // Through a copy made from parts, as a request's header would hand it over.
          cache.set(k.split('').join(''), i, undefined, scope);
        } else if (op < 0.5) {
          model.delete(modelKey(scope, k));
          cache.delete(k, scope);
        } else {
          assert.equal(cache.get(k, 0, scope), model.get(modelKey(scope, k)), `operation ${i}: get ${JSON.stringify(k)} in scope ${scope}`);
        }
        assert.equal(cache.size, model.size, `operation ${i}: size`);
        let chars = 0;
        for (const k of model.keys()) chars += (JSON.parse(k) as [number, string])[1].length;
        assert.equal(cache.chars, chars, `operation ${i}: characters held`);
      }
    });
  }

  it('an unscoped cache refuses a scope; in a scoped one scope 0 is a scope like another', () => {
    const plain = new TailKeyedCache<number>(10);
    assert.throws(() => plain.get('k', 0, 1), /an unscoped cache takes scope 0 only/);
    assert.throws(() => plain.set('k', 1, undefined, 2), /an unscoped cache takes scope 0 only/);
    const scoped = new TailKeyedCache<number>(10, { scoped: true });
    scoped.set('k', 0);
    scoped.set('k', 1, undefined, 1);
    assert.deepEqual([scoped.get('k'), scoped.get('k', 0, 1), scoped.get('k', 0, 2), scoped.size], [0, 1, undefined, 2]);
  });

  it('the keys held stay within their character budget: the least recent go first, a key longer than all of it is not kept', () => {
    const cache = new TailKeyedCache<number>(100, { maxChars: 100 });
    const key = (i: number): string => `${'k'.repeat(24)}${String(i).padStart(6, '0')}`; // 30 characters, tails apart
    for (let i = 0; i < 4; i++) cache.set(key(i), i);
    assert.deepEqual([cache.size, cache.chars], [3, 90]);
    assert.deepEqual([0, 1, 2, 3].map((i) => cache.get(key(i))), [undefined, 1, 2, 3]);
    cache.set('x'.repeat(101), 9);
    assert.deepEqual([cache.get('x'.repeat(101)), cache.size, cache.chars], [undefined, 3, 90]);
    // Replaced, deleted, expired: each gives its characters back.
    cache.set(key(1), 10);
    cache.delete(key(2));
    cache.set(`${'k'.repeat(24)}${'y'.repeat(16)}`, 11, 1000);
    assert.deepEqual([cache.size, cache.chars], [3, 100]);
    assert.equal(cache.get(`${'k'.repeat(24)}${'y'.repeat(16)}`, 1000), undefined);
    assert.deepEqual([cache.size, cache.chars], [2, 60]);
    cache.clear();
    assert.deepEqual([cache.size, cache.chars], [0, 0]);
    assert.equal(MAX_KEY_CHARS, 4 * 1024 * 1024);
  });

  it('a hot key read once per half of what the character budget holds survives a flood of 50 times that many keys', () => {
    // 100 keys of 30 characters fill the budget long before the count (10,000) or its max/2 refresh.
    const cache = new TailKeyedCache<number>(10_000, { maxChars: 3000 });
    const key = (i: number): string => `${'k'.repeat(22)}${String(i).padStart(8, '0')}`;
    const hot = `${'h'.repeat(22)}${'0'.repeat(8)}`;
    cache.set(hot, -1);
    for (let i = 0; i < 5000; i++) {
      cache.set(key(i), i);
      if ((i + 1) % 50 === 0) assert.equal(cache.get(hot), -1, `after ${i + 1} insertions`);
      assert.ok(cache.chars <= 3000, `${cache.chars} characters held`);
    }
    // The hot key and the last 99 of the flood.
    assert.equal(cache.size, 100);
    assert.equal(cache.get(key(4999 - 98)), 4999 - 98);
    assert.equal(cache.get(key(4999 - 99)), undefined);
  });

  it('ownCopy gives the same text for every kind of string', () => {
    const long = 'q'.repeat(1000);
    for (const s of ['', 'a', 'é€😀', long.slice(10, 500), `${long}${long}`, 'x"y\\z\u0000\u2028']) assert.equal(ownCopy(s), s);
  });
});
