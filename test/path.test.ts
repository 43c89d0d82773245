// The normal form of a request path, exactly: RFC 3986 §5.2.4 and §6.2.2 vectors, and every refusal.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { configuredPath, matchesPrefix, normalizePath, stripPathParameters } from '../src/core/path.js';

const normal = (p: string): string => {
  const n = normalizePath(p);
  return n.ok ? n.path + (n.encodedSlash ? ' (encoded slash)' : '') : `refused ${n.refusal}`;
};

describe('request path normal form', () => {
  it('removes dot segments as RFC 3986 §5.2.4 does', () => {
    const vectors: [string, string][] = [
      ['/a/b/c/./../../g', '/a/g'],
      ['/mid/content=5/../6', '/mid/6'],
      ['/a/b/..', '/a/'],
      ['/a/b/.', '/a/b/'],
      ['/..', '/'],
      ['/../../a', '/a'],
      ['/a/..', '/'],
      ['/.', '/'],
      ['/a/.../b', '/a/.../b'],
      ['/a/..b/c', '/a/..b/c'],
      ['/a.b/c.', '/a.b/c.'],
    ];
    for (const [input, want] of vectors) assert.equal(normal(input), want, input);
  });

  it('merges repeated slashes and keeps one trailing slash', () => {
    assert.deepEqual(['//a', '/a//b', '/a///', '//', '/a/', '/'].map(normal), ['/a', '/a/b', '/a/', '/', '/a/', '/']);
  });

  it('decodes unreserved characters, uppercases other escapes, escapes what must be escaped (RFC 3986 §6.2.2)', () => {
    assert.equal(normal('/%61%64%6D%69%6e'), '/admin');
    assert.equal(normal('/%7e%2d%2E%5F'), '/~-._');
    assert.equal(normal('/a%2e%2E/%2e%2e/b'), '/b');
    assert.equal(normal('/a%3bb%3Dc'), '/a%3Bb%3Dc');
    assert.equal(normal('/a b"<>`{}|^'), '/a%20b%22%3C%3E%60%7B%7D%7C%5E');
    assert.equal(normal('/caf\u00e9'), normal('/caf%C3%A9'));
    assert.equal(normal('/caf%c3%a9'), '/caf%C3%A9');
    assert.equal(normal("/!$&'()*+,;=:@"), "/!$&'()*+,;=:@");
  });

  it('refuses what cannot be read without guessing', () => {
    const refused: [string, string][] = [
      ['', 'path_not_absolute'],
      ['*', 'path_not_absolute'],
      ['http://h/a', 'path_not_absolute'],
      ['/a%', 'path_bad_escape'],
      ['/a%4', 'path_bad_escape'],
      ['/a%g0', 'path_bad_escape'],
      ['/a\u0000b', 'path_control_char'],
      ['/a%00', 'path_control_char'],
      ['/a%0D%0Ab', 'path_control_char'],
      ['/a%7f', 'path_control_char'],
      ['/a\tb', 'path_control_char'],
      ['/a#b', 'path_fragment'],
      ['/a\\..\\b', 'path_backslash'],
      ['/public/..;/admin', 'path_dot_parameters'],
      ['/public/.;x/admin', 'path_dot_parameters'],
      ['/public/%2e%2e;/admin', 'path_dot_parameters'],
    ];
    for (const [input, code] of refused) assert.equal(normal(input), `refused ${code}`, JSON.stringify(input));
  });

  it('keeps encoded slashes as data and says so', () => {
    assert.equal(normal('/a%2fb/../c'), '/c (encoded slash)');
    assert.equal(normal('/files/g%2Fp'), '/files/g%2Fp (encoded slash)');
    assert.equal(normal('/x%5cy'), '/x%5Cy (encoded slash)');
  });

  it('strips ;parameters per segment and matches prefixes at segment boundaries', () => {
    assert.equal(stripPathParameters('/admin;jsessionid=1/x;y=2'), '/admin/x');
    assert.equal(stripPathParameters('/;a/b'), '/b');
    assert.deepEqual(
      [['/static', '/static'], ['/static/x', '/static'], ['/static-x', '/static'], ['/staticx', '/static'], ['/static', '/static/'], ['/static/x', '/static/'], ['/a', '/']].map(([p, x]) => matchesPrefix(p as string, x as string)),
      [true, true, false, false, false, true, true],
    );
  });

  it('refuses policy paths that are not in normal form, naming the form to write', () => {
    assert.deepEqual(configuredPath('/a//b', 0, false), { ok: false, message: 'not in normal form: write "/a/b"' });
    assert.deepEqual(configuredPath('/%61', 0, false), { ok: false, message: 'not in normal form: write "/a"' });
    assert.deepEqual(configuredPath('/Admin', 1, false), { ok: true, path: '/admin' });
    assert.deepEqual(configuredPath('/a%2Fb', 0, false).ok, false);
    assert.deepEqual(configuredPath('/a%2Fb', 0, true), { ok: true, path: '/a%2Fb' });
  });
});
