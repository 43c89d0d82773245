// `Authorization: Bearer` tokens at an `oidc` method. The provider's JWTs (three parts, `iss` the
// issuer) are verified locally by the `jwt` method's machinery with the provider's keys and cached
// until they expire; anything else is introspected (RFC 7662, with the client's authentication),
// active answers cached until `exp` (at most `cacheTtlMax`), inactive ones briefly and apart (so junk
// never evicts a real token's answer), one introspection per token at a time and at most `maxInFlight`
// per provider (call-gate.ts), the answer sent upstream as `X-Userinfo` (kong-oidc's form). A cached
// token answers without any call to the provider; one that cannot be a token (not RFC 6750 `b64token`,
// or over 8192 characters) is refused without one.
import { hash } from 'node:crypto';
import * as client from 'openid-client';
import { GatehouseError, refusalError } from '../../core/errors.js';
import type { CheckInput } from '../../core/input.js';
import { NONE, type AuthnResult, type RequestContext } from '../../core/ports.js';
import { compileLocations, findCredential, presentedAt } from '../credentials.js';
import type { JwtAuthenticator } from '../jwt/authenticator.js';
import { base64Json, loginIdentity, type OidcConfig } from './config.js';
import { providerFailure } from './provider.js';
import type { Introspected } from './services.js';

const BEARER = compileLocations([{ header: 'authorization', prefix: 'Bearer ' }]);
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.([A-Za-z0-9_-]+)\.[A-Za-z0-9_-]*$/;
/** RFC 6750 §2.1 `b64token`. */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;
/** Longer opaque tokens are refused unread: no provider issues them, and each would cost a call. */
export const MAX_OPAQUE_TOKEN = 8192;

let compiled = 0;

export class BearerTokens {
  readonly #c: OidcConfig;
  readonly #jwt: JwtAuthenticator;
  /** Cache keys are per compiled method, as the JWT token cache's are. */
  readonly #owner = ++compiled;

  constructor(config: OidcConfig, jwt: JwtAuthenticator) {
    this.#c = config;
    this.#jwt = jwt;
  }

  presented(input: CheckInput): string | undefined {
    return presentedAt(input, BEARER);
  }

  authenticate(input: CheckInput, ctx: RequestContext): AuthnResult | Promise<AuthnResult> {
    const found = findCredential(input, BEARER);
    if (found === undefined) return NONE;
    const token = found.value;
    if (this.#isProviderJwt(token)) return this.#jwt.authenticate(input, ctx);
    if (!this.#c.introspection.enabled) return refuse('oidc_token_invalid', 'not a JWT of the provider, and introspection is off');
    if (token.length > MAX_OPAQUE_TOKEN) return refuse('oidc_token_invalid', `token of ${token.length} characters exceeds ${MAX_OPAQUE_TOKEN}`);
    if (!B64TOKEN.test(token)) return refuse('oidc_token_invalid', 'not RFC 6750 b64token syntax');
    return this.#introspected(token, ctx.now);
  }

  /** Three base64url parts whose payload names this provider as issuer. */
  #isProviderJwt(token: string): boolean {
    const m = JWT_SHAPE.exec(token);
    if (m === null) return false;
    try {
      const payload: unknown = JSON.parse(Buffer.from(m[1] ?? '', 'base64url').toString('utf8'));
      return typeof payload === 'object' && payload !== null && (payload as { iss?: unknown }).iss === this.#c.idToken.issuer;
    } catch {
      return false;
    }
  }

  #introspected(token: string, now: number): AuthnResult | Promise<AuthnResult> {
    const key = `${this.#owner}:${hash('sha256', token, 'base64url')}`;
    const services = this.#c.services;
    const cached = services.introspected.get(key, now) ?? services.inactive.get(key, now);
    if (cached !== undefined) return answer(cached);
    return services.introspectOnce(key, () => this.#introspect(key, token, now)).then(answer);
  }

  async #introspect(key: string, token: string, now: number): Promise<Introspected> {
    const c = this.#c;
    const config = c.provider.config;
    if (config === undefined) throw new GatehouseError('oidc_provider_unavailable', `introspection: ${c.provider.problem() ?? 'provider not ready'}`);
    if (config.serverMetadata().introspection_endpoint === undefined) {
      return { active: false, detail: 'not a JWT of the provider, and the provider has no introspection endpoint' };
    }
    let res: client.IntrospectionResponse;
    try {
      res = await c.introspection.gate.run(() => client.tokenIntrospection(config, token));
    } catch (e) {
      // A refusal here is the provider refusing us (client authentication): no answer about the token.
      throw providerFailure(e, 'oidc_provider_unavailable', 'introspection');
    }
    const exp = typeof res.exp === 'number' ? res.exp * 1000 : undefined;
    let result: Introspected;
    if (res.active !== true) result = { active: false, detail: 'the provider says the token is not active' };
    else if (exp !== undefined && exp <= now) result = { active: false, detail: 'the token has expired' };
    else {
      const identity = loginIdentity(c, res);
      // As kong-oidc does for an introspected token: the provider's answer goes upstream as `X-Userinfo`.
      const userinfo = c.headers.userinfo;
      result =
        identity instanceof GatehouseError
          ? { active: false, detail: identity.message }
          : { active: true, identity: userinfo === undefined ? identity : { ...identity, headers: [...identity.headers, { name: userinfo, value: base64Json(res) }] } };
    }
    const until = result.active ? Math.min(exp ?? Number.POSITIVE_INFINITY, now + c.introspection.maxMs) : now + c.introspection.inactiveMs;
    (result.active ? c.services.introspected : c.services.inactive).set(key, result, until);
    return result;
  }
}

function answer(r: Introspected): AuthnResult {
  return r.active ? { kind: 'success', identity: r.identity } : refuse('oidc_token_inactive', r.detail);
}

/** RFC 6750: a refused bearer token is `invalid_token`. One shared challenge, so the 401 is built once. */
const INVALID_TOKEN = Object.freeze({ scheme: 'Bearer', params: Object.freeze({ error: 'invalid_token' }) });

function refuse(code: 'oidc_token_invalid' | 'oidc_token_inactive', detail: string): AuthnResult {
  return { kind: 'failure', error: refusalError(code, detail, { challenge: INVALID_TOKEN }) };
}
