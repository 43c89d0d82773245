// What a browser session remembers, and the pure rules for when it is valid and due for renewal.
// The same record is sealed into a cookie (storage: cookie) or kept in a store (redis, memory).
import type { Identity } from '../core/identity.js';

export const SESSION_RECORD_VERSION = 1;

/** One authenticated session. Times are Unix epoch milliseconds. Short names keep cookies small. */
export interface SessionRecord {
  /** Record format version. */
  readonly v: typeof SESSION_RECORD_VERSION;
  /** Audience: the id of the policy that created the session (`namespace/name`). */
  readonly aud: string;
  /** Subject: the consumer id. */
  readonly sub: string;
  readonly username?: string | undefined;
  readonly customId?: string | undefined;
  /** Identifier of the credential that proved the identity (never the credential itself). */
  readonly credential?: string | undefined;
  readonly groups: readonly string[];
  /** Name of the policy method that authenticated the login (`keys`, `sso`...). */
  readonly method: string;
  /** A few verified claims kept for authorization rules; keep it small (it may ride in a cookie). */
  readonly claims?: Readonly<Record<string, unknown>> | undefined;
  /** Issued at: when the session was created. */
  readonly iat: number;
  /** Last active: when the session was last renewed. */
  readonly lat: number;
  /** Absolute expiry (`iat` + absolute timeout); renewal never moves it. */
  readonly exp: number;
  /** Idle expiry (`lat` + idle timeout, capped at `exp`); renewal moves it. */
  readonly idleExp: number;
  /**
   * Revision, bumped by every compare-and-set write (renewal, token refresh) so that two writers of
   * one stored session notice each other (SessionStore.replace); absent means 0.
   */
  readonly rev?: number | undefined;
  /** The tokens of a login through an OpenID provider (the method named `method`); absent otherwise. */
  readonly tokens?: SessionTokens | undefined;
}

/** What an OpenID Connect login keeps. Short names keep cookies small. */
export interface SessionTokens {
  /** Access token. */
  readonly at: string;
  /** When the access token expires (epoch ms); absent when the provider did not say. */
  readonly ate?: number | undefined;
  /** Refresh token. */
  readonly rt?: string | undefined;
  /** ID token, as issued (the logout's `id_token_hint`, the `X-ID-Token` header). */
  readonly it?: string | undefined;
  /** The userinfo answer (the `X-Userinfo` header). */
  readonly ui?: Readonly<Record<string, unknown>> | undefined;
  /** Until this time (epoch ms) one replica holds the right to refresh these tokens. */
  readonly lease?: number | undefined;
}

/** A policy's session timeouts, in milliseconds. */
export interface SessionTimeouts {
  /** Lifetime from creation, however active the session is. */
  readonly absoluteMs: number;
  /** Lifetime without renewal. */
  readonly idleMs: number;
  /**
   * Renew once no more than this is left before idle expiry (rolling renewal), so only some
   * requests pay for a new cookie or store write. Equal to idleMs: renew on every request.
   */
  readonly renewBeforeMs: number;
}

export type SessionState =
  | { readonly state: 'valid'; readonly renew: boolean; readonly expiresAt: number }
  | { readonly state: 'expired'; readonly reason: 'absolute' | 'idle' }
  | { readonly state: 'not_yet_valid' };

/** Checks timeouts once, when a policy is compiled. Returns the problem, or undefined when sound. */
export function timeoutsProblem(t: SessionTimeouts): string | undefined {
  if (!isPositiveMs(t.absoluteMs)) return 'absoluteTimeout must be a positive whole number of milliseconds';
  if (!isPositiveMs(t.idleMs)) return 'idleTimeout must be a positive whole number of milliseconds';
  if (!isPositiveMs(t.renewBeforeMs) || t.renewBeforeMs > t.idleMs) {
    return 'renewBefore must be a positive whole number of milliseconds, at most idleTimeout';
  }
  return undefined;
}

function isPositiveMs(n: number): boolean {
  return Number.isSafeInteger(n) && n > 0;
}

/** A fresh record for an identity that just authenticated. */
export function createSessionRecord(aud: string, identity: Identity, now: number, t: SessionTimeouts): SessionRecord {
  const exp = now + t.absoluteMs;
  const claims = Object.keys(identity.claims).length === 0 ? undefined : { ...identity.claims };
  return {
    v: SESSION_RECORD_VERSION,
    aud,
    sub: identity.consumerId,
    username: identity.username,
    customId: identity.customId,
    credential: identity.credential,
    groups: [...identity.groups],
    method: identity.method,
    claims,
    iat: now,
    lat: now,
    exp,
    idleExp: Math.min(now + t.idleMs, exp),
  };
}

/**
 * Decides a record's state at `now` under the policy's current timeouts. A policy that shortened its
 * timeouts since the record was made takes effect at once; a longer one waits for the next renewal.
 */
