// Decision -> CheckResponse, limited to what Envoy's ext_authz filter reads.
import type { Decision, Deny, Allow } from '../core/decision.js';
import type { HeaderPair } from '../core/identity.js';
import type { CheckResponseMsg, HeaderValueOptionMsg, OkHttpResponseMsg } from './grpc-protos.js';

/** google.rpc.Code values used in CheckResponse.status. */
export const GrpcCode = {
  OK: 0,
  INVALID_ARGUMENT: 3,
  PERMISSION_DENIED: 7,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

// `append` is set on every header: Envoy reads it before append_action, and older Envoys know only it.
const OVERWRITE: { readonly value: boolean } = Object.freeze({ value: false });
const APPEND: { readonly value: boolean } = Object.freeze({ value: true });
const OK_STATUS = Object.freeze({ code: GrpcCode.OK });

export function toCheckResponse(decision: Decision): CheckResponseMsg {
  switch (decision.kind) {
    case 'allow':
      return { status: OK_STATUS, ok_response: okResponse(decision) };
    case 'deny':
      return deniedResponse(decision);
    default:
      return unreachable(decision);
  }
}

/** The gRPC status Envoy logs and emits for a deny; Envoy sends the HTTP status to the client. */
function grpcCodeForStatus(status: number): number {
  switch (status) {
    case 401:
      return GrpcCode.UNAUTHENTICATED;
    case 403:
      return GrpcCode.PERMISSION_DENIED;
    case 503:
      return GrpcCode.UNAVAILABLE;
    case 400:
    case 431:
      return GrpcCode.INVALID_ARGUMENT;
    case 500:
      return GrpcCode.INTERNAL;
    default:
      return GrpcCode.PERMISSION_DENIED;
  }
}

function okResponse(allow: Allow): OkHttpResponseMsg {
  // Empty lists are left out: most allows carry one or two headers, nothing else.
  const out: {
    headers?: readonly HeaderValueOptionMsg[];
    headers_to_remove?: readonly string[];
    response_headers_to_add?: readonly HeaderValueOptionMsg[];
    query_parameters_to_remove?: readonly string[];
  } = {};
  if (allow.setHeaders.length > 0) out.headers = options(allow.setHeaders, OVERWRITE);
  if (allow.removeHeaders.length > 0) out.headers_to_remove = allow.removeHeaders;
  if (allow.responseHeaders.length > 0) out.response_headers_to_add = options(allow.responseHeaders, APPEND);
  if (allow.removeQuery.length > 0) out.query_parameters_to_remove = allow.removeQuery;
  return out;
}

function deniedResponse(deny: Deny): CheckResponseMsg {
  const denied: { status: { code: number }; headers?: readonly HeaderValueOptionMsg[]; body?: string } = {
    status: { code: deny.status },
  };
  if (deny.headers.length > 0) denied.headers = deniedHeaders(deny.headers);
  if (deny.body !== '') denied.body = deny.body;
  return { status: { code: grpcCodeForStatus(deny.status), message: deny.code }, denied_response: denied };
}

/**
 * On a deny Envoy sets each non-append header (one value per name) and adds each append one: several
 * Set-Cookie lines (a split session cookie being expired) must all be appended or only the last survives.
 */
function deniedHeaders(pairs: readonly HeaderPair[]): readonly HeaderValueOptionMsg[] {
  const shared = Object.isFrozen(pairs);
  const hit = shared ? encodedDenied.get(pairs) : undefined;
  if (hit !== undefined) return hit;
  const out: HeaderValueOptionMsg[] = [];
  for (const p of pairs) out.push({ header: { key: p.name, value: p.value }, append: p.name === 'set-cookie' ? APPEND : OVERWRITE });
  if (shared) encodedDenied.set(pairs, Object.freeze(out));
  return out;
}

/** Encoded forms of frozen header lists (an identity's, a repeated refusal's), shared by every Check. */
const encoded = new WeakMap<readonly HeaderPair[], readonly HeaderValueOptionMsg[]>();
const encodedDenied = new WeakMap<readonly HeaderPair[], readonly HeaderValueOptionMsg[]>();

function options(pairs: readonly HeaderPair[], append: { readonly value: boolean }): readonly HeaderValueOptionMsg[] {
  const shared = append === OVERWRITE && Object.isFrozen(pairs);
  const hit = shared ? encoded.get(pairs) : undefined;
  if (hit !== undefined) return hit;
  const out: HeaderValueOptionMsg[] = [];
  for (const p of pairs) out.push({ header: { key: p.name, value: p.value }, append });
  if (shared) encoded.set(pairs, Object.freeze(out));
  return out;
}

function unreachable(x: never): never {
  throw new Error(`unknown decision kind ${JSON.stringify(x)}`);
}
