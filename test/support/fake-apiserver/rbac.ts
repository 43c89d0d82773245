// Authorization as the API server applies RBAC: each request becomes a verb on a resource (list and
// watch on collections, get/update/patch/delete on objects, `/status` as its own resource), written as
// the grant `group|resource|verb` (`core` for the core group). Every request is recorded that way, and
// when the server holds grants, one outside them is refused 403 Forbidden with the real message.
import type { Route } from './routes.js';
import { queryFlag } from './routes.js';
import { ApiError } from './status.js';

/** The identity the refusals name, as a pod's ServiceAccount token would be. */
export const SERVICE_ACCOUNT_USER = 'system:serviceaccount:gatehouse-system:gatehouse';

export type ResourceRoute = Exclude<Route, { kind: 'info' }>;

export function grantOf(route: ResourceRoute, method: string, params: URLSearchParams): { grant: string; verb: string; resource: string } {
  const resource = route.kind === 'object' && route.sub === 'status' ? `${route.def.plural}/status` : route.def.plural;
  const verb = verbOf(route, method, params);
  return { grant: `${route.def.group === '' ? 'core' : route.def.group}|${resource}|${verb}`, verb, resource };
}

function verbOf(route: ResourceRoute, method: string, params: URLSearchParams): string {
  if (method === 'GET') return queryFlag(params, 'watch') ? 'watch' : route.kind === 'collection' ? 'list' : 'get';
  const verbs: Readonly<Record<string, string>> = { POST: 'create', PUT: 'update', PATCH: 'patch', DELETE: 'delete' };
  return verbs[method] ?? method.toLowerCase();
}

/** Records the request's grant in `accessed`; throws Forbidden when `grants` are set and lack it. */
export function authorize(route: ResourceRoute, method: string, params: URLSearchParams, accessed: Set<string>, grants: ReadonlySet<string> | undefined): void {
  const { grant, verb, resource } = grantOf(route, method, params);
  accessed.add(grant);
  if (grants === undefined || grants.has(grant)) return;
  const scope = route.namespace === undefined ? 'at the cluster scope' : `in the namespace "${route.namespace}"`;
  const what = route.kind === 'object' ? `${route.def.qualified} "${route.name}"` : route.def.qualified;
  throw new ApiError(403, 'Forbidden', `${what} is forbidden: User "${SERVICE_ACCOUNT_USER}" cannot ${verb} resource "${resource}" in API group "${route.def.group}" ${scope}`);
}
