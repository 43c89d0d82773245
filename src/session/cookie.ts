// Set-Cookie values for session cookies, and values too long for one cookie split across several.
//
// A value that fits is sent as `name=value`. A longer one becomes `name=N*part1`, `name_2=part2` ...
// `name_N=partN`: the count in the first part lets a reader notice a set the browser truncated or
// dropped a part of. Values never contain `*` (checked), so the two forms cannot be confused.
import { GatehouseError } from '../core/errors.js';

export type SameSite = 'Strict' | 'Lax' | 'None';

export interface CookieOptions {
  readonly name: string;
  /** Default `/`. */
  readonly path?: string | undefined;
  readonly domain?: string | undefined;
  /** Default true. */
  readonly secure?: boolean | undefined;
  /** Default true. */
  readonly httpOnly?: boolean | undefined;
  /** Default `Lax`. */
  readonly sameSite?: SameSite | undefined;
  /** Longest `name=value` pair per cookie, in bytes (browsers cap name+value at 4096). Default 4000. */
  readonly maxBytes?: number | undefined;
  /** Most cookies one value may span. Default 8. */
  readonly maxParts?: number | undefined;
}

/** Validated cookie settings; build with `compileCookieSpec` when a policy is compiled. */
export interface CookieSpec {
  readonly name: string;
  readonly path: string;
  readonly domain: string | undefined;
  readonly secure: boolean;
  readonly httpOnly: boolean;
  readonly sameSite: SameSite;
  readonly maxBytes: number;
  readonly maxParts: number;
  /** The names of parts 1..maxParts (`name`, `name_2`, ...), made once: every Check probes them. */
  readonly partNames: readonly string[];
}

/** A session cookie ends with the browser session; a persistent one ("remember me") at `expiresAt`. */
export type CookieLifetime =
  | { readonly kind: 'session' }
  | { readonly kind: 'persistent'; readonly expiresAt: number };

export type CookieRead =
  | { readonly kind: 'absent' }
  | { readonly kind: 'value'; readonly value: string; readonly parts: number }
  | { readonly kind: 'malformed'; readonly reason: string };

// RFC 7230 token characters: what a cookie name may hold.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// RFC 6265 cookie-octets, less `*` which marks a split set.
const VALUE = /^[\x21\x23-\x29\x2B\x2D-\x3A\x3C-\x5B\x5D-\x7E]*$/;
const PATH = /^\/[\x21-\x3A\x3C-\x7E]*$/;
const DOMAIN = /^\.?[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/;
const SPLIT_HEAD = /^([1-9][0-9]?)\*/;

/** What is wrong with cookie options, as a field (relative to the cookie block) and a message. */
export interface CookieProblem {
  readonly field: string;
  readonly message: string;
}

/** The first problem with `options`, or undefined when they make a cookie browsers keep. */
export function cookieProblem(options: CookieOptions): CookieProblem | undefined {
  const bad = (field: string, message: string): CookieProblem => ({ field, message });
  const { name } = options;
  if (typeof name !== 'string' || !TOKEN.test(name)) return bad('name', 'must be a non-empty RFC 7230 token');
  const path = options.path ?? '/';
  if (!PATH.test(path)) return bad('path', 'must start with / and hold no spaces, controls or ;');
  const domain = options.domain;
  if (domain !== undefined && (!DOMAIN.test(domain) || domain.length > 253)) return bad('domain', 'not a host name');
  const secure = options.secure ?? true;
  const sameSite = options.sameSite ?? 'Lax';
  if (sameSite !== 'Strict' && sameSite !== 'Lax' && sameSite !== 'None') return bad('sameSite', 'must be Strict, Lax or None');
  // Browsers drop SameSite=None cookies without Secure, and prefixed names without their rules.
  if (sameSite === 'None' && !secure) return bad('secure', 'SameSite=None requires secure: true');
  if (name.startsWith('__Secure-') && !secure) return bad('secure', 'a __Secure- name requires secure: true');
  if (name.startsWith('__Host-') && (!secure || path !== '/' || domain !== undefined)) {
    return bad('name', 'a __Host- name requires secure: true, path / and no domain');
  }
  const maxBytes = options.maxBytes ?? 4000;
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 256 || maxBytes > 4096) return bad('maxBytes', 'must be 256..4096');
  const maxParts = options.maxParts ?? 8;
  if (!Number.isSafeInteger(maxParts) || maxParts < 1 || maxParts > 99) return bad('maxParts', 'must be 1..99');
  return undefined;
}

/** The cookie for `options`; throws `session_config_invalid` when cookieProblem() finds one. */
export function compileCookieSpec(options: CookieOptions): CookieSpec {
  const problem = cookieProblem(options);
  if (problem !== undefined) throw new GatehouseError('session_config_invalid', `cookie ${problem.field}: ${problem.message}`);
  const maxParts = options.maxParts ?? 8;
  const partNames: string[] = [];
  for (let i = 1; i <= maxParts; i++) partNames.push(partName(options.name, i));
  return Object.freeze({
    name: options.name,
    path: options.path ?? '/',
    domain: options.domain,
    secure: options.secure ?? true,
    httpOnly: options.httpOnly ?? true,
    sameSite: options.sameSite ?? 'Lax',
    maxBytes: options.maxBytes ?? 4000,
    maxParts,
    partNames: Object.freeze(partNames),
  });
}

