// Claim checks (time, issuer, audience, lifetime, required values) against the injected clock, and the
// consumer read from the claims. Time checks run again on every cache hit, so they stand alone.
import { claimAt, type ClaimValue } from '../../core/claims.js';
import type { Identity } from '../../core/identity.js';
import { JwtProblem, problem } from './errors.js';


export interface RequiredClaim {
  readonly name: string;
  /** The claim must equal (or, being an array, contain) one of these. */
  readonly anyOf: readonly ClaimValue[];
}

export interface ClaimRules {
  readonly issuer: string | undefined;
  readonly audiences: ReadonlySet<string> | undefined;
  readonly skewMs: number;
  readonly maxLifetimeMs: number | undefined;
  readonly requireExp: boolean;
  readonly required: readonly RequiredClaim[];
}

/** NumericDate claims in milliseconds. */
export interface TokenTimes {
  readonly exp: number | undefined;
  readonly nbf: number | undefined;
  readonly iat: number | undefined;
}

function numericDate(payload: Readonly<Record<string, unknown>>, name: 'exp' | 'nbf' | 'iat'): number | undefined | JwtProblem {
  const v = payload[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) return problem('jwt_claim_invalid', `${name} is not a NumericDate`);
  return Math.round(v * 1000);
}

function readTimes(payload: Readonly<Record<string, unknown>>): TokenTimes | JwtProblem {
  const exp = numericDate(payload, 'exp');
  if (exp instanceof JwtProblem) return exp;
  const nbf = numericDate(payload, 'nbf');
  if (nbf instanceof JwtProblem) return nbf;
  const iat = numericDate(payload, 'iat');
  if (iat instanceof JwtProblem) return iat;
  return { exp, nbf, iat };
}

export function checkTimes(t: TokenTimes, rules: ClaimRules, now: number): JwtProblem | undefined {
  if (t.exp === undefined) {
    if (rules.requireExp) return problem('jwt_claim_invalid', 'token has no exp');
  } else if (now >= t.exp + rules.skewMs) {
    return problem('jwt_expired', `expired ${Math.round((now - t.exp) / 1000)}s ago`);
  }
  if (t.nbf !== undefined && now + rules.skewMs < t.nbf) return problem('jwt_not_yet_valid', `nbf is ${Math.round((t.nbf - now) / 1000)}s ahead`);
  if (t.iat !== undefined && now + rules.skewMs < t.iat) return problem('jwt_not_yet_valid', `issued ${Math.round((t.iat - now) / 1000)}s in the future`);
  return undefined;
}

/** Every check on a freshly verified payload; the times are kept for later cache hits. */
export function checkClaims(payload: Readonly<Record<string, unknown>>, rules: ClaimRules, now: number): TokenTimes | JwtProblem {
  const times = readTimes(payload);
  if (times instanceof JwtProblem) return times;
  const timing = checkTimes(times, rules, now);
  if (timing !== undefined) return timing;
  if (rules.issuer !== undefined && payload['iss'] !== rules.issuer) return problem('jwt_issuer_invalid', `iss ${describe(payload['iss'])} is not ${rules.issuer}`);
  if (rules.audiences !== undefined) {
    const aud = payload['aud'];
    const list = typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud : [];
    if (!list.some((a) => typeof a === 'string' && rules.audiences?.has(a) === true)) {
      return problem('jwt_audience_invalid', `aud ${describe(aud)} holds none of the accepted audiences`);
    }
  }
  if (rules.maxLifetimeMs !== undefined) {
    if (times.exp === undefined || times.iat === undefined) return problem('jwt_too_long_lived', 'maxLifetime needs both iat and exp');
    if (times.exp - times.iat > rules.maxLifetimeMs) {
      return problem('jwt_too_long_lived', `lifetime ${Math.round((times.exp - times.iat) / 1000)}s exceeds ${Math.round(rules.maxLifetimeMs / 1000)}s`);
    }
  }
  for (const r of rules.required) {
    const v = claimAt(payload, r.name);
    const have: readonly unknown[] = Array.isArray(v) ? v : [v];
    if (!have.some((x) => r.anyOf.includes(x as ClaimValue))) return problem('jwt_claim_invalid', `claim ${r.name} does not hold a required value`);
  }
  return times;
}

function describe(v: unknown): string {
  const s = JSON.stringify(v) ?? 'missing';
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

export interface ConsumerClaims {
  readonly id: string;
  readonly username: string | undefined;
  readonly customId: string | undefined;
  readonly groups: string | undefined;
}

export interface IdentityMapping {
  readonly method: string;
  readonly consumer: ConsumerClaims;
  /** Upstream header -> claim. */
  readonly headers: readonly { readonly header: string; readonly claim: string }[];
  readonly payloadHeader: string | undefined;
}

const CONTROL = /[\u0000-\u001f\u007f]/;
const MAX_VALUE = 8192;

/** `transient`: the identity serves this Check only (no token cache keeps it). */
export function identityFrom(payload: Readonly<Record<string, unknown>>, payloadSegment: string, m: IdentityMapping, transient = false): Identity | JwtProblem {
  const id = scalar(claimAt(payload, m.consumer.id));
  if (id === undefined) return problem('jwt_claim_invalid', `no consumer id in claim ${m.consumer.id}`);
  const username = m.consumer.username === undefined ? undefined : scalar(claimAt(payload, m.consumer.username));
  const customId = m.consumer.customId === undefined ? undefined : scalar(claimAt(payload, m.consumer.customId));
  const groups = m.consumer.groups === undefined ? [] : groupList(claimAt(payload, m.consumer.groups));
  const jti = scalar(payload['jti']);
  for (const v of [id, username, customId, jti, ...groups]) {
    if (v !== undefined && (CONTROL.test(v) || v.length > MAX_VALUE)) return problem('jwt_claim_invalid', 'a consumer claim holds control characters or is too long');
  }
  const headers: { name: string; value: string }[] = [];
  for (const { header, claim } of m.headers) {
    const value = headerValue(claimAt(payload, claim));
    if (value === undefined) continue;
    if (CONTROL.test(value) || value.length > MAX_VALUE) return problem('jwt_claim_invalid', `claim ${claim} cannot be sent as header ${header}`);
    headers.push({ name: header, value });
  }
  if (m.payloadHeader !== undefined) headers.push({ name: m.payloadHeader, value: payloadSegment });
  const identity: { -readonly [K in keyof Identity]: Identity[K] } = {
    method: m.method,
    consumerId: id,
    username,
    customId,
    credential: jti,
    groups: Object.freeze(groups),
    anonymous: false,
    claims: deepFreeze(payload),
    headers: Object.freeze(headers),
  };
  // Added, not spread into a copy: a spread of this object costs ~850 bytes more on every first-seen token.
  if (transient) identity.transient = true;
  return Object.freeze(identity);
}

function scalar(v: unknown): string | undefined {
  if (typeof v === 'string') return v === '' ? undefined : v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return undefined;
}

/** Groups as an array, or one string separated by spaces or commas (`scope`-style). */
function groupList(v: unknown): string[] {
  const raw: unknown[] = Array.isArray(v) ? v : typeof v === 'string' ? v.split(/[\s,]+/) : [];
  const out: string[] = [];
  for (const g of raw) {
    const s = scalar(typeof g === 'string' ? g.trim() : g);
    if (s !== undefined && !out.includes(s)) out.push(s);
  }
  return out;
}

function headerValue(v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v) && v.every((x) => typeof x === 'string' || typeof x === 'number' || typeof x === 'boolean')) return v.join(', ');
  return JSON.stringify(v);
}

function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v)) deepFreeze(x);
  }
  return v;
}
