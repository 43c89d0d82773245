// The scenario table. A scenario names the policy set gatehouse serves, the HTTP request the proxy
// forwards (as a gRPC Check, or as nginx's auth_request over HTTP/1.1), and what the answer must be.
// Each is measured against the no-op floor of its transport. Scenarios sharing a policy set share
// one server process.
import type { CheckOptions, SimpleHttpRequest } from '../test/support/envoy-client.js';
import { API_KEY_HEADER, apiKeyPolicies, apiKeyTarget, apiKeyTenant, type PolicySet, UNKNOWN_KEY } from './policies.js';
import { OIDC_TENANT, oidcPolicies, oidcSessionCookie } from './policies-oidc.js';
import { jwtForgedScenario, jwtScenarios } from './scenarios-jwt.js';
import { oidcBearerScenarios } from './scenarios-oidc.js';
import { sessionScenarios } from './scenarios-session.js';
import type { SignatureAlgorithm } from './signature-engine.js';

export type Transport = 'grpc' | 'http';

/** Built once per run, then encoded once; h2load only replays bytes. */
export interface RequestSpec {
  readonly http: SimpleHttpRequest;
  readonly options?: CheckOptions;
}

/** What every verified response must be, so a scenario cannot quietly measure the wrong path. */
export type Expectation =
  | { readonly kind: 'allow'; readonly headers: Readonly<Record<string, string>> }
  | { readonly kind: 'deny'; readonly status: number; readonly code: string };

export interface Scenario {
  readonly name: string;
  readonly policies: PolicySet;
  readonly transport: Transport;
  request(): RequestSpec | Promise<RequestSpec>;
  readonly expect: Expectation;
  /**
   * gRPC scenarios whose every Check must verify a token's signature: the key, for a signature floor
   * (bench/signature-engine.ts) measured in the same rounds, whose ratio to the floor bounds this one's.
   */
  readonly signatureFloor?: () => { readonly alg: SignatureAlgorithm; readonly key: string };
}

/** Policies and keys of the scaling scenario: its latency is compared with the 1-policy one's. */
export const SCALE = { policies: 10_000, keysPerPolicy: 10 } as const;
export const SCALE_NAME = 'api-key allow (10,000 policies, 100,000 keys)';
export const BASE_NAME = 'api-key allow (1 policy)';

const ONE = apiKeyPolicies(1);

function apiKeyRequest(count: number, key: string): RequestSpec {
  const tenant = apiKeyTenant(apiKeyTarget(count));
  return { http: { method: 'GET', host: tenant.host, path: '/v1/orders?page=2', headers: { [API_KEY_HEADER]: key, 'user-agent': 'bench/1' } } };
}

function apiKeyAllow(name: string, set: PolicySet, count: number, transport: Transport): Scenario {
  const tenant = apiKeyTenant(apiKeyTarget(count));
  return { name, policies: set, transport, request: () => apiKeyRequest(count, tenant.key), expect: { kind: 'allow', headers: { 'x-consumer-id': tenant.consumerId } } };
}

const [jwtEs256Cached, jwtEs256FirstSeen] = jwtScenarios(['ES256']);
const [sessionCookie, sessionRedis] = sessionScenarios();

const oidcSession: Scenario = {
  name: 'session allow (oidc)',
  policies: oidcPolicies(),
  transport: 'grpc',
  request: () => ({ http: { method: 'GET', host: OIDC_TENANT.host, path: '/account/orders?page=2', headers: { cookie: oidcSessionCookie(), 'user-agent': 'bench/1' } } }),
  expect: { kind: 'allow', headers: { 'x-consumer-id': OIDC_TENANT.consumerId, 'x-access-token': OIDC_TENANT.accessToken } },
};

function required(s: Scenario | undefined): Scenario {
  if (s === undefined) throw new Error('a scenario the table needs is missing');
  return s;
}

/** What `npm run bench` measures by default, in this order. */
export const SCENARIOS: readonly Scenario[] = [
  apiKeyAllow(BASE_NAME, ONE, 1, 'grpc'),
  required(jwtEs256Cached),
  required(sessionCookie),
  required(sessionRedis),
  oidcSession,
  required(jwtEs256FirstSeen),
  apiKeyAllow('forward-auth allow (nginx, api-key)', ONE, 1, 'http'),
  apiKeyAllow(SCALE_NAME, apiKeyPolicies(SCALE.policies, SCALE.keysPerPolicy), SCALE.policies, 'grpc'),
];

/** Further scenarios, run when `--scenario` names them. */
export const EXTRA_SCENARIOS: readonly Scenario[] = [
  { name: 'api-key deny (1 policy)', policies: ONE, transport: 'grpc', request: () => apiKeyRequest(1, UNKNOWN_KEY), expect: { kind: 'deny', status: 401, code: 'key_unknown' } },
  ...jwtScenarios(['HS256', 'RS256']),
  jwtForgedScenario(),
  ...oidcBearerScenarios(),
];
