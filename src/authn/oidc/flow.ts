// The state of one login between the redirect to the provider and its return: state, nonce and PKCE
// verifier, sealed with the policy's session keys (a purpose of their own) into a cookie named after
// the state, so several tabs can log in at once. The cookie is `SameSite=Lax` (the return is a
// cross-site navigation), scoped to the callback path, short-lived, and used once.
import { hash } from 'node:crypto';
import type { HeaderPair } from '../../core/identity.js';
import type { CheckInput } from '../../core/input.js';
import type { Sealer } from '../../session/codec.js';
import { buildExpiredCookies, buildSetCookies, compileCookieSpec, type CookieSpec } from '../../session/cookie.js';
import type { PolicySession } from '../../session/handle.js';

/** A login must come back within this long. */
export const FLOW_TTL_MS = 600_000;
const FLOW_PREFIX = 'gh_oidc_';

export interface FlowState {
  readonly v: 1;
  /** `state`, as sent to the provider. */
  readonly st: string;
  /** `nonce`. */
  readonly n: string;
  /** PKCE `code_verifier`. */
  readonly pv: string;
  /** The method (by name) that started the login. */
  readonly m: string;
  /** Where to go afterwards: a path on the callback host, query included. */
  readonly rd: string;
  /** When the login started (epoch ms). */
  readonly iat: number;
}

const SHORT = /^[\x21-\x7e]{1,512}$/;

export function parseFlow(value: unknown): FlowState | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const o = value as Record<string, unknown>;
  const { st, n, pv, m, rd, iat } = o;
  if (o['v'] !== 1 || typeof iat !== 'number' || !Number.isSafeInteger(iat)) return undefined;
  for (const s of [st, n, pv, m]) if (typeof s !== 'string' || !SHORT.test(s)) return undefined;
  if (typeof rd !== 'string' || safeReturnPath(rd) === undefined) return undefined;
  return { v: 1, st: st as string, n: n as string, pv: pv as string, m: m as string, rd, iat };
}

/** The flow cookie of a state: a name per login, so concurrent logins never clobber each other. */
export function flowCookieName(state: string): string {
  return FLOW_PREFIX + hash('sha256', state, 'base64url').slice(0, 22);
}

/**
 * A path the browser may be sent back to: relative to the callback host, never another origin.
 * `//evil.example`, `/\evil.example`, `https://evil.example` and anything with controls are refused.
 */
export function safeReturnPath(raw: string | undefined): string | undefined {
  if (raw === undefined || raw.length === 0 || raw.length > 2048) return undefined;
  if (raw[0] !== '/' || raw[1] === '/' || raw[1] === '\\' || /[\u0000-\u0020\u007f\\]/.test(raw)) return undefined;
  const base = 'https://gatehouse.invalid';
  try {
    const u = new URL(raw, base);
    return u.origin === base ? raw : undefined;
  } catch {
    return undefined;
  }
}

/** The request's own path and query, as where to return after a login it starts. */
export function returnPathOf(input: CheckInput): string {
  const here = input.rawQuery === '' ? input.path : `${input.path}?${input.rawQuery}`;
  return safeReturnPath(here) ?? '/';
}

/** Seals and opens flow cookies for one policy and callback. */
export class FlowCookies {
  readonly #sealer: Sealer<FlowState>;
  readonly #session: PolicySession;
  readonly #path: string;

  constructor(session: PolicySession, callbackPath: string) {
    this.#sealer = session.flowSealer(parseFlow);
    this.#session = session;
    this.#path = callbackPath;
  }

  /** The Set-Cookie of a new login. */
  issue(flow: FlowState, now: number): HeaderPair {
    const [value] = buildSetCookies(this.#spec(flow.st), this.#sealer.seal(flow), { kind: 'persistent', expiresAt: now + FLOW_TTL_MS }, now);
    return { name: 'set-cookie', value: value ?? '' };
  }

  /** The Set-Cookie that ends a login's cookie (used once, whatever the outcome). */
  expire(state: string): HeaderPair {
    const [value] = buildExpiredCookies(this.#spec(state));
    return { name: 'set-cookie', value: value ?? '' };
  }

  /** The flow of `state` the request carries: its state, or why there is none. */
  read(input: CheckInput, state: string, now: number): FlowState | 'missing' | 'invalid' | 'expired' {
    const raw = input.cookie(flowCookieName(state));
    if (raw === undefined || raw === '') return 'missing';
    const opened = this.#sealer.open(raw);
    if (!opened.ok) return 'invalid';
    const flow = opened.value;
    if (now - flow.iat > FLOW_TTL_MS || flow.iat > now + FLOW_TTL_MS) return 'expired';
    return flow;
  }

  #spec(state: string): CookieSpec {
    const session = this.#session.cookie;
    return compileCookieSpec({ name: flowCookieName(state), path: this.#path, domain: session.domain, secure: session.secure, httpOnly: true, sameSite: 'Lax', maxParts: 1 });
  }
}
