// Tokens issued by gatehouse itself ("API tokens", Kong users' long-standing request): signed with the
// method's private or HMAC key and shaped by its own rules (issuer, audience, required claims,
// consumer claim names, maxLifetime), then checked by those rules before they are handed out.
import { randomBytes } from 'node:crypto';
import { CompactSign } from 'jose';
import { checkClaims, identityFrom } from './claims.js';
import { JwtProblem } from './errors.js';
import type { JwtAuthenticator } from './authenticator.js';

export interface MintConsumer {
  readonly id: string;
  readonly username?: string | undefined;
  readonly customId?: string | undefined;
  readonly groups?: readonly string[] | undefined;
}

export interface MintRequest {
  readonly consumer: MintConsumer;
  readonly ttlMs: number;
  /** Issue time in ms; default now. */
  readonly now?: number | undefined;
  /** More claims; registered ones (iss, aud, exp, iat, nbf, jti) and the consumer's cannot be overridden. */
  readonly claims?: Readonly<Record<string, unknown>> | undefined;
  readonly jti?: string | undefined;
}

export interface Minted {
  readonly token: string;
  readonly jti: string;
  /** ms since the epoch. */
  readonly issuedAt: number;
  readonly expiresAt: number;
}

export class MintError extends Error {
  override readonly name = 'MintError';
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

const REGISTERED = new Set(['iss', 'aud', 'exp', 'iat', 'nbf', 'jti']);

export async function mintToken(method: JwtAuthenticator, req: MintRequest): Promise<Minted> {
  const config = method.config;
  const signer = config.signer;
  if (signer === undefined) {
    throw new MintError('mint_no_key', `method ${method.name} of ${method.policyId} has no signing key: give signingKeyRef or an HMAC secret`);
  }
  if (!Number.isFinite(req.ttlMs) || req.ttlMs < 1000) throw new MintError('mint_ttl_invalid', 'ttl must be at least 1s');
  const max = config.rules.maxLifetimeMs;
  if (max !== undefined && req.ttlMs > max) throw new MintError('mint_ttl_invalid', `ttl exceeds the method's maxLifetime of ${Math.round(max / 1000)}s`);
  if (req.consumer.id === '') throw new MintError('mint_consumer_invalid', 'consumer id is empty');

  const now = req.now ?? Date.now();
  const iat = Math.floor(now / 1000);
  // Hex, not base64url: a jti is pasted into `gatehouse token revoke --jti <jti>`, and one in 64
  // base64url ids starts with '-', which the flag parser takes for a forgotten flag.
  const jti = req.jti ?? randomBytes(16).toString('hex');
  const payload: Record<string, unknown> = { ...config.mintClaims };
  for (const [k, v] of Object.entries(req.claims ?? {})) {
    if (REGISTERED.has(k)) throw new MintError('mint_claim_invalid', `claim ${k} is set by gatehouse`);
    define(payload, k, v);
  }
  const m = config.mapping.consumer;
  const consumerClaims: [string | undefined, unknown][] = [
    [m.id, req.consumer.id],
    [m.username, req.consumer.username],
    [m.customId, req.consumer.customId],
    [m.groups, req.consumer.groups === undefined ? undefined : [...req.consumer.groups]],
  ];
  for (const [name, value] of consumerClaims) {
    if (name === undefined || value === undefined) continue;
    if (REGISTERED.has(name)) throw new MintError('mint_claim_invalid', `the consumer claim ${name} is a registered claim`);
    setClaim(payload, name, value);
  }
  if (config.rules.issuer !== undefined) payload['iss'] = config.rules.issuer;
  const audiences = config.rules.audiences;
  if (audiences !== undefined) payload['aud'] = [...audiences][0];
  payload['iat'] = iat;
  payload['exp'] = iat + Math.ceil(req.ttlMs / 1000);
  payload['jti'] = jti;

  // The method must accept what it mints: the same checks a request would meet.
  const times = checkClaims(payload, config.rules, now);
  if (times instanceof JwtProblem) throw new MintError('mint_rejected', `the method would refuse this token: ${times.code}: ${times.detail}`);
  const identity = identityFrom(payload, '', config.mapping);
  if (identity instanceof JwtProblem) throw new MintError('mint_rejected', `the method would refuse this token: ${identity.code}: ${identity.detail}`);
  if (identity.consumerId !== req.consumer.id) throw new MintError('mint_rejected', `the token would name consumer ${identity.consumerId}, not ${req.consumer.id}`);

  const header = { alg: signer.alg, typ: 'JWT', ...(signer.kid === undefined ? {} : { kid: signer.kid }) };
  const token = await new CompactSign(new TextEncoder().encode(JSON.stringify(payload))).setProtectedHeader(header).sign(signer.key);
  return { token, jti, issuedAt: iat * 1000, expiresAt: (iat + Math.ceil(req.ttlMs / 1000)) * 1000 };
}

/** Sets `a.b.c` as nested objects (verification reads dotted names the same way). */
function setClaim(payload: Record<string, unknown>, name: string, value: unknown): void {
  const parts = name.split('.');
  let at = payload;
  parts.slice(0, -1).forEach((p) => {
    const next = Object.hasOwn(at, p) ? at[p] : undefined;
    if (typeof next === 'object' && next !== null && !Array.isArray(next)) at = next as Record<string, unknown>;
    else {
      const fresh: Record<string, unknown> = {};
      define(at, p, fresh);
      at = fresh;
    }
  });
  define(at, parts[parts.length - 1] ?? name, value);
}

/** An own data property even for names like `__proto__`, which plain assignment would not create. */
function define(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}
