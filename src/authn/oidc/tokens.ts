// A token endpoint answer (code exchange or refresh) made into what a session keeps: the ID token
// verified by our own JWT machinery, userinfo fetched when enabled, the user's claims and consumer,
// and the tokens with the access token's expiry on the injected clock.
import * as client from 'openid-client';
import type { Identity } from '../../core/identity.js';
import type { SessionTokens } from '../../session/record.js';
import { loginIdentity, userClaims, type OidcConfig } from './config.js';
import { verifyIdToken, type IdTokenExpectations } from './id-token.js';
import { providerFailure } from './provider.js';
import { GatehouseError } from '../../core/errors.js';

export interface Accepted {
  readonly identity: Identity;
  /** The user's claims (ID token without protocol claims, userinfo over them). */
  readonly claims: Readonly<Record<string, unknown>>;
  readonly tokens: SessionTokens;
}

/** What a refresh starts from: the session's tokens and claims. */
export interface Previous {
  readonly tokens: SessionTokens;
  readonly claims: Readonly<Record<string, unknown>>;
}

export async function acceptTokens(
  c: OidcConfig,
  config: client.Configuration,
  res: client.TokenEndpointResponse,
  now: number,
  expect: IdTokenExpectations,
  previous: Previous | undefined,
): Promise<Accepted> {
  const at = res.access_token;
  let idClaims: Readonly<Record<string, unknown>>;
  if (res.id_token !== undefined) {
    const keys = c.provider.keys;
    idClaims = await verifyIdToken(res.id_token, (alg, kid) => keys.select(alg, kid), c.idToken, now, { ...expect, accessToken: at });
  } else if (previous !== undefined) {
    idClaims = previous.claims;
  } else {
    throw new GatehouseError('oidc_id_token_invalid', 'the token endpoint returned no ID token');
  }
  const sub = idClaims['sub'];
  if (typeof sub !== 'string') throw new GatehouseError('oidc_id_token_invalid', 'no sub');
  let userinfo: Readonly<Record<string, unknown>> | undefined;
  if (c.userinfo && config.serverMetadata().userinfo_endpoint !== undefined) {
    try {
      userinfo = await client.fetchUserInfo(config, at, sub);
    } catch (e) {
      throw providerFailure(e, 'oidc_userinfo_invalid', 'userinfo');
    }
  }
  const claims = userClaims(idClaims, userinfo);
  const identity = loginIdentity(c, claims);
  if (identity instanceof GatehouseError) throw identity;
  const tokens: { -readonly [K in keyof SessionTokens]: SessionTokens[K] } = { at };
  if (typeof res.expires_in === 'number' && Number.isFinite(res.expires_in)) tokens.ate = now + Math.max(0, Math.round(res.expires_in * 1000));
  const rt = res.refresh_token ?? previous?.tokens.rt;
  if (rt !== undefined) tokens.rt = rt;
  const it = res.id_token ?? previous?.tokens.it;
  if (it !== undefined) tokens.it = it;
  // Kept only when it is sent upstream: records stay small.
  if (userinfo !== undefined && c.headers.userinfo !== undefined) tokens.ui = { ...userinfo };
  return { identity, claims, tokens };
}
