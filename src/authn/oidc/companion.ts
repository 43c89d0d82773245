// The session companion of an `oidc` method (session/companion.ts): the upstream headers of every
// request a login session authenticates, computed from the record in memory; refreshing the tokens at
// the provider that issued them; and, after logout, revocation and the provider's end-session URL.
import * as client from 'openid-client';
import { GatehouseError } from '../../core/errors.js';
import type { HeaderPair } from '../../core/identity.js';
import type { Freshness, SessionCompanion } from '../../session/companion.js';
import type { SessionRecord, SessionTokens } from '../../session/record.js';
import { base64Json, type OidcConfig } from './config.js';
import { describe, providerFailure } from './provider.js';
import { acceptTokens } from './tokens.js';

export class OidcCompanion implements SessionCompanion {
  readonly method: string;
  readonly #c: OidcConfig;
  /** A cookie session's record is one object while its cookie is cached: its headers are built once. */
  readonly #built = new WeakMap<SessionRecord, readonly HeaderPair[]>();

  constructor(config: OidcConfig) {
    this.method = config.name;
    this.#c = config;
  }

  headers(record: SessionRecord): readonly HeaderPair[] {
    let out = this.#built.get(record);
    if (out === undefined) this.#built.set(record, (out = this.#build(record)));
    return out;
  }

  #build(record: SessionRecord): readonly HeaderPair[] {
    const t = record.tokens;
    if (t === undefined) return [];
    const h = this.#c.headers;
    const out: HeaderPair[] = [];
    if (h.userinfo !== undefined && t.ui !== undefined) out.push({ name: h.userinfo, value: base64Json(t.ui) });
    if (h.accessToken !== undefined) out.push({ name: h.accessToken, value: t.at });
    if (h.idToken !== undefined && t.it !== undefined) {
      out.push({ name: h.idToken, value: h.idTokenForm === 'raw' ? t.it : base64Json(claimsOf(t.it)) });
    }
    return out;
  }

  freshness(record: SessionRecord, now: number): Freshness {
    const ate = record.tokens?.ate;
    if (ate === undefined) return 'fresh';
    if (now >= ate) return 'expired';
    return now >= ate - this.#c.leewayMs ? 'due' : 'fresh';
  }

  async refresh(record: SessionRecord, now: number): Promise<SessionRecord | undefined> {
    const c = this.#c;
    const tokens = record.tokens;
    const config = c.provider.config;
    if (tokens?.rt === undefined || config === undefined) return undefined;
    try {
      let res: client.TokenEndpointResponse;
      try {
        res = await client.refreshTokenGrant(config, tokens.rt);
      } catch (e) {
        throw providerFailure(e, 'oidc_code_rejected', 'refresh');
      }
      const claims = record.claims ?? {};
      const subject = typeof claims['sub'] === 'string' ? claims['sub'] : undefined;
      const accepted = await acceptTokens(c, config, res, now, { subject }, { tokens, claims });
      // The session stays its consumer's: a refresh that names another is no refresh.
      if (accepted.identity.consumerId !== record.sub) throw new GatehouseError('oidc_id_token_invalid', 'refreshed tokens name another consumer');
      const id = accepted.identity;
      return { ...record, username: id.username, customId: id.customId, groups: [...id.groups], claims: { ...accepted.claims }, tokens: accepted.tokens };
    } catch (e) {
      // The session ends: say why to operators, never with a token.
      c.logger.warn('oidc refresh failed; session ends', { policy: c.policyId, method: c.name, error: describe(e) });
      return undefined;
    }
  }

  async afterLogout(record: SessionRecord, dryRun = false): Promise<string | undefined> {
    const c = this.#c;
    const logout = c.logout;
    const config = c.provider.config;
    if (!dryRun && record.tokens !== undefined && logout?.revoke === true && config !== undefined && config.serverMetadata().revocation_endpoint !== undefined) {
      await revoke(c, config, record.tokens);
    }
    return endSessionUrl(c, record.tokens?.it);
  }
}

/** Where the browser goes after logout: the provider's end-session page, else `redirectAfterLogoutUri`. */
export function endSessionUrl(c: OidcConfig, idToken: string | undefined): string | undefined {
  const config = c.provider.config;
  const after = c.logout?.redirectAfter;
  if (config === undefined || config.serverMetadata().end_session_endpoint === undefined) return after;
  const params: Record<string, string> = { client_id: c.provider.settings.clientId };
  if (idToken !== undefined) params['id_token_hint'] = idToken;
  if (after !== undefined) params['post_logout_redirect_uri'] = after;
  return client.buildEndSessionUrl(config, params).href;
}

/** Refresh token first (it outlives the access token); a failure is logged, the logout goes on. */
async function revoke(c: OidcConfig, config: client.Configuration, tokens: SessionTokens): Promise<void> {
  const list: [string, string][] = [];
  if (tokens.rt !== undefined) list.push([tokens.rt, 'refresh_token']);
  list.push([tokens.at, 'access_token']);
  for (const [token, hint] of list) {
    try {
      await client.tokenRevocation(config, token, { token_type_hint: hint });
    } catch (e) {
      c.logger.warn('oidc token revocation failed', { policy: c.policyId, method: c.name, tokenType: hint, error: describe(e) });
    }
  }
}

/** The claims of a JWT we verified when it was issued (kong-oidc's `X-ID-Token` form). */
function claimsOf(jwt: string): unknown {
  try {
    return JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString('utf8'));
  } catch {
    return {};
  }
}
