// The signature floor (bench/signature-engine.ts): the bound the first-seen JWT scenarios are read
// against is only a bound if it really checks every signature, so it allows exactly the tokens the
// bench's policies accept and refuses one whose signature does not verify, for each algorithm.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CheckInput } from '../src/core/input.js';
import { mintJwt, verifyingKey, JWT_ALGORITHMS } from '../bench/policies-jwt.js';
import { SignatureEngine, SIGNATURE_ALGORITHMS, isSignatureAlgorithm } from '../bench/signature-engine.js';

const input = (authorization: string | undefined): CheckInput =>
  new CheckInput({ method: 'GET', scheme: 'https', host: 'a.example', path: '/', headers: new Map(authorization === undefined ? [] : [['authorization', authorization]]), peer: '127.0.0.1' });

/** The token with one character of its signature's first part changed, its length kept. */
function forged(token: string): string {
  const dot = token.lastIndexOf('.');
  const c = token[dot + 1] === 'A' ? 'B' : 'A';
  return `${token.slice(0, dot + 1)}${c}${token.slice(dot + 2)}`;
}

describe('bench signature floor', () => {
  it('covers the bench\'s JWT algorithms', () => {
    assert.deepEqual([...SIGNATURE_ALGORITHMS], [...JWT_ALGORITHMS]);
    assert.equal(isSignatureAlgorithm('ES256'), true);
    assert.equal(isSignatureAlgorithm('es256'), false);
    assert.equal(isSignatureAlgorithm('none'), false);
  });

  for (const alg of JWT_ALGORITHMS) {
    it(`${alg}: allows the bench's token, refuses a forged signature, another algorithm's token and no token`, async () => {
      const engine = new SignatureEngine(alg, verifyingKey(alg));
      const token = await mintJwt(alg);
      assert.equal(engine.check(input(`Bearer ${token}`)).kind, 'allow');
      assert.equal(engine.answered, 1);
      const refused = (authorization: string | undefined): string => {
        const d = engine.check(input(authorization));
        assert.equal(d.kind, 'deny');
        return d.code;
      };
      assert.equal(refused(`Bearer ${forged(token)}`), 'jwt_signature_invalid');
      const other = JWT_ALGORITHMS.find((a) => a !== alg) ?? alg;
      assert.equal(refused(`Bearer ${await mintJwt(other)}`), 'jwt_signature_invalid');
      assert.equal(refused(undefined), 'jwt_malformed');
      assert.equal(refused(`Basic ${token}`), 'jwt_malformed');
      assert.equal(refused('Bearer nodots'), 'jwt_malformed');
      assert.equal(engine.answered, 1);
      assert.deepEqual([...engine.refused], [['jwt_signature_invalid', 2], ['jwt_malformed', 3]]);
    });
  }
});
