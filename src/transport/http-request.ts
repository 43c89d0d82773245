// A forward-auth request -> the CheckInput of the request the proxy is asking about. Each proxy says
// what the original request was in its own way (its dialect); the result is the same CheckInput the
// gRPC transport builds, so one AuthPolicy means the same thing behind every proxy.
import type { IncomingHttpHeaders } from 'node:http';
import { GatehouseError } from '../core/errors.js';
import { CheckInput } from '../core/input.js';
import { HeaderCollector } from './request-headers.js';

/**
 * - `nginx`: nginx `auth_request` / ingress-nginx `auth-url`: X-Original-Method, X-Original-URI (or
 *   X-Original-URL), X-Forwarded-Host (else Host), X-Forwarded-Proto, X-Real-IP.
 * - `traefik`: Traefik ForwardAuth: X-Forwarded-Method, -Host, -Uri, -Proto, -For.
 * - `envoy`: Envoy's HTTP ext_authz (`http_service` with `path_prefix`): the original method, Host and
 *   headers, the original path appended to the prefix.
 */
export type Dialect = 'nginx' | 'traefik' | 'envoy';

/** What arrived at the forward-auth server. Header names are lowercase (node:http). */
export interface ForwardRequest {
  readonly method: string;
  /** The request target as received (`/auth/nginx`, `/envoy/orders/7?x=1`). */
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  /** The socket peer: the proxy. */
  readonly socketPeer: string;
  readonly body: string | undefined;
}

/** Headers a dialect uses to describe the original request; not part of it. */
const DIALECT_HEADERS: Readonly<Record<Dialect, ReadonlySet<string>>> = {
  nginx: new Set(['x-original-method', 'x-original-uri', 'x-original-url']),
  traefik: new Set(['x-forwarded-method', 'x-forwarded-uri']),
  envoy: new Set(),
};

/** Hop-by-hop headers (RFC 9110 §7.6.1) describe the proxy's connection, not the original request. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'content-length']);

/** The dialect a `/auth` request speaks, from its headers; undefined when none can be told. */
export function detectDialect(headers: IncomingHttpHeaders): Dialect | undefined {
  if (headers['x-original-uri'] !== undefined || headers['x-original-url'] !== undefined) return 'nginx';
  if (headers['x-forwarded-uri'] !== undefined) return 'traefik';
  return undefined;
}

function one(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  const s = Array.isArray(v) ? v[0] : v;
  return s === undefined || s === '' ? undefined : s.trim();
}

interface Original {
  readonly method: string;
  readonly host: string;
  readonly target: string;
  readonly scheme: string;
  readonly peer: string;
}

function original(dialect: Dialect, req: ForwardRequest, envoyPrefix: string): Original {
  const h = req.headers;
  switch (dialect) {
    case 'nginx': {
      const method = one(h, 'x-original-method') ?? missingValue('X-Original-Method');
      let target = one(h, 'x-original-uri');
      let fromUrl: { host: string; scheme: string } | undefined;
      if (target === undefined) {
        const parsed = absoluteTarget(one(h, 'x-original-url') ?? missingValue('X-Original-URI or X-Original-URL'));
        target = parsed.target;
        fromUrl = parsed;
      }
      const host = one(h, 'x-forwarded-host') ?? fromUrl?.host ?? one(h, 'host') ?? missingValue('X-Forwarded-Host or Host');
      const peer = one(h, 'x-real-ip') ?? lastForwardedFor(h) ?? req.socketPeer;
      return { method, host, target, scheme: one(h, 'x-forwarded-proto') ?? fromUrl?.scheme ?? 'http', peer };
    }
    case 'traefik':
      return {
        method: one(h, 'x-forwarded-method') ?? missingValue('X-Forwarded-Method'),
        host: one(h, 'x-forwarded-host') ?? missingValue('X-Forwarded-Host'),
        target: one(h, 'x-forwarded-uri') ?? missingValue('X-Forwarded-Uri'),
        scheme: one(h, 'x-forwarded-proto') ?? 'http',
        peer: lastForwardedFor(h) ?? req.socketPeer,
      };
    case 'envoy': {
      const rest = req.url.slice(envoyPrefix.length);
      return {
        method: req.method,
        host: one(h, 'host') ?? missingValue('Host'),
        target: rest.startsWith('/') ? rest : `/${rest}`,
        scheme: one(h, 'x-forwarded-proto') ?? 'http',
        peer: lastForwardedFor(h) ?? req.socketPeer,
      };
    }
    default: {
      const never: never = dialect;
      throw new Error(`unknown dialect ${String(never)}`);
    }
  }
}

function missingValue(what: string): never {
  throw new GatehouseError('forward_request_incomplete', `forward-auth request without ${what}`);
}

/** The address the nearest proxy appended: earlier entries are whatever the client claimed. */
function lastForwardedFor(h: IncomingHttpHeaders): string | undefined {
  return one(h, 'x-forwarded-for')?.split(',').at(-1)?.trim() || undefined;
}

/** `https://host/path?q` -> its scheme, host and origin-form target; anything else is refused. */
function absoluteTarget(url: string): { scheme: string; host: string; target: string } {
  const m = /^(https?):\/\/([^/?#]+)([^#]*)$/i.exec(url);
  if (m === null) throw new GatehouseError('forward_request_incomplete', 'X-Original-URL is not an absolute http(s) URL');
  const rest = m[3] ?? '';
  return { scheme: (m[1] as string).toLowerCase(), host: m[2] as string, target: rest === '' ? '/' : rest.startsWith('?') ? `/${rest}` : rest };
}

/** The CheckInput for the original request described by `req`; throws a GatehouseError to deny. */
export function toForwardInput(dialect: Dialect, req: ForwardRequest, maxHeaderBytes: number, envoyPrefix: string): CheckInput {
  const o = original(dialect, req, envoyPrefix);
  const collected = new HeaderCollector(maxHeaderBytes);
  const own = DIALECT_HEADERS[dialect];
  const headers = req.headers;
  for (const name of Object.keys(headers)) {
    const value = headers[name];
    if (value === undefined || HOP_BY_HOP.has(name) || own.has(name)) continue;
    if (typeof value === 'string') {
      collected.count(name, Buffer.byteLength(value));
      collected.add(name, value);
    } else {
      for (const v of value) {
        collected.count(name, Buffer.byteLength(v));
        collected.add(name, v);
      }
    }
  }
  // The original host is the request's host, whichever header carried it.
  collected.headers.set('host', o.host);
  return new CheckInput({
    method: o.method,
    scheme: o.scheme,
    host: o.host,
    path: o.target,
    headers: collected.headers,
    peer: o.peer,
    body: req.body,
    requestId: one(req.headers, 'x-request-id'),
  });
}
