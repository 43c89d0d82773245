// The session cookie, every part of a split one included, is removed from the Cookie header that
// goes upstream; the application's own cookies pass unchanged.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CheckInput } from '../src/core/input.js';
import { allowFor } from '../src/core/respond.js';
import { buildSetCookies, compileCookieSpec, readCookie } from '../src/session/cookie.js';
import { hideSessionCookie } from '../src/session/upstream-cookie.js';

const spec = compileCookieSpec({ name: 'gh', maxBytes: 256, maxParts: 4 });
const input = (cookie: string | undefined): CheckInput =>
  new CheckInput({
    method: 'GET',
    scheme: 'https',
    host: 'web.example.com',
    path: '/',
    headers: new Map(cookie === undefined ? [] : [['cookie', cookie]]),
    peer: '127.0.0.1',
  });

/** What the upstream gets for `cookie`: the rewritten header, `removed`, or `unchanged`. */
function upstream(cookie: string | undefined): string {
  const request = input(cookie);
  const allow = allowFor('authenticated', undefined, undefined, { identityHeaders: [], identityLookAlikes: new Set() }, request, hideSessionCookie(request, spec), []);
  assert.ok(allow !== undefined);
  const set = allow.setHeaders.find((h) => h.name === 'cookie');
  if (set !== undefined) return set.value;
  return allow.removeHeaders.includes('cookie') ? 'removed' : 'unchanged';
}

describe('session cookie hidden from the upstream', () => {
  it('one cookie among others: the header is rewritten without it', () => {
    assert.equal(upstream('lang=en; gh=abc.def; theme=dark'), 'lang=en; theme=dark');
  });

  it('the session cookie alone: the header is removed', () => {
    assert.equal(upstream('gh=abc.def'), 'removed');
  });

  it('a cookie split in three parts among others: every part goes, the rest keeps its order', () => {
    const value = 'v'.repeat(600);
    const pairs = buildSetCookies(spec, value, { kind: 'session' }, 0).map((sc) => sc.slice(0, sc.indexOf(';')));
    assert.deepEqual(pairs.map((p) => p.slice(0, p.indexOf('='))), ['gh', 'gh_2', 'gh_3']);
    const header = ['a=1', pairs[0], 'b=2', pairs[1], pairs[2], 'c=3'].join('; ');
    const read = readCookie(spec, input(header).cookies);
    assert.deepEqual(read, { kind: 'value', value, parts: 3 });
    assert.equal(upstream(header), 'a=1; b=2; c=3');
  });

  it('a split cookie alone, with a stale fourth part: the header is removed', () => {
    const pairs = buildSetCookies(spec, 'w'.repeat(400), { kind: 'session' }, 0).map((sc) => sc.slice(0, sc.indexOf(';')));
    assert.equal(pairs.length, 2);
    assert.equal(upstream([...pairs, 'gh_4=stale'].join('; ')), 'removed');
  });

  it('no session cookie: nothing changes', () => {
    assert.deepEqual(hideSessionCookie(input('lang=en'), spec), {});
    assert.equal(upstream('lang=en'), 'unchanged');
    assert.deepEqual(hideSessionCookie(input(undefined), spec), {});
  });
});
