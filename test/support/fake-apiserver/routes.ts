// URL paths of the two resources, parsed into a typed route, and the request facts handlers need.
import type { IncomingMessage } from 'node:http';
import { AUTH_POLICIES, SECRETS, type ResourceDef } from './resources.js';
import { ApiError } from './status.js';

export type Route =
  | { readonly kind: 'collection'; readonly def: ResourceDef; readonly namespace: string | undefined }
  | { readonly kind: 'object'; readonly def: ResourceDef; readonly namespace: string; readonly name: string; readonly sub: 'main' | 'status' }
  | { readonly kind: 'info'; readonly path: '/version' | '/healthz' | '/readyz' | '/livez' };

function prefixFor(segments: readonly string[]): { def: ResourceDef; rest: readonly string[] } | undefined {
  if (segments[0] === 'api' && segments[1] === 'v1') return { def: SECRETS, rest: segments.slice(2) };
  if (segments[0] === 'apis' && segments[1] === AUTH_POLICIES.group && segments[2] === AUTH_POLICIES.version) {
    return { def: AUTH_POLICIES, rest: segments.slice(3) };
  }
  return undefined;
}

/** Undefined when no resource lives at the path (the server answers 404 NotFound). */
export function parseRoute(pathname: string): Route | undefined {
  switch (pathname) {
    case '/version':
    case '/healthz':
    case '/readyz':
    case '/livez':
      return { kind: 'info', path: pathname };
    default:
      break;
  }
  let segments: string[];
  try {
    segments = pathname.split('/').filter((s) => s !== '').map((s) => decodeURIComponent(s));
  } catch {
    throw new ApiError(400, 'BadRequest', `the path is not valid: ${pathname}`);
  }
  const prefix = prefixFor(segments);
  if (prefix === undefined) return undefined;
  const { def, rest } = prefix;
  if (rest.length === 1 && rest[0] === def.plural) return { kind: 'collection', def, namespace: undefined };
  if (rest[0] !== 'namespaces' || rest[2] !== def.plural || rest[1] === undefined) return undefined;
  const namespace = rest[1];
  if (rest.length === 3) return { kind: 'collection', def, namespace };
  const name = rest[3];
  if (name === undefined || rest.length > 5) return undefined;
  if (rest.length === 4) return { kind: 'object', def, namespace, name, sub: 'main' };
  if (rest[4] === 'status' && def.custom) return { kind: 'object', def, namespace, name, sub: 'status' };
  return undefined;
}

/** Boolean query parameters as the real server converts them: absent, "0" and "false" are false. */
export function queryFlag(params: URLSearchParams, name: string): boolean {
  const value = params.get(name);
  if (value === null) return false;
  return value !== '0' && value.toLowerCase() !== 'false';
}

export function mediaType(req: IncomingMessage): string | undefined {
  const header = req.headers['content-type'];
  if (header === undefined || header.trim() === '') return undefined;
  return (header.split(';')[0] as string).trim().toLowerCase();
}

const MAX_BODY_BYTES = 3 * 1024 * 1024;

export async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<unknown>) {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    size += buf.length;
    if (size > MAX_BODY_BYTES) throw new ApiError(413, 'RequestEntityTooLarge', 'the request body is larger than 3 MiB');
    chunks.push(buf);
  }
  return Buffer.concat(chunks).toString('utf8');
}
