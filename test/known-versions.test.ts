// What an informer remembers per object (sources/known-versions.ts): the exact resourceVersion,
// whatever its text, and which objects a complete list no longer has.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KnownNames, KnownVersions } from '../src/sources/known-versions.js';

describe('the versions an informer knows', () => {
  it('an object is known at exactly the version recorded, numeric or not', () => {
    const known = new KnownVersions();
    known.set('shop', 'acme', '12345');
    known.set('shop', 'globex', 'abc-7');
    known.set('bank', 'acme', '0');
    assert.equal(known.size, 3);
    assert.equal(known.has('shop', 'acme', '12345'), true);
    assert.equal(known.has('shop', 'acme', '12346'), false);
    // Opaque text: a version that differs only in spelling is another version.
    assert.equal(known.has('shop', 'acme', '012345'), false);
    assert.equal(known.has('shop', 'acme', '12345.0'), false);
    assert.equal(known.has('shop', 'acme', ' 12345'), false);
    assert.equal(known.has('shop', 'globex', 'abc-7'), true);
    assert.equal(known.has('shop', 'globex', 'abc-8'), false);
    assert.equal(known.has('bank', 'acme', '0'), true);
    assert.equal(known.has('bank', 'acme', '00'), false);
    assert.equal(known.has('bank', 'globex', '0'), false);
  });

  it('versions beyond the exact range of a number stay text and still compare exactly', () => {
    const known = new KnownVersions();
    known.set('shop', 'big', '9007199254740993');
    assert.equal(known.has('shop', 'big', '9007199254740993'), true);
    assert.equal(known.has('shop', 'big', '9007199254740992'), false);
    known.set('shop', 'edge', '999999999999999');
    assert.equal(known.has('shop', 'edge', '999999999999999'), true);
    assert.equal(known.has('shop', 'edge', '999999999999998'), false);
  });

  it('a new version replaces the old one without counting the object twice; delete forgets it', () => {
    const known = new KnownVersions();
    known.set('shop', 'acme', '1');
    known.set('shop', 'acme', '2');
    assert.equal(known.size, 1);
    assert.equal(known.has('shop', 'acme', '1'), false);
    assert.equal(known.has('shop', 'acme', '2'), true);
    assert.equal(known.delete('shop', 'acme'), true);
    assert.equal(known.delete('shop', 'acme'), false);
    assert.equal(known.delete('elsewhere', 'acme'), false);
    assert.equal(known.size, 0);
    assert.equal(known.has('shop', 'acme', '2'), false);
  });

  it('a complete list finds the objects it no longer has, in any namespace', () => {
    const known = new KnownVersions();
    known.set('shop', 'acme', '1');
    known.set('shop', 'globex', '2');
    known.set('bank', 'acme', '3');
    known.set('bank', 'initech', '4');
    const seen = new KnownNames();
    seen.add('shop', 'acme');
    seen.add('bank', 'initech');
    seen.add('bank', 'initech');
    seen.add('new', 'hooli');
    assert.equal(seen.size, 3);
    assert.equal(seen.has('bank', 'initech'), true);
    assert.equal(seen.has('bank', 'acme'), false);
    assert.deepEqual(known.missingFrom(seen), [
      ['shop', 'globex'],
      ['bank', 'acme'],
    ]);
    assert.deepEqual(known.missingFrom(new KnownNames()).length, 4);
  });
});
