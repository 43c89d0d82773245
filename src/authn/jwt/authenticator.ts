// JSON Web Tokens (Kong jwt, Istio RequestAuthentication): stateless verification, the consumer read
// from the claims. A token seen before costs one Map probe by its tail and one comparison; a
// first-seen token one synchronous signature check (node:crypto). Either answers synchronously unless
// a remote key set is still being fetched (or refetched for an unknown kid) or a revocation lookup
// must wait on Redis.
import type { Identity } from '../../core/identity.js';
import type { CheckInput } from '../../core/input.js';
import type { MethodContext } from '../../config/method-context.js';
import { NONE, type Authenticator, type AuthnResult, type RequestContext } from '../../core/ports.js';
import { compileLocations, findCredential, hide, presentedAt, type Found, type Location } from '../credentials.js';
import { NO_EXP_CACHE_MS, TokenCache, type VerifiedToken } from './token-cache.js';
import { checkClaims, checkTimes, identityFrom } from './claims.js';
import { compileJwtConfig, type JwtConfig, type Signer } from './compile.js';
import { fail, JwtProblem, jwksUnavailable, problem } from './errors.js';
import type { Selection } from './keys.js';
import type { JwtSpec } from './schema.js';
import type { JwtServices } from './services.js';
import { parseToken, type ParsedToken } from './token.js';
import { verifiedBy } from './verify.js';
import type { RevocationList } from '../../revocation/revocation.js';

let compiled = 0;

export function compileJwt(spec: JwtSpec, ctx: MethodContext, services: JwtServices): JwtAuthenticator {
  const config = compileJwtConfig(spec, ctx, services);
  return new JwtAuthenticator(ctx.methodName, ctx.policyId, config, compileLocations(spec.from), spec.hideCredentials, services);
}

export class JwtAuthenticator implements Authenticator {
  readonly type = 'jwt' as const;
  readonly challenge = 'Bearer';
  readonly name: string;
  readonly policyId: string;
  readonly headerNames: readonly string[];
  readonly config: JwtConfig;
  readonly #owner = ++compiled;
  readonly #locations: readonly Location[];
  readonly #hide: boolean;
  readonly #cache: TokenCache;
  readonly #revocation: RevocationList;

  constructor(name: string, policyId: string, config: JwtConfig, locations: readonly Location[], hideCredentials: boolean, services: JwtServices) {
    this.name = name;
    this.policyId = policyId;
    this.config = config;
    this.#locations = locations;
    this.#hide = hideCredentials;
    this.#cache = services.tokens;
    this.#revocation = services.revocation;
    const names = config.mapping.headers.map((h) => h.header);
    if (config.mapping.payloadHeader !== undefined) names.push(config.mapping.payloadHeader);
    this.headerNames = Object.freeze(names);
  }

  /** The key `gatehouse token mint` signs with, when the method has one. */
  get signer(): Signer | undefined {
    return this.config.signer;
  }

