// A forward-auth request -> the CheckInput of the request the proxy is asking about. Each proxy says
// what the original request was in its own way (its dialect); the result is the same CheckInput the
// gRPC transport builds, so one AuthPolicy means the same thing behind every proxy.
import { GatehouseError } from '../core/errors.js';
import { CheckInput } from '../core/input.js';
import { HeaderCollector, joinField } from './request-headers.js';

/**
 * - `nginx`: nginx `auth_request` / ingress-nginx `auth-url`: X-Original-Method, X-Original-URI (or
 *   X-Original-URL), X-Forwarded-Host (else Host), X-Forwarded-Proto, X-Real-IP.
 * - `traefik`: Traefik ForwardAuth: X-Forwarded-Method, -Host, -Uri, -Proto, -For.
 * - `envoy`: Envoy's HTTP ext_authz (`http_service` with `path_prefix`): the original method, Host and
 *   headers, the original path appended to the prefix.
 */
export type Dialect = 'nginx' | 'traefik' | 'envoy';

/** What arrived at the forward-auth server. */
export interface ForwardRequest {
  readonly method: string;
  /** The request target as received (`/auth/nginx`, `/envoy/orders/7?x=1`). */
  readonly url: string;
  /** Its header fields (headerFields): the CheckInput takes this map over, less the proxy's own fields. */
  readonly headers: Map<string, string>;
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

/**
 * The header fields of node's raw list (`rawHeaders`: name, value, name, value...), names lowercased
 * and a repeated field joined as Envoy joins it for a gRPC Check, so one AuthPolicy reads the same
 * headers behind every proxy. Node's `headers` object would be a second copy built per request, and
 * it keeps only the first of a repeated Authorization, Host or User-Agent: a second credential would
 * go unseen.
 */
export function headerFields(raw: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i + 1 < raw.length; i += 2) joinField(out, (raw[i] as string).toLowerCase(), raw[i + 1] as string);
  return out;
}

/** The dialect a `/auth` request speaks, from its headers; undefined when none can be told. */
export function detectDialect(headers: ReadonlyMap<string, string>): Dialect | undefined {
  if (headers.has('x-original-uri') || headers.has('x-original-url')) return 'nginx';
  if (headers.has('x-forwarded-uri')) return 'traefik';
  return undefined;
}

function one(headers: ReadonlyMap<string, string>, name: string): string | undefined {
  const s = headers.get(name);
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
function lastForwardedFor(h: ReadonlyMap<string, string>): string | undefined {
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
  const own = DIALECT_HEADERS[dialect];
  const headers = req.headers;
  const limits = new HeaderCollector(maxHeaderBytes, headers);
  // Deleting the entry being visited is safe while iterating a Map.
  for (const [name, value] of headers) {
    if (HOP_BY_HOP.has(name) || own.has(name)) headers.delete(name);
    else limits.count(name, Buffer.byteLength(value));
  }
  // The original host is the request's host, whichever header carried it.
  headers.set('host', o.host);
  return new CheckInput({
    method: o.method,
    scheme: o.scheme,
    host: o.host,
    path: o.target,
    headers,
    peer: o.peer,
    body: req.body,
    requestId: one(req.headers, 'x-request-id'),
  });
}
