// The one bounded cache under a flood: what is read keeps its place, what is not goes first, and the
// bound holds whatever is inserted.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BoundedCache } from '../src/core/bounded-cache.js';

describe('bounded cache', () => {
  for (const max of [2, 3, 10, 1000, 4096]) {
    it(`max ${max}: an entry read at least once per max/2 insertions survives a flood of 50 × max new keys`, () => {
      const evicted: string[] = [];
      const cache = new BoundedCache<string, number>(max, (k) => evicted.push(k));
      cache.set('hot', 1);
      const every = Math.max(1, max >> 1);
      for (let i = 0; i < 50 * max; i++) {
        cache.set(`flood-${i}`, i);
        if ((i + 1) % every === 0) assert.equal(cache.get('hot'), 1, `after ${i + 1} insertions`);
        assert.ok(cache.size <= max, `size ${cache.size} after ${i + 1} insertions`);
      }
      assert.ok(!evicted.includes('hot'), 'the hot entry was never evicted');
      assert.equal(cache.size, max);
    });
  }

  for (const held of [2, 3, 10, 100, 1000]) {
    it(`a caller's own bound of ${held} entries (evictOldest): an entry read at least once per ${held}/2 insertions survives a flood of 50 × ${held}`, () => {
      const evicted: string[] = [];
      // The count allows far more: only the caller's bound evicts, long before max/2 insertions.
      const cache = new BoundedCache<string, number>(100_000, (k) => evicted.push(k));
      const insert = (k: string, v: number): void => {
        cache.set(k, v);
        while (cache.size > held && cache.evictOldest()) {
          // the caller's bound
        }
      };
      insert('hot', 1);
      const every = Math.max(1, held >> 1);
      for (let i = 0; i < 50 * held; i++) {
        insert(`flood-${i}`, i);
        if ((i + 1) % every === 0) assert.equal(cache.get('hot'), 1, `after ${i + 1} insertions`);
        assert.equal(cache.size, Math.min(held, i + 2));
      }
      assert.ok(!evicted.includes('hot'), 'the hot entry was never evicted');
      // What was never read went in insertion order.
      const flood = evicted.filter((k) => k !== 'hot');
      assert.deepEqual(flood, Array.from({ length: flood.length }, (_, i) => `flood-${i}`));
      assert.equal(flood.length, 50 * held + 1 - held);
    });
  }

  it('eviction passes over an entry read since it was placed once, then takes it if it is not read again', () => {
    const evicted: string[] = [];
    const cache = new BoundedCache<string, number>(100, (k) => evicted.push(k));
    for (const k of ['a', 'b', 'c']) cache.set(k, 0);
    cache.get('a');
    assert.equal(cache.evictOldest(), true);
    assert.deepEqual(evicted, ['b'], 'a was read: b goes first, a moves behind c');
    assert.equal(cache.evictOldest(), true);
    assert.equal(cache.evictOldest(), true);
    assert.deepEqual(evicted, ['b', 'c', 'a'], 'a, not read again, goes in its turn');
    assert.equal(cache.evictOldest(), false);
  });

  it('an entry never read goes after max insertions, in insertion order', () => {
    const evicted: string[] = [];
    const cache = new BoundedCache<string, number>(100, (k) => evicted.push(k));
    for (let i = 0; i < 250; i++) cache.set(`k${i}`, i);
    assert.deepEqual(evicted, Array.from({ length: 150 }, (_, i) => `k${i}`));
    assert.equal(cache.get('k149'), undefined);
    assert.equal(cache.get('k150'), 150);
  });

  it('an entry read again goes to the back once max/2 insertions have passed, and outlives older ones', () => {
    const cache = new BoundedCache<string, number>(10);
    for (let i = 0; i < 10; i++) cache.set(`k${i}`, i);
    // k0 was placed 9 insertions ago (>= 5): the read moves it behind k9.
    assert.equal(cache.get('k0'), 0);
    for (let i = 10; i < 19; i++) cache.set(`k${i}`, i);
    assert.equal(cache.get('k0'), 0, 'k0 outlived k1..k9');
    for (let i = 1; i < 10; i++) assert.equal(cache.get(`k${i}`), undefined, `k${i} evicted`);
  });

  it('an expired entry reads as absent and is reported evicted; a replaced one too', () => {
    const evicted: [string, number][] = [];
    const cache = new BoundedCache<string, number>(10, (k, v) => evicted.push([k, v]));
    cache.set('a', 1, 1000);
    assert.equal(cache.get('a', 999), 1);
    assert.equal(cache.get('a', 1000), undefined);
    cache.set('b', 2);
    cache.set('b', 3);
    assert.deepEqual(evicted, [['a', 1], ['b', 2]]);
    assert.equal(cache.get('b'), 3);
  });

  it('max 0 keeps nothing, and a size that is not a non-negative integer is refused', () => {
    const cache = new BoundedCache<string, number>(0);
    cache.set('a', 1);
    assert.equal(cache.get('a'), undefined);
    assert.equal(cache.size, 0);
    for (const bad of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) assert.throws(() => new BoundedCache(bad), { name: 'RangeError', message: 'cache size must be a non-negative integer' });
  });
});
