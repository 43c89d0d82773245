// Browser-session allow scenarios: a signed-in browser's cookie, opened in place (storage: cookie) or
// looked up in the server's redis-server (storage: redis). No renewal falls due during a run.
import { type SessionStorage, sessionCookie, sessionPolicies, sessionTenant } from './policies-session.js';
import type { Scenario } from './scenarios.js';

const STORAGES: readonly SessionStorage[] = ['cookie', 'redis'];

export function sessionScenarios(): Scenario[] {
  return STORAGES.map((storage): Scenario => {
    const t = sessionTenant(storage);
    return {
      name: `session allow (${storage})`,
      policies: sessionPolicies(storage),
      transport: 'grpc',
      request: () => ({
        http: { method: 'GET', host: t.host, path: '/account/orders?page=2', headers: { cookie: sessionCookie(storage), 'user-agent': 'bench/1' } },
      }),
      expect: { kind: 'allow', headers: { 'x-consumer-id': t.consumerId, 'x-consumer-username': t.username } },
    };
  });
}