  presented(input: CheckInput): string | undefined {
    return presentedAt(input, this.#locations);
  }

  authenticate(input: CheckInput, ctx: RequestContext): AuthnResult | Promise<AuthnResult> {
    const found = findCredential(input, this.#locations);
    if (found === undefined) return NONE;
    const token = found.value;
    if (token.length > this.config.maxBytes) return fail(problem('jwt_too_large', `token of ${token.length} bytes exceeds maxTokenBytes ${this.config.maxBytes}`));
    // With the cache off (size 0) nothing is looked up or kept.
    const hit = this.#cache.max === 0 ? undefined : this.#cache.get(this.#owner, token, ctx.now);
    if (hit !== undefined) {
      const late = checkTimes(hit.times, this.config.rules, ctx.now);
      if (late !== undefined) {
        this.#cache.delete(this.#owner, token);
        return fail(late);
      }
      if (this.#trusts(hit.keyId)) return this.#accept(hit, input, found);
      this.#cache.delete(this.#owner, token);
    }
    return this.#verify(token, input, found, ctx);
  }

  /** The key that verified a cached token is still in the set (a remote set may have dropped it). */
  #trusts(keyId: string): boolean {
    return this.config.staticKeys.has(keyId) || (this.config.remote?.trusts(keyId) ?? false);
  }

  /** Synchronous when the keys are in memory; a promise only while a remote set is being fetched. */
  #verify(token: string, input: CheckInput, found: Found, ctx: RequestContext): AuthnResult | Promise<AuthnResult> {
    const parsed = parseToken(token, this.config.algorithms, this.config.maxBytes);
    if (parsed instanceof JwtProblem) return fail(parsed);
    const selection = this.#select(parsed);
    if (selection instanceof Promise) return selection.then((s) => this.#check(parsed, s, token, input, found, ctx));
    // Only a fetch can leave a set unable to answer; should one ever do so here, it stays a rejection.
    if (selection.kind === 'unavailable') return Promise.reject(jwksUnavailable(selection.reason));
    return this.#check(parsed, selection, token, input, found, ctx);
  }

  /** Signature, then claims, then the cache entry and the success answer. */
  #check(parsed: ParsedToken, selection: Selection, token: string, input: CheckInput, found: Found, ctx: RequestContext): AuthnResult | Promise<AuthnResult> {
    switch (selection.kind) {
      case 'keys':
        break;
      case 'unavailable':
        throw jwksUnavailable(selection.reason);
      case 'kid_unknown':
        return fail(problem('jwt_key_unknown', 'no key has the token kid'));
      case 'no_key':
        return fail(problem('jwt_key_unknown', `no key verifies ${parsed.header.alg}`));
      default: {
        const never: never = selection;
        throw new Error(`unknown selection ${JSON.stringify(never)}`);
      }
    }
    const key = verifiedBy(parsed.header.alg, parsed.signingInput, parsed.signature, selection.keys);
    if (key === undefined) return fail(problem('jwt_signature_invalid', `signature matches none of ${selection.keys.length} candidate key(s)`));
    const times = checkClaims(parsed.payload, this.config.rules, ctx.now);
    if (times instanceof JwtProblem) return fail(times);
    const identity = identityFrom(parsed.payload, parsed.payloadSegment, this.config.mapping, this.#cache.max === 0);
    if (identity instanceof JwtProblem) return fail(identity);
    const entry: VerifiedToken = {
      identity,
      times,
      keyId: key.id,
      evictAt: times.exp === undefined ? ctx.now + NO_EXP_CACHE_MS : times.exp + this.config.rules.skewMs,
    };
    this.#cache.set(this.#owner, token, entry);
    return this.#accept(entry, input, found);
  }

  /** Static keys first; the remote set when they have none for the token (or none at all). */
  #select(parsed: ParsedToken): Selection | Promise<Selection> {
    const { alg, kid } = parsed.header;
    const local = this.config.staticKeys.select(alg, kid);
    const remote = this.config.remote;
    if (local.kind === 'keys' || remote === undefined) return local;
    return remote.select(alg, kid);
  }

  /** The success answer, after the revocation check when the method asks for it. */
  #accept(entry: VerifiedToken, input: CheckInput, found: Found): AuthnResult | Promise<AuthnResult> {
    if (!this.config.revocation) return this.#success(entry.identity, input, found);
    const id = entry.identity;
    const revoked = this.#revocation.isRevoked({
      scope: this.config.scope,
      jti: id.credential,
      consumer: id.consumerId,
      issuedAt: entry.times.iat,
    });
    if (typeof revoked === 'boolean') return revoked ? fail(problem('jwt_revoked', 'token or consumer revoked')) : this.#success(id, input, found);
    return revoked.then((r) => (r ? fail(problem('jwt_revoked', 'token or consumer revoked')) : this.#success(id, input, found)));
  }

  #success(identity: Identity, input: CheckInput, found: Found): AuthnResult {
    if (!this.#hide) return { kind: 'success', identity };
    return { kind: 'success', identity, ...hide(found) };
  }
}
