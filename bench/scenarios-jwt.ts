// JWT allow scenarios, per algorithm: "cached" repeats one token, which the verified-token cache
// answers after the first Check; "first-seen" runs against a server with that cache off, so every
// Check parses the token and verifies its signature, as for a token never seen before.
import { type BenchJwtAlgorithm, jwtPolicies, jwtTenant, mintJwt, verifyingKey } from './policies-jwt.js';
import type { Scenario } from './scenarios.js';

const CACHED = jwtPolicies({ tokenCache: true });
const FIRST_SEEN = jwtPolicies({ tokenCache: false });

/** For each algorithm: cached, then first-seen. */
export function jwtScenarios(algorithms: readonly BenchJwtAlgorithm[]): Scenario[] {
  return algorithms.flatMap((alg) => {
    const t = jwtTenant(alg);
    return ([['cached', CACHED], ['first-seen', FIRST_SEEN]] as const).map(([label, policies]): Scenario => ({
      name: `jwt allow (${alg}, ${label})`,
      policies,
      transport: 'grpc',
      request: async () => ({
        http: { method: 'GET', host: t.host, path: '/v1/orders?page=2', headers: { authorization: `Bearer ${await mintJwt(alg)}`, 'user-agent': 'bench/1' } },
      }),
      expect: { kind: 'allow', headers: { 'x-consumer-id': t.consumerId, 'x-authenticated-groups': t.groups.join(', ') } },
      // First-seen: every Check verifies the signature, so its bound is the signature floor's.
      ...(label === 'first-seen' ? { signatureFloor: () => ({ alg, key: verifyingKey(alg) }) } : {}),
    }));
  });
}

/**
 * A flood of forged tokens: well formed, signed with another key, so each is parsed and its signature
 * checked (HS256: one HMAC) before the 401. What every Check of an attacker sending junk costs.
 */
export function jwtForgedScenario(): Scenario {
  const t = jwtTenant('HS256');
  return {
    name: 'jwt deny (HS256, forged signature)',
    policies: FIRST_SEEN,
    transport: 'grpc',
    request: async () => {
      const [head, body] = (await mintJwt('HS256')).split('.');
      // 32 bytes of zeros: the right length for HS256, canonical base64url, not the MAC.
      const forged = `${head}.${body}.${Buffer.alloc(32).toString('base64url')}`;
      return { http: { method: 'GET', host: t.host, path: '/v1/orders?page=2', headers: { authorization: `Bearer ${forged}`, 'user-agent': 'bench/1' } } };
    },
    expect: { kind: 'deny', status: 401, code: 'jwt_signature_invalid' },
  };
}
