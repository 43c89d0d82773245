// A Secret's data as gatehouse holds it: one-entry Secrets (nearly every key Secret) in a compact
// map that must read exactly like a Map, so the JWT, session and API key compilers see no difference.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeSecretData } from '../src/sources/resource-fields.js';

function decoded(value: Record<string, unknown>): ReadonlyMap<string, Buffer> {
  const problems: string[] = [];
  const data = decodeSecretData(value, (path, message) => problems.push(`${path}: ${message}`));
  assert.deepEqual(problems, []);
  assert.ok(data !== undefined);
  return data;
}

const text = (m: ReadonlyMap<string, Buffer>): Array<[string, string]> => [...m].map(([k, v]) => [k, v.toString('utf8')]);

describe('Secret data', () => {
  it('a Secret with one api_key entry reads like a Map of that entry', () => {
    const data = decoded({ data: { api_key: Buffer.from('k-1').toString('base64') } });
    assert.equal(data.size, 1);
    assert.equal(data.get('api_key')?.toString('utf8'), 'k-1');
    assert.equal(data.get('other'), undefined);
    assert.equal(data.has('api_key'), true);
    assert.equal(data.has('other'), false);
    assert.deepEqual([...data.keys()], ['api_key']);
    assert.deepEqual([...data.values()].map((v) => v.toString('utf8')), ['k-1']);
    assert.deepEqual(text(data), [['api_key', 'k-1']]);
    assert.deepEqual([...data.entries()].map(([k]) => k), ['api_key']);
    const seen: string[] = [];
    data.forEach((v, k, m) => seen.push(`${k}=${v.toString('utf8')} of ${m.size}`));
    assert.deepEqual(seen, ['api_key=k-1 of 1']);
  });

  it('stringData wins over data for the same key, and the result still has one entry', () => {
    const data = decoded({ data: { api_key: Buffer.from('old').toString('base64') }, stringData: { api_key: 'new' } });
    assert.deepEqual(text(data), [['api_key', 'new']]);
  });

  it('no data is an empty map; several entries keep their order', () => {
    assert.deepEqual(text(decoded({})), []);
    assert.equal(decoded({ data: null }).size, 0);
    const two = decoded({ data: { 'tls.crt': Buffer.from('c').toString('base64') }, stringData: { 'tls.key': 'k' } });
    assert.deepEqual(text(two), [['tls.crt', 'c'], ['tls.key', 'k']]);
  });
});
