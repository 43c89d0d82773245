// OIDC bearer scenarios: an API client presents an opaque access token at a `bearerOnly` method. The
// provider stub says it is active on the first Check's introspection; every later Check is answered
// from the introspection cache, with no call to the provider.
import { OIDC_BEARER, OIDC_BEARER_USERINFO, oidcBearerPolicies } from './policies-oidc.js';
import type { Scenario } from './scenarios.js';

export function oidcBearerScenarios(): Scenario[] {
  return [
    {
      name: 'oidc allow (bearer, cached)',
      policies: oidcBearerPolicies(),
      transport: 'grpc',
      request: () => ({
        http: { method: 'GET', host: OIDC_BEARER.host, path: '/v1/orders?page=2', headers: { authorization: `Bearer ${OIDC_BEARER.accessToken}`, 'user-agent': 'bench/1' } },
      }),
      expect: { kind: 'allow', headers: { 'x-consumer-id': OIDC_BEARER.consumerId, 'x-userinfo': OIDC_BEARER_USERINFO } },
    },
  ];
}
