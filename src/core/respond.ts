// The one place failures become deny responses and identities become upstream headers.
import type { CompiledPolicy, DenyTemplate } from '../policy/compiled.js';
import type { Allow, Deny } from './decision.js';
import { EMPTY_NAMES, EMPTY_PAIRS } from './decision.js';
import { type Challenge, type GatehouseError, STATUS_FOR_KIND } from './errors.js';
import type { HeaderPair, Identity } from './identity.js';

const JSON_TYPE: HeaderPair = Object.freeze({ name: 'content-type', value: 'application/json' });
const GENERIC: DenyTemplate = Object.freeze({ status: 0, headers: [], body: undefined });

export function denyFor(
  error: GatehouseError,
  policy: CompiledPolicy | undefined,
  method: string | undefined,
  challenges: readonly Challenge[] = EMPTY_CHALLENGES,
): Deny {
  let template = GENERIC;
  if (policy !== undefined) {
    if (error.kind === 'unauthenticated') template = policy.unauthenticated;
    else if (error.kind === 'forbidden') template = policy.unauthorized;
  }
  const status = template.status === 0 ? STATUS_FOR_KIND[error.kind] : template.status;
  const headers: HeaderPair[] = [];
  if (error.kind === 'unauthenticated') {
    const realm = policy?.realm ?? 'gatehouse';
    const all = error.challenge === undefined ? challenges : [error.challenge];
    if (all.length > 0) headers.push({ name: 'www-authenticate', value: all.map((c) => formatChallenge(c, realm)).join(', ') });
  }
  let body: string;
  if (template.body === undefined) {
    headers.push(JSON_TYPE);
    body = JSON.stringify({ code: error.kind === 'internal' ? 'internal_error' : error.code, message: error.publicMessage });
  } else {
    headers.push({ name: 'content-type', value: template.body.contentType });
    body = template.body.text;
  }
  for (const h of template.headers) headers.push(h);
  return {
    kind: 'deny',
    code: error.code,
    policy: policy?.id,
    method,
    status,
    headers,
    body,
    detail: error.message,
  };
}

const EMPTY_CHALLENGES: readonly Challenge[] = Object.freeze([]);

/** `Bearer realm="x", error="invalid_token"`; quotes and backslashes escaped (RFC 7230 quoted-string). */
export function formatChallenge(c: Challenge, realm: string): string {
  let out = `${c.scheme} realm="${quote(realm)}"`;
  if (c.params !== undefined) for (const [k, v] of Object.entries(c.params)) out += `, ${k}="${quote(v)}"`;
  return out;
}

function quote(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f]/g, ' ').replace(/(["\\])/g, '\\$1');
}

export interface Mutations {
  readonly removeHeaders?: readonly string[] | undefined;
  readonly removeQuery?: readonly string[] | undefined;
  readonly setHeaders?: readonly HeaderPair[] | undefined;
}

const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f]/;

/**
 * An allow that sets the identity headers and strips every other identity header gatehouse knows, so
 * that no client-sent copy survives. Returns undefined when a value could not be sent as a header.
 */
export function allowFor(
  code: string,
  policy: CompiledPolicy | undefined,
  identity: Identity | undefined,
  identityHeaderNames: readonly string[],
  mutations: Mutations | undefined,
  responseHeaders: readonly HeaderPair[],
): Allow | undefined {
  const set: HeaderPair[] = [];
  if (identity !== undefined && policy !== undefined) {
    const names = policy.identityHeaders;
    set.push({ name: names.consumerId, value: identity.consumerId });
    if (identity.username !== undefined) set.push({ name: names.username, value: identity.username });
    if (identity.customId !== undefined) set.push({ name: names.customId, value: identity.customId });
    if (identity.credential !== undefined) set.push({ name: names.credential, value: identity.credential });
    if (identity.groups.length > 0) set.push({ name: names.groups, value: identity.groups.join(', ') });
    if (identity.anonymous) set.push({ name: names.anonymous, value: 'true' });
    for (const h of identity.headers) set.push(h);
  }
  if (mutations?.setHeaders !== undefined) for (const h of mutations.setHeaders) set.push(h);
  for (const h of set) if (CONTROL.test(h.value)) return undefined;
  let remove: readonly string[] = identityHeaderNames;
  const extra = mutations?.removeHeaders;
  if (set.length > 0 || extra !== undefined) {
    const setNames = new Set(set.map((h) => h.name));
    const out: string[] = [];
    for (const n of identityHeaderNames) if (!setNames.has(n)) out.push(n);
    if (extra !== undefined) for (const n of extra) if (!setNames.has(n) && !out.includes(n)) out.push(n);
    remove = out;
  }
  return {
    kind: 'allow',
    code,
    policy: policy?.id,
    method: identity?.method,
    identity,
    setHeaders: set.length === 0 ? EMPTY_PAIRS : set,
    removeHeaders: remove.length === 0 ? EMPTY_NAMES : remove,
    responseHeaders,
    removeQuery: mutations?.removeQuery ?? EMPTY_NAMES,
  };
}
