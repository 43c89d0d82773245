// Routing: host (exact, wildcard, catch-all, port), longest path prefix, method, conflicts.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compilePolicy } from '../src/policy/compile.js';
import type { CompiledPolicy } from '../src/core/ports.js';
import { MethodNotAllowed, PolicyIndex, type Route } from '../src/policy/index.js';
import { SecretIndex } from '../src/config/secrets.js';
import { routeOf } from './support/route.js';

function policy(name: string, spec: Record<string, unknown>, createdAt?: string): { policy: CompiledPolicy; createdAt: string | undefined } {
  const result = compilePolicy(
    { namespace: 'ns', name, generation: 1, creationTimestamp: createdAt, spec: { anonymous: { id: 'a' }, authentication: { methods: [] }, ...spec }, origin: 'test' },
    new SecretIndex(),
    { clock: Date.now },
  );
  assert.ok(result.ok, JSON.stringify(result.problems));
  return { policy: result.policy, createdAt };
}

const id = (r: Route): string | undefined => (r instanceof MethodNotAllowed ? '405' : r?.id);

describe('policy index', () => {
  const index = new PolicyIndex([
    policy('exact', { hosts: ['api.example.com'], paths: ['/'] }),
    policy('exact-admin', { hosts: ['api.example.com:443'], paths: ['/admin/'] }),
    policy('exact-admin-post', { hosts: ['api.example.com'], paths: ['/admin/'], methods: ['POST'] }, '2020-01-01T00:00:00Z'),
    policy('wild', { hosts: ['*.example.com'], paths: ['/'] }),
    policy('wild-deep', { hosts: ['*.eu.example.com'], paths: ['/v2'] }),
    policy('any', { hosts: ['*'], paths: ['/public/'] }),
  ]);

  it('an exact host beats a wildcard; a port is ignored', () => {
    assert.equal(id(routeOf(index, 'api.example.com', '/x', 'GET')), 'ns/exact');
    assert.equal(id(routeOf(index, 'shop.example.com', '/x', 'GET')), 'ns/wild');
  });

  it('the longest path prefix wins, then the method', () => {
    assert.equal(id(routeOf(index, 'api.example.com', '/admin/users', 'GET')), 'ns/exact-admin');
    assert.equal(id(routeOf(index, 'api.example.com', '/admin/users', 'POST')), 'ns/exact-admin-post');
    assert.equal(id(routeOf(index, 'api.example.com', '/admin', 'GET')), 'ns/exact');
  });

  it('the most specific wildcard wins and falls back to shorter suffixes and then `*`', () => {
    assert.equal(id(routeOf(index, 'a.eu.example.com', '/v2/x', 'GET')), 'ns/wild-deep');
    assert.equal(id(routeOf(index, 'a.eu.example.com', '/v1', 'GET')), 'ns/wild');
    assert.equal(id(routeOf(index, 'example.com', '/public/x', 'GET')), 'ns/any');
    assert.equal(routeOf(index, 'example.com', '/private', 'GET'), undefined);
    assert.equal(routeOf(index, 'example.org', '/', 'GET'), undefined);
  });

  it('two policies claiming the same host and path: the older serves, the other is reported', () => {
    const a = policy('b-newer', { hosts: ['x.example.com'] }, '2024-05-01T00:00:00Z');
    const b = policy('a-older', { hosts: ['x.example.com'] }, '2024-01-01T00:00:00Z');
    const idx = new PolicyIndex([a, b]);
    assert.equal(id(routeOf(idx, 'x.example.com', '/', 'GET')), 'ns/a-older');
    assert.deepEqual(idx.conflicts, [{ host: 'x.example.com', path: '/', winner: 'ns/a-older', loser: 'ns/b-newer' }]);
    // Without timestamps (files), namespace/name decides, whatever the order given.
    const c = policy('zeta', { hosts: ['y.example.com'] });
    const d = policy('alpha', { hosts: ['y.example.com'] });
    assert.equal(id(routeOf(new PolicyIndex([c, d]), 'y.example.com', '/', 'GET')), 'ns/alpha');
    assert.equal(id(routeOf(new PolicyIndex([d, c]), 'y.example.com', '/', 'GET')), 'ns/alpha');
  });

  it('policies with disjoint methods on one route do not conflict', () => {
    const idx = new PolicyIndex([
      policy('get', { hosts: ['m.example.com'], methods: ['GET'] }),
      policy('post', { hosts: ['m.example.com'], methods: ['POST'] }),
    ]);
    assert.deepEqual(idx.conflicts, []);
    assert.equal(id(routeOf(idx, 'm.example.com', '/', 'POST')), 'ns/post');
    // The route exists; no policy on it covers DELETE: refused, not passed to a less specific policy.
    assert.equal(id(routeOf(idx, 'm.example.com', '/', 'DELETE')), '405');
  });

  it('10,000 policies route as they do with one', () => {
    const many = [];
    for (let i = 0; i < 10_000; i++) many.push(policy(`p${i}`, { hosts: [`h${i}.example.com`], paths: ['/', `/api/v${i % 7}/`] }));
    const idx = new PolicyIndex(many);
    assert.equal(idx.size, 10_000);
    assert.equal(id(routeOf(idx, 'h9999.example.com', '/api/v3/x', 'GET')), 'ns/p9999');
    assert.equal(id(routeOf(idx, 'h42.example.com', '/other', 'GET')), 'ns/p42');
    assert.deepEqual(idx.conflicts, []);
  });
});
