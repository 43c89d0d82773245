// JWT allow scenarios, per algorithm: "cached" repeats one token, which the verified-token cache
// answers after the first Check; "first-seen" runs against a server with that cache off, so every
// Check parses the token and verifies its signature, as for a token never seen before.
import { JWT_ALGORITHMS, jwtPolicies, jwtTenant, mintJwt } from './policies-jwt.js';
import type { Scenario, ServerSpec } from './scenarios.js';

const CACHED: ServerSpec = { kind: 'gatehouse', policies: jwtPolicies({ tokenCache: true }) };
const FIRST_SEEN: ServerSpec = { kind: 'gatehouse', policies: jwtPolicies({ tokenCache: false }) };

export function jwtScenarios(): Scenario[] {
  const rows: Scenario[] = [];
  for (const [label, server] of [['cached', CACHED], ['first-seen', FIRST_SEEN]] as const) {
    for (const alg of JWT_ALGORITHMS) {
      const t = jwtTenant(alg);
      rows.push({
        name: `jwt allow (${alg}, ${label})`,
        server,
        request: async () => ({
          http: { method: 'GET', host: t.host, path: '/v1/orders?page=2', headers: { authorization: `Bearer ${await mintJwt(alg)}`, 'user-agent': 'bench/1' } },
        }),
        expect: { kind: 'allow', headers: { 'x-consumer-id': t.consumerId, 'x-authenticated-groups': t.groups.join(', ') } },
      });
    }
  }
  return rows;
}
