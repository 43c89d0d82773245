// The scenario table. A scenario names the server that answers (the no-op baseline or gatehouse over a
// policy set), the HTTP request Envoy would forward, and what the answer must be. Add a row to measure
// something new; scenarios sharing a policy set share one server process.
import type { CheckOptions, SimpleHttpRequest } from '../test/support/envoy-client.js';
import { API_KEY_HEADER, apiKeyPolicies, apiKeyTarget, apiKeyTenant, type PolicySet, UNKNOWN_KEY } from './policies.js';
import { jwtScenarios } from './scenarios-jwt.js';
import { sessionScenarios } from './scenarios-session.js';

export type ServerSpec = { readonly kind: 'noop' } | { readonly kind: 'gatehouse'; readonly policies: PolicySet };

/** Built once per run, then encoded once; the load generator only replays bytes. */
export interface RequestSpec {
  readonly http: SimpleHttpRequest;
  readonly options?: CheckOptions;
}

/** What every sampled response must be, so a scenario cannot quietly measure the wrong path. */
export type Expectation =
  | { readonly kind: 'allow'; readonly headers: Readonly<Record<string, string>> }
  | { readonly kind: 'deny'; readonly status: number; readonly code: string };

export interface Scenario {
  readonly name: string;
  readonly server: ServerSpec;
  request(): RequestSpec | Promise<RequestSpec>;
  readonly expect: Expectation;
}

export const NOOP_SCENARIO = 'no-op';

const ONE = apiKeyPolicies(1);
const TEN_THOUSAND = apiKeyPolicies(10_000);

function apiKeyScenarios(label: string, set: PolicySet, count: number): Scenario[] {
  const tenant = apiKeyTenant(apiKeyTarget(count));
  const server: ServerSpec = { kind: 'gatehouse', policies: set };
  const request = (key: string): RequestSpec => ({ http: { method: 'GET', host: tenant.host, path: '/v1/orders?page=2', headers: { [API_KEY_HEADER]: key, 'user-agent': 'bench/1' } } });
  return [
    { name: `api-key allow (${label})`, server, request: () => request(tenant.key), expect: { kind: 'allow', headers: { 'x-consumer-id': tenant.consumerId } } },
    { name: `api-key deny (${label})`, server, request: () => request(UNKNOWN_KEY), expect: { kind: 'deny', status: 401, code: 'key_unknown' } },
  ];
}

export const SCENARIOS: readonly Scenario[] = [
  {
    name: NOOP_SCENARIO,
    server: { kind: 'noop' },
    request: () => ({ http: { method: 'GET', host: apiKeyTenant(0).host, path: '/v1/orders?page=2', headers: { [API_KEY_HEADER]: apiKeyTenant(0).key, 'user-agent': 'bench/1' } } }),
    expect: { kind: 'allow', headers: {} },
  },
  ...apiKeyScenarios('1 policy', ONE, 1),
  ...apiKeyScenarios('10,000 policies', TEN_THOUSAND, 10_000),
  ...jwtScenarios(),
  ...sessionScenarios(),
];
