// Decision -> the forward-auth answer each proxy understands. An HTTP auth server cannot change the
// upstream request itself: it answers headers, and the proxy's configuration copies them onto the
// upstream request (overwriting any client copy) and the Set-Cookie lines onto the client response.
import type { Allow, Decision, Deny } from '../core/decision.js';
import type { HeaderPair } from '../core/identity.js';
import type { Dialect } from './http-request.js';

export interface HttpAnswer {
  readonly status: number;
  /** Lowercase names; repeated names are separate header lines (Set-Cookie). */
  readonly headers: readonly HeaderPair[];
  readonly body: string;
}

/** nginx's auth_request sends only 2xx, 401 and 403 on; anything else becomes a 500 there. */
const NGINX_STATUSES = new Set([401, 403]);

/**
 * nginx before 1.23 exposes only the first Set-Cookie of the auth response in a variable: every
 * Set-Cookie is also sent numbered, for the snippet in deploy/nginx to add them one by one.
 */
export const NGINX_COOKIE_SLOTS = 4;

/** Identity headers an answer describes, removed or set, for dialects that can act on removals. */
const REMOVE_HEADER = 'x-envoy-auth-headers-to-remove';

/** `cookie` is the request's Cookie header, which nginx and Traefik are told to replace with ours. */
export function toHttpAnswer(decision: Decision, dialect: Dialect, cookie: string | undefined): HttpAnswer {
  return decision.kind === 'allow' ? allowAnswer(decision, dialect, cookie) : denyAnswer(decision, dialect);
}

function allowAnswer(d: Allow, dialect: Dialect, cookie: string | undefined): HttpAnswer {
  const headers: HeaderPair[] = [...d.setHeaders];
  // nginx and Traefik set the upstream Cookie from the answer: give it back unchanged unless a
  // credential cookie (the session's) was hidden, and not at all when none is left.
  if (dialect !== 'envoy' && cookie !== undefined && !d.setHeaders.some((h) => h.name === 'cookie') && !d.removeHeaders.includes('cookie')) {
    headers.push({ name: 'cookie', value: cookie });
  }
  addCookies(headers, d.responseHeaders, dialect);
  // Envoy removes what this names from the upstream request; nginx and Traefik overwrite the
  // identity headers they are configured with (an absent one is removed by both).
  if (dialect === 'envoy' && d.removeHeaders.length > 0) headers.push({ name: REMOVE_HEADER, value: d.removeHeaders.join(',') });
  return { status: 200, headers, body: '' };
}

function denyAnswer(d: Deny, dialect: Dialect): HttpAnswer {
  // A page gatehouse answers itself with 2xx (a logout without redirectTo) would read as "allow" to
  // every forward-auth proxy and let the request through: it is sent as 401, its body and cookies kept.
  if (d.status < 300 && dialect !== 'nginx') return denyAnswer({ ...d, status: 401 }, dialect);
  if (dialect !== 'nginx' || NGINX_STATUSES.has(d.status)) {
    const headers: HeaderPair[] = [];
    for (const h of d.headers) if (h.name !== 'set-cookie') headers.push(h);
    addCookies(headers, d.headers, dialect);
    // nginx drops an auth response's body: the error handler sends this header's value instead.
    const body = dialect === 'nginx' ? nginxBody(d) : undefined;
    if (body !== undefined) headers.push({ name: 'x-auth-request-body', value: body });
    return { status: d.status, headers, body: d.body };
  }
  // nginx: a redirect (login, logout) or a page gatehouse answers itself becomes 401 naming where to
  // go; the `error_page 401` snippet turns it into the 302. Other refusals become 403. The status
  // gatehouse meant rides along for logs and for snippets that map it.
  const location = d.headers.find((h) => h.name === 'location')?.value;
  const headers: HeaderPair[] = [{ name: 'x-auth-request-status', value: String(d.status) }];
  const body = nginxBody(d);
  if (body !== undefined) headers.push({ name: 'x-auth-request-body', value: body });
  if (location !== undefined) headers.push({ name: 'x-auth-request-redirect', value: location });
  for (const h of d.headers) if (h.name === 'content-type' || h.name === 'cache-control') headers.push(h);
  addCookies(headers, d.headers, dialect);
  return { status: d.status < 400 ? 401 : 403, headers, body: d.body };
}

/** A JSON deny body small and plain enough to travel in a header (what the nginx handlers send). */
function nginxBody(d: Deny): string | undefined {
  const type = d.headers.find((h) => h.name === 'content-type')?.value;
  if (type !== 'application/json' || d.body.length === 0 || d.body.length > 4096) return undefined;
  return /^[\x20-\x7e]*$/.test(d.body) ? d.body : undefined;
}

/** Set-Cookie lines from `from`, as they are, and for nginx also numbered. */
function addCookies(out: HeaderPair[], from: readonly HeaderPair[], dialect: Dialect): void {
  let n = 0;
  for (const h of from) {
    if (h.name !== 'set-cookie') continue;
    out.push(h);
    n++;
    if (dialect === 'nginx' && n <= NGINX_COOKIE_SLOTS) out.push({ name: `x-auth-set-cookie-${n}`, value: h.value });
  }
}
