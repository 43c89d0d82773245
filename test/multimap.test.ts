// The reverse indexes' multimap (config/multimap.ts): whatever way a key's values are held (alone, in
// an array, in a Set), adding, removing and reading them answers exactly.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Multimap } from '../src/config/multimap.js';

const sorted = (values: Iterable<string>): string[] => [...values].sort();

describe('a multimap of reverse-index values', () => {
  it('a key grows from one value to many and back, answering its exact values at every step', () => {
    const map = new Multimap<string, string>();
    const names = Array.from({ length: 40 }, (_, i) => `p${String(i).padStart(2, '0')}`);
    for (const [i, name] of names.entries()) {
      map.add('k', name);
      map.add('k', name);
      assert.equal(map.count('k'), i + 1);
      assert.deepEqual(sorted(map.values('k')), names.slice(0, i + 1));
    }
    for (const [i, name] of names.entries()) {
      map.delete('k', name);
      map.delete('k', name);
      assert.equal(map.count('k'), names.length - i - 1);
      assert.deepEqual(sorted(map.values('k')), names.slice(i + 1));
    }
    assert.deepEqual([...map.values('k')], []);
  });

  it('removing from the middle of a few values keeps the others; an absent value or key changes nothing', () => {
    const map = new Multimap<string, string>();
    for (const v of ['a', 'b', 'c']) map.add('k', v);
    map.delete('k', 'b');
    assert.deepEqual(sorted(map.values('k')), ['a', 'c']);
    map.delete('k', 'zz');
    map.delete('other', 'a');
    assert.deepEqual(sorted(map.values('k')), ['a', 'c']);
    map.delete('k', 'a');
    assert.deepEqual([...map.values('k')], ['c']);
    assert.equal(map.count('k'), 1);
    map.delete('k', 'a');
    assert.equal(map.count('k'), 1);
    map.delete('k', 'c');
    assert.equal(map.count('k'), 0);
    assert.equal(map.count('never'), 0);
    assert.deepEqual([...map.values('never')], []);
  });

  it('keys are independent, and object values are compared by identity', () => {
    const map = new Multimap<string, { readonly name: string }>();
    const [a, b, alsoA] = [{ name: 'a' }, { name: 'b' }, { name: 'a' }];
    map.add('x', a);
    map.add('x', alsoA);
    map.add('y', b);
    assert.equal(map.count('x'), 2);
    assert.equal(map.count('y'), 1);
    map.delete('x', a);
    assert.deepEqual([...map.values('x')], [alsoA]);
    assert.equal([...map.values('x')][0], alsoA);
    assert.deepEqual([...map.values('y')], [b]);
  });
});