/** Name of part `index` (1-based) of this spec's cookie. */
export function partOf(spec: CookieSpec, index: number): string {
  return spec.partNames[index - 1] ?? partName(spec.name, index);
}

/** Name of part `index` (1-based) of a split value. */
export function partName(name: string, index: number): string {
  return index === 1 ? name : `${name}_${index}`;
}

/**
 * Set-Cookie values carrying `value`, split when needed. `previousParts` expires
 * parts of an older, longer set the browser still holds (see `heldParts`). Throws when the value cannot fit at all.
 */
export function buildSetCookies(
  spec: CookieSpec,
  value: string,
  lifetime: CookieLifetime,
  now: number,
  previousParts = 0,
): string[] {
  if (!VALUE.test(value)) {
    const detail = 'cookie value holds characters a cookie cannot carry';
    throw new GatehouseError('session_cookie_value_invalid', detail);
  }
  const parts = splitValue(spec, value);
  const attributes = lifetimeAttributes(lifetime, now) + commonAttributes(spec);
  const out = parts.map((p, i) => `${partName(spec.name, i + 1)}=${p}${attributes}`);
  for (let i = parts.length + 1; i <= Math.min(previousParts, spec.maxParts); i++) {
    out.push(expiredCookie(spec, partName(spec.name, i)));
  }
  return out;
}

/** Set-Cookie values that make the browser drop the cookie and any parts of it (logout). */
export function buildExpiredCookies(spec: CookieSpec, parts = 1): string[] {
  const out: string[] = [];
  const count = Math.max(1, Math.min(parts, spec.maxParts));
  for (let i = 1; i <= count; i++) out.push(expiredCookie(spec, partName(spec.name, i)));
  return out;
}

function expiredCookie(spec: CookieSpec, name: string): string {
  return `${name}=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0${commonAttributes(spec)}`;
}

function lifetimeAttributes(lifetime: CookieLifetime, now: number): string {
  switch (lifetime.kind) {
    case 'session':
      return '';
    case 'persistent': {
      const seconds = Math.max(0, Math.floor((lifetime.expiresAt - now) / 1000));
      const expires = new Date(now + seconds * 1000).toUTCString();
      return `; Expires=${expires}; Max-Age=${seconds}`;
    }
    default:
      return assertNever(lifetime);
  }
}

function commonAttributes(spec: CookieSpec): string {
  let s = `; Path=${spec.path}`;
  if (spec.domain !== undefined) s += `; Domain=${spec.domain}`;
  if (spec.secure) s += '; Secure';
  if (spec.httpOnly) s += '; HttpOnly';
  return `${s}; SameSite=${spec.sameSite}`;
}

function splitValue(spec: CookieSpec, value: string): string[] {
  if (spec.name.length + 1 + value.length <= spec.maxBytes) return [value];
  // Size every part for the longest part name so one chunk size serves all of them.
  const longestName = partName(spec.name, spec.maxParts).length;
  const room = spec.maxBytes - longestName - 1 - `${spec.maxParts}*`.length;
  const count = Math.ceil(value.length / room);
  if (count > spec.maxParts) {
    throw new GatehouseError('session_too_large', `session cookie needs ${count} parts of ${room} bytes, more than maxParts ${spec.maxParts}`);
  }
  const parts: string[] = [];
  for (let i = 0; i < count; i++) parts.push(value.slice(i * room, (i + 1) * room));
  parts[0] = `${count}*${parts[0] ?? ''}`;
  return parts;
}

/** Reassembles a cookie value from the request's cookies (as `parseCookieHeader` produces them). */
export function readCookie(spec: CookieSpec, cookies: ReadonlyMap<string, string>): CookieRead {
  const first = cookies.get(spec.name);
  if (first === undefined || first === '') return { kind: 'absent' };
  const head = SPLIT_HEAD.exec(first);
  if (head === null) {
    if (first.includes('*')) return { kind: 'malformed', reason: 'unexpected * in cookie value' };
    return { kind: 'value', value: first, parts: 1 };
  }
  const count = Number(head[1]);
  if (count < 2 || count > spec.maxParts) return { kind: 'malformed', reason: `split count ${count} out of range` };
  const chunks = [first.slice(head[0].length)];
  for (let i = 2; i <= count; i++) {
    const part = cookies.get(partOf(spec, i));
    if (part === undefined || part === '') return { kind: 'malformed', reason: `part ${i} of ${count} missing` };
    if (part.includes('*')) return { kind: 'malformed', reason: `part ${i} of ${count} malformed` };
    chunks.push(part);
  }
  return { kind: 'value', value: chunks.join(''), parts: count };
}

/** How many parts of this cookie the browser holds, counting stale ones; pass to `buildSetCookies`. */
export function heldParts(spec: CookieSpec, cookies: ReadonlyMap<string, string>): number {
  let held = cookies.has(spec.name) ? 1 : 0;
  for (let i = 2; i <= spec.maxParts; i++) if (cookies.has(partOf(spec, i))) held = i;
  return held;
}

function assertNever(x: never): never {
  throw new Error(`unexpected ${JSON.stringify(x)}`);
}
