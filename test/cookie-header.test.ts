// The Cookie header as every method reads it (CheckInput.cookies): generated headers, hostile ones
// included, read exactly as the plain reading (split on `;`, cut at the first `=`, trim, first name
// wins, one pair of quotes dropped) reads them.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CheckInput, parseCookieHeader } from '../src/core/input.js';
import { seeded } from './support/random.js';

/** The reading by parts, kept here as the reference. */
function byParts(raw: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of raw.split(';')) {
    const eq = part.indexOf('=');
    if (eq === -1) continue;
    const name = part.slice(0, eq).trim();
    if (name === '' || out.has(name)) continue;
    let value = part.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    out.set(name, value);
  }
  return out;
}

describe('the Cookie header', () => {
  it('a browser\'s header: names, values, quotes, repeats, spaces', () => {
    const got = parseCookieHeader(' theme=dark;lang = en ; gh_session=abc=def==; theme=light; q="v w"; "="; e=; =x; bare; t=\t"\t');
    assert.deepEqual([...got], [
      ['theme', 'dark'],
      ['lang', 'en'],
      ['gh_session', 'abc=def=='],
      ['q', 'v w'],
      ['"', '"'],
      ['e', ''],
      ['t', '"'],
    ]);
  });

  for (const seed of [1, 2, 3, 4]) {
    it(`seed ${seed}: 5,000 generated headers read as by parts`, () => {
      const rnd = seeded(seed);
      // Few characters, so separators, quotes, repeats and every kind of whitespace trim() knows meet often.
      const alphabet = ['a', 'b', 'c', '=', '=', ';', ';', ' ', '\t', '"', '\u00a0', '\ufeff', '\n', 'é', '1'];
      for (let i = 0; i < 5000; i++) {
        const raw = Array.from({ length: rnd.int(40) }, () => rnd.pick(alphabet)).join('');
        assert.deepEqual([...parseCookieHeader(raw)], [...byParts(raw)], JSON.stringify(raw));
      }
    });
  }

  it('hostile shapes: thousands of pairs without `=`, a lone `=` at the end, a header of separators', () => {
    for (const raw of ['a;'.repeat(4000) + 'z=1', ';'.repeat(8000), '='.repeat(8000), 'x'.repeat(8000) + '=', `${'k=v;'.repeat(2000)}k=w`]) {
      assert.deepEqual([...parseCookieHeader(raw)], [...byParts(raw)], raw.slice(0, 20));
    }
  });

  it('CheckInput reads it once, and a request without one has no cookies', () => {
    const input = (headers: Record<string, string>): CheckInput => new CheckInput({ method: 'GET', scheme: 'https', host: 'a.example', path: '/', headers: new Map(Object.entries(headers)), peer: '127.0.0.1' });
    const with_ = input({ cookie: 'a=1; b=2' });
    assert.equal(with_.cookies, with_.cookies);
    assert.deepEqual([with_.cookie('a'), with_.cookie('b'), with_.cookie('c')], ['1', '2', undefined]);
    assert.equal(input({}).cookies.size, 0);
  });
});
