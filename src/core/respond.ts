// The one place failures become deny responses and identities become upstream headers.
import type { CompiledPolicy, DenyTemplate } from './ports.js';
import type { Allow, Deny } from './decision.js';
import { EMPTY_NAMES, EMPTY_PAIRS } from './decision.js';
import { type Challenge, type GatehouseError, STATUS_FOR_KIND } from './errors.js';
import type { HeaderPair, Identity } from './identity.js';
import type { CheckInput } from './input.js';

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
function formatChallenge(c: Challenge, realm: string): string {
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
  /** Cookies dropped from the upstream `Cookie` header, which is rewritten once for all of them. */
  readonly removeCookies?: readonly string[] | undefined;
}

/** The identity header names of every policy, as the index knows them. */
export interface StrippedHeaders {
  /** Exact (lowercase) names gatehouse may set; all are removed unless set. */
  readonly identityHeaders: readonly string[];
  /** The same names as `lookAlike` folds them (`x_consumer_id` -> `x-consumer-id`). */
  readonly identityLookAlikes: ReadonlySet<string>;
}

const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f]/;
/** A header name with anything but lowercase letters, digits and `-` may be a look-alike. */
const UNUSUAL_NAME = /[^a-z0-9-]/;

/**
 * An allow that sets the identity headers and strips every other identity header gatehouse knows,
 * and every request header that an upstream would read as one (`x_consumer_id`, `X.Consumer.Id`),
 * so that no client-sent copy survives. Returns undefined when a value could not be sent as a header.
 */