export function sessionState(r: SessionRecord, now: number, t: SessionTimeouts): SessionState {
  // A record from the future means a clock jumped or a forged store entry; never trust it.
  if (r.iat > now + CLOCK_SKEW_MS || r.lat > now + CLOCK_SKEW_MS) return { state: 'not_yet_valid' };
  const absoluteEnd = Math.min(r.exp, r.iat + t.absoluteMs);
  if (now >= absoluteEnd) return { state: 'expired', reason: 'absolute' };
  const idleEnd = Math.min(r.idleExp, r.lat + t.idleMs, absoluteEnd);
  if (now >= idleEnd) return { state: 'expired', reason: 'idle' };
  // Renewing cannot extend past the absolute end, so it is pointless once idle end meets it.
  const renew = idleEnd < absoluteEnd && now >= idleEnd - t.renewBeforeMs;
  return { state: 'valid', renew, expiresAt: idleEnd };
}

/** Tolerated clock difference between replicas that share a store. */
export const CLOCK_SKEW_MS = 5_000;

/** The record after activity at `now`: idle expiry moves forward, absolute expiry never does. */
export function renewSessionRecord(r: SessionRecord, now: number, t: SessionTimeouts): SessionRecord {
  const exp = Math.min(r.exp, r.iat + t.absoluteMs);
  return { ...r, lat: now, exp, idleExp: Math.min(now + t.idleMs, exp) };
}

/** How long a store should keep the record: until the earlier of its two expiries. */
export function sessionTtlMs(r: SessionRecord, now: number): number {
  return Math.max(0, Math.min(r.exp, r.idleExp) - now);
}

const MAX_STRING = 1024;
const MAX_GROUPS = 256;
/** Tokens are longer than names: a large Keycloak access token is a few KB. */
const MAX_TOKEN = 16_384;

/**
 * Validates data that claims to be a record (decrypted cookie, store entry). Anything that is not
 * exactly a well-formed record yields undefined, never an exception.
 */
export function parseSessionRecord(value: unknown): SessionRecord | undefined {
  if (!isPlainObject(value)) return undefined;
  const o = value;
  if (o['v'] !== SESSION_RECORD_VERSION) return undefined;
  const aud = o['aud'];
  const sub = o['sub'];
  const method = o['method'];
  if (!isShortString(aud) || !isShortString(sub) || !isShortString(method)) return undefined;
  if (aud === '' || sub === '' || method === '') return undefined;
  const username = optionalString(o['username']);
  const customId = optionalString(o['customId']);
  const credential = optionalString(o['credential']);
  if (username === INVALID || customId === INVALID || credential === INVALID) return undefined;
  const groups = o['groups'];
  if (!Array.isArray(groups) || groups.length > MAX_GROUPS) return undefined;
  const groupList: string[] = [];
  for (const g of groups) {
    if (!isShortString(g)) return undefined;
    groupList.push(g);
  }
  const claims = o['claims'];
  if (claims !== undefined && !isPlainObject(claims)) return undefined;
  const iat = o['iat'];
  const lat = o['lat'];
  const exp = o['exp'];
  const idleExp = o['idleExp'];
  if (!isTime(iat) || !isTime(lat) || !isTime(exp) || !isTime(idleExp)) return undefined;
  if (lat < iat || exp < iat || idleExp > exp) return undefined;
  const rev = o['rev'];
  if (rev !== undefined && !isTime(rev)) return undefined;
  const tokens = o['tokens'] === undefined ? undefined : parseTokens(o['tokens']);
  if (tokens === INVALID) return undefined;
  return {
    v: SESSION_RECORD_VERSION,
    aud,
    sub,
    username,
    customId,
    credential,
    groups: groupList,
    method,
    claims,
    iat,
    lat,
    exp,
    idleExp,
    ...(rev === undefined ? {} : { rev }),
    ...(tokens === undefined ? {} : { tokens }),
  };
}

function parseTokens(v: unknown): SessionTokens | typeof INVALID {
  if (!isPlainObject(v)) return INVALID;
  const at = v['at'];
  if (!isToken(at) || at === '') return INVALID;
  const rt = v['rt'];
  const it = v['it'];
  const ate = v['ate'];
  const lease = v['lease'];
  const ui = v['ui'];
  if ((rt !== undefined && !isToken(rt)) || (it !== undefined && !isToken(it))) return INVALID;
  if ((ate !== undefined && !isTime(ate)) || (lease !== undefined && !isTime(lease))) return INVALID;
  if (ui !== undefined && !isPlainObject(ui)) return INVALID;
  // Only the members present: a record reads back exactly as it was written.
  const out: { -readonly [K in keyof SessionTokens]: SessionTokens[K] } = { at };
  if (ate !== undefined) out.ate = ate;
  if (rt !== undefined) out.rt = rt;
  if (it !== undefined) out.it = it;
  if (ui !== undefined) out.ui = ui;
  if (lease !== undefined) out.lease = lease;
  return out;
}

function isToken(v: unknown): v is string {
  return typeof v === 'string' && v.length <= MAX_TOKEN;
}

const INVALID = Symbol('invalid');

function optionalString(v: unknown): string | undefined | typeof INVALID {
  if (v === undefined || v === null) return undefined;
  return isShortString(v) ? v : INVALID;
}

function isShortString(v: unknown): v is string {
  return typeof v === 'string' && v.length <= MAX_STRING;
}

function isTime(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** Freezes a value and everything it holds (records shared between callers). */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
