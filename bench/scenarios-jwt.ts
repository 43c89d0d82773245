// JWT allow scenarios, per algorithm: "cached" repeats one token, which the verified-token cache
// answers after the first Check; "first-seen" runs against a server with that cache off, so every
// Check parses the token and verifies its signature, as for a token never seen before.
import { type BenchJwtAlgorithm, jwtPolicies, jwtTenant, mintJwt } from './policies-jwt.js';
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
    }));
  });
}