export function allowFor(
  code: string,
  policy: CompiledPolicy | undefined,
  identity: Identity | undefined,
  names: StrippedHeaders,
  input: CheckInput,
  mutations: Mutations | undefined,
  responseHeaders: readonly HeaderPair[],
): Allow | undefined {
  const base = policy === undefined || identity === undefined ? undefined : identityHeadersOf(policy, identity, names);
  if (base !== undefined && base.set === undefined) return undefined;
  const extra = nonEmpty(mutations?.removeHeaders);
  const cookies = nonEmpty(mutations?.removeCookies);
  const lookAlikes = lookAlikesIn(input, names.identityLookAlikes);
  let set: readonly HeaderPair[] = base?.set ?? EMPTY_PAIRS;
  let remove: readonly string[] = base?.remove ?? names.identityHeaders;
  // The usual allow (no mutations, no look-alike header) sends the prepared lists as they are. One that
  // only hides a credential header, or only drops the session cookie that was the whole Cookie header,
  // by a shared (frozen) list, reuses the lists built the first time: same lists, same encoding.
  // Only for an identity met before (a cached token, a key): a one-off identity (a token verified for
  // the first time) would build a memo no later Check reads.
  const memo =
    base === undefined || !base.reused || lookAlikes !== undefined
      ? undefined
      : extra !== undefined && cookies === undefined && Object.isFrozen(extra)
        ? (base.withHidden ??= new WeakMap())
        : extra === undefined && cookies !== undefined && Object.isFrozen(cookies) && rewriteCookies(input, cookies) === undefined
          ? (base.withoutCookies ??= new WeakMap())
          : undefined;
  if (memo !== undefined) {
    const key = (extra ?? cookies) as readonly string[];
    let hit = memo.get(key);
    if (hit === undefined) memo.set(key, (hit = frozen(mutated(input, set, names, extra, cookies, undefined))));
    set = hit.set;
    remove = hit.remove;
  } else if (extra !== undefined || cookies !== undefined || lookAlikes !== undefined) {
    ({ set, remove } = mutated(input, set, names, extra, cookies, lookAlikes));
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

/** Upstream headers to set and to remove. */
interface Lists {
  readonly set: readonly HeaderPair[];
  readonly remove: readonly string[];
}

/** Whether `pairs` sets header `name`: a few pairs, so a scan beats building a Set on every Check. */
function setsName(pairs: readonly HeaderPair[], name: string): boolean {
  for (const p of pairs) if (p.name === name) return true;
  return false;
}

/** Lists kept for every later Check of a shared identity: frozen, so transports may cache their encoding. */
function frozen(l: Lists): Lists {
  return Object.freeze({ set: Object.freeze(l.set), remove: Object.freeze(l.remove) });
}

function nonEmpty<T>(list: readonly T[] | undefined): readonly T[] | undefined {
  return list === undefined || list.length === 0 ? undefined : list;
}

/** The identity's headers plus the cookie rewrite, and every identity header not set plus what the methods hide. */
function mutated(
  input: CheckInput,
  base: readonly HeaderPair[],
  names: StrippedHeaders,
  extra: readonly string[] | undefined,
  cookies: readonly string[] | undefined,
  lookAlikes: readonly string[] | undefined,
): Lists {
  const all = base.slice();
  let cookieRemoved = false;
  if (cookies !== undefined) {
    const rest = rewriteCookies(input, cookies);
    if (rest === undefined) cookieRemoved = true;
    else all.push({ name: 'cookie', value: rest });
  }
  const out: string[] = [];
  for (const n of names.identityHeaders) if (!setsName(all, n)) out.push(n);
  if (extra !== undefined) for (const n of extra) if (!setsName(all, n) && !out.includes(n)) out.push(n);
  if (cookieRemoved && !out.includes('cookie')) out.push('cookie');
  if (lookAlikes !== undefined) for (const n of lookAlikes) if (!out.includes(n)) out.push(n);
  return { set: all.length === base.length ? base : all, remove: out.length === 0 ? EMPTY_NAMES : out };
}

/** An identity's headers under a policy, and the identity headers of the index it does not set. */
interface IdentityHeaders {
  readonly policy: CompiledPolicy;
  readonly names: StrippedHeaders;
  /** Undefined when a value cannot be sent as a header (a control character). */
  readonly set: readonly HeaderPair[] | undefined;
  readonly remove: readonly string[];
  /** Set once the entry serves a second allow: the identity is shared, so its variants are worth keeping. */
  reused: boolean;
  /** The lists again for an allow that also hides a credential header, by the (frozen) hidden names. */
  withHidden?: WeakMap<readonly string[], Lists>;
  /** ... and for one that drops the cookies named (the whole Cookie header), by the (frozen) names. */
  withoutCookies?: WeakMap<readonly string[], Lists>;
}

/**
 * Identities are frozen and shared (one per API key, per cached token): their header lists are built
 * on the first allow and reused, instead of a dozen small objects per Check. Recompiling a policy or
 * swapping the index makes new keys, so an entry never outlives what it was built from.
 */
const identityHeaders = new WeakMap<Identity, IdentityHeaders>();

function identityHeadersOf(policy: CompiledPolicy, identity: Identity, names: StrippedHeaders): IdentityHeaders {
  // A one-off identity's lists are neither kept nor frozen (frozen is what transports cache by): a
  // weak-map entry or encoding cache per Check would outlive the Check and slow every young-generation GC.
  if (identity.transient === true) return buildIdentityHeaders(policy, identity, names, false);
  const hit = identityHeaders.get(identity);
  if (hit !== undefined && hit.policy === policy && hit.names === names) {
    hit.reused = true;
    return hit;
  }
  const entry = buildIdentityHeaders(policy, identity, names, true);
  identityHeaders.set(identity, entry);
  return entry;
}

function buildIdentityHeaders(policy: CompiledPolicy, identity: Identity, names: StrippedHeaders, shared: boolean): IdentityHeaders {
  const h = policy.identityHeaders;
  const set: HeaderPair[] = [{ name: h.consumerId, value: identity.consumerId }];
  if (identity.username !== undefined) set.push({ name: h.username, value: identity.username });
  if (identity.customId !== undefined) set.push({ name: h.customId, value: identity.customId });
  if (identity.credential !== undefined) set.push({ name: h.credential, value: identity.credential });
  if (identity.groups.length > 0) set.push({ name: h.groups, value: identity.groups.join(', ') });
  if (identity.anonymous) set.push({ name: h.anonymous, value: 'true' });
  for (const x of identity.headers) set.push(x);
  let sendable = true;
  for (const x of set) if (CONTROL.test(x.value)) sendable = false;
  const remove: string[] = [];
  for (const n of names.identityHeaders) if (!setsName(set, n)) remove.push(n);
  return {
    policy,
    names,
    set: sendable ? (shared ? Object.freeze(set) : set) : undefined,
    remove: remove.length === 0 ? EMPTY_NAMES : shared ? Object.freeze(remove) : remove,
    reused: false,
  };
}

/** Request header names that fold onto an identity header name but are not spelled like one. */
function lookAlikesIn(input: CheckInput, lookAlikes: ReadonlySet<string>): string[] | undefined {
  let out: string[] | undefined;
  for (const name of input.headers.keys()) {
    if (!UNUSUAL_NAME.test(name)) continue;
    if (lookAlikes.has(lookAlike(name))) (out ??= []).push(name);
  }
  return out;
}

/**
 * A header name as CGI, WSGI, PHP and Rack upstreams read it: case folded, `_` (and any other
 * character but letters and digits) read as `-`. `x_consumer_id` and `X-Consumer-Id` are one name.
 */
export function lookAlike(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9]/g, '-');
}

/** The request's cookies without `names`, or undefined when none is left. */
function rewriteCookies(input: CheckInput, names: readonly string[]): string | undefined {
  const rest: string[] = [];
  for (const [name, value] of input.cookies) if (!names.includes(name)) rest.push(`${name}=${value}`);
  return rest.length === 0 ? undefined : rest.join('; ');
}
