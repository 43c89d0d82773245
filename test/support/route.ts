// Routing a request the way the pipeline does, for tests that check which policy serves a route.
import { CheckInput } from '../../src/core/input.js';
import type { CompiledPolicy } from '../../src/core/ports.js';
import { MethodNotAllowed, type PolicyIndex, type Route } from '../../src/policy/index.js';

/** The route for host + path (query allowed) + method, as CheckInput normalizes them. */
export function routeOf(index: PolicyIndex, host: string, path: string, method = 'GET'): Route {
  return index.lookup(new CheckInput({ method, scheme: 'https', host, path, headers: new Map(), peer: '' }));
}

/** The policy serving the route; undefined when none does; throws on a 405 refusal. */
export function policyOf(index: PolicyIndex | undefined, host: string, path: string, method = 'GET'): CompiledPolicy | undefined {
  if (index === undefined) return undefined;
  const route = routeOf(index, host, path, method);
  if (route instanceof MethodNotAllowed) throw new Error(`${method} ${host}${path} is refused with 405`);
  return route;
}
