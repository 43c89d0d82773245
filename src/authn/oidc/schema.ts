// The `oidc` method block: an OpenID Connect relying party (Kong's oidc plugin, lua-resty-openidc).
import { Type, type Static } from '@sinclair/typebox';
import { Duration, HeaderName, SecretKeyRef, StringEnum } from '../../config/schema-common.js';
import { JWT_ALGORITHMS, JwtConsumer } from '../jwt/schema.js';
import { MAX_IN_FLIGHT_DEFAULT, MAX_IN_FLIGHT_LIMIT, QUEUE_PER_SLOT, WAIT_MS } from './call-gate.js';

/** Signature algorithms an ID token may use by default: every asymmetric one (never HMAC, never `none`). */
export const DEFAULT_ID_TOKEN_ALGORITHMS = JWT_ALGORITHMS.filter((a) => !a.startsWith('HS'));

const Url = (description: string) => Type.String({ pattern: '^https?://[^\\s]+$', maxLength: 2048, description });
const Path = (description: string) => Type.String({ pattern: '^/[^\\s?#]*$', maxLength: 1024, description });

const UpstreamHeader = (what: string, name: string) =>
  Type.Object(
    {
      enabled: Type.Boolean({ default: true, description: `Send ${what} upstream.` }),
      name: HeaderName('Header name.', name),
    },
    { additionalProperties: false, default: {}, description: `${what}; any copy the client sent is always removed.` },
  );

export const OidcSpec = Type.Object(
  {
    issuer: Url('The provider\'s issuer; discovery reads `<issuer>/.well-known/openid-configuration`.'),
    discoveryOverride: Type.Optional(
      Type.Object(
        {
          authorizationEndpoint: Type.Optional(Url('`authorization_endpoint`.')),
          tokenEndpoint: Type.Optional(Url('`token_endpoint`.')),
          userinfoEndpoint: Type.Optional(Url('`userinfo_endpoint`.')),
          jwksUri: Type.Optional(Url('`jwks_uri`.')),
          endSessionEndpoint: Type.Optional(Url('`end_session_endpoint`.')),
          introspectionEndpoint: Type.Optional(Url('`introspection_endpoint`.')),
          revocationEndpoint: Type.Optional(Url('`revocation_endpoint`.')),
        },
        {
          additionalProperties: false,
          description:
            'Endpoints that replace what discovery says. With authorizationEndpoint, tokenEndpoint and jwksUri all set, no discovery happens.',
        },
      ),
    ),
    allowInsecureHttp: Type.Boolean({
      default: false,
      description: 'Accept a plain `http` issuer and endpoints. For local development only: tokens and codes travel in clear.',
    }),
    clientId: Type.String({ minLength: 1, maxLength: 512, description: 'The client id registered at the provider.' }),
    clientSecretRef: Type.Optional(Type.Object(SecretKeyRef.properties, { additionalProperties: false, description: 'The client secret, in a Secret.' })),
    privateKeyRef: Type.Optional(
      Type.Object(SecretKeyRef.properties, {
        additionalProperties: false,
        description: 'A private key (PKCS#8 PEM or JWK, RSA or EC) for `private_key_jwt` client authentication.',
      }),
    ),
    tokenEndpointAuthMethod: Type.Optional(
      StringEnum(['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'] as const, {
        description: 'How the client authenticates at the token, introspection and revocation endpoints. Default: `client_secret_basic` with a secret, `private_key_jwt` with a key, else `none` (a public client).',
      }),
    ),
    redirectUri: Type.Optional(
      Url('Where the provider sends the browser back; gatehouse answers its path on its host (the callback). Its host must be one of the policy\'s hosts. Required unless `bearerOnly`.'),
    ),
    scopes: Type.Array(Type.String({ pattern: '^[\\x21\\x23-\\x5B\\x5D-\\x7E]+$', maxLength: 256 }), {
      minItems: 1,
      maxItems: 32,
      default: ['openid'],
      description: 'Scopes asked for; must include `openid`. `offline_access` asks for a refresh token.',
    }),
    prompt: Type.Optional(StringEnum(['none', 'login', 'consent', 'select_account'] as const, { description: 'The `prompt` parameter of every login.' })),
    consentForOfflineAccess: Type.Boolean({
      default: true,
      description: 'With `offline_access` in scopes and no `prompt`, ask `prompt=consent`: providers such as oidc-provider and Google issue a refresh token only then.',
    }),
    extraAuthParams: Type.Optional(
      Type.Record(Type.String({ pattern: '^[A-Za-z0-9_.-]+$', maxLength: 128 }), Type.String({ maxLength: 1024 }), {
        description: 'More authorization request parameters (`acr_values`, `ui_locales`, `access_type`...).',
      }),
    ),
    hosts: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: 259 }), {
        minItems: 1,
        maxItems: 64,
        description: 'With several providers: the policy hosts whose browsers this one signs in (default every host of the policy).',
      }),
    ),
    unauthenticated: StringEnum(['redirect', 'deny', 'pass'] as const, {
      default: 'redirect',
      description:
        'A request without a session: `redirect` to the provider (script requests get 401 JSON naming the login URL), `deny` with 401, or `pass` as the policy\'s anonymous consumer (then `loginPath` starts a login).',
    }),
    loginPath: Type.Optional(Path('Requests to this path always start a login (`?idp=<method name>` picks the provider, `?rd=<path>` where to go after).')),
    bearerOnly: Type.Boolean({
      default: false,
      description: 'Accept only `Authorization: Bearer` tokens (verified locally when they are the provider\'s JWTs, else introspected); never redirect, no session needed.',
    }),
    accessTokenAudiences: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: 2048 }), {
        minItems: 1,
        maxItems: 32,
        description: 'A bearer JWT\'s `aud` must hold one of these (default: the client id).',
      }),
    ),
    algorithms: Type.Array(StringEnum(DEFAULT_ID_TOKEN_ALGORITHMS), {
      minItems: 1,
      maxItems: 14,
      default: [...DEFAULT_ID_TOKEN_ALGORITHMS],
      description: 'Signature algorithms accepted for ID tokens and bearer JWTs.',
    }),
    clockSkew: Duration('Tolerance for the times in ID tokens and bearer JWTs.', '30s'),
    introspection: Type.Object(
      {
        enabled: Type.Boolean({ default: true, description: 'Introspect bearer tokens that are not the provider\'s JWTs (RFC 7662).' }),
        cacheTtlMax: Duration('An active answer is reused until the token\'s `exp`, at most this long.', '5m'),
        inactiveCacheTtl: Duration('An inactive answer is reused this long.', '10s'),
        maxInFlight: Type.Integer({
          minimum: 1,
          maximum: MAX_IN_FLIGHT_LIMIT,
          default: MAX_IN_FLIGHT_DEFAULT,
          description: `Introspections under way at once at this provider; more wait (up to ${QUEUE_PER_SLOT} per slot, ${WAIT_MS / 1000} s at most), then are refused with 503 \`oidc_introspection_busy\`.`,
        }),
      },
      { additionalProperties: false, default: {}, description: 'Bearer tokens the provider must be asked about.' },
    ),
    userinfo: Type.Object(
      { enabled: Type.Boolean({ default: true, description: 'Fetch userinfo at login and at every refresh (the `X-Userinfo` header, more claims).' }) },
      { additionalProperties: false, default: {}, description: 'The userinfo endpoint.' },
    ),
    accessTokenExpiresLeeway: Duration('Refresh the tokens once the access token expires within this.', '30s'),
    logout: Type.Optional(
      Type.Object(
        {
          path: Path('GET or POST here ends the session.'),
          redirectAfterLogoutUri: Type.Optional(Url('`post_logout_redirect_uri` at the provider; where the browser goes without an end-session endpoint.')),
          revokeTokens: Type.Boolean({ default: false, description: 'Revoke the refresh and access tokens at the provider\'s `revocation_endpoint`.' }),
        },
        {
          additionalProperties: false,
          description: 'Logout: the session ends, then the browser goes to the provider\'s `end_session_endpoint` (with `id_token_hint`).',
        },
      ),
    ),
    consumer: JwtConsumer,
    upstreamHeaders: Type.Object(
      {
        userinfo: UpstreamHeader('The userinfo answer, base64 JSON', 'x-userinfo'),
        accessToken: UpstreamHeader('The access token', 'x-access-token'),
        idToken: Type.Object(
          {
            ...UpstreamHeader('The ID token', 'x-id-token').properties,
            form: StringEnum(['raw', 'claims'] as const, {
              default: 'raw',
              description: '`raw`: the token as issued; `claims`: base64 JSON of its claims (kong-oidc\'s form).',
            }),
          },
          { additionalProperties: false, default: {}, description: 'The ID token; any copy the client sent is always removed.' },
        ),
      },
      { additionalProperties: false, default: {}, description: 'What a request with a login session carries upstream.' },
    ),
    timeout: Duration('Each request to the provider may take this long.', '5s'),
    tls: Type.Optional(
      Type.Object(
        {
          caRef: Type.Object(SecretKeyRef.properties, {
            additionalProperties: false,
            description: 'PEM certificates trusted for the provider besides the system ones (a private CA). Certificate checks are never turned off.',
          }),
        },
        { additionalProperties: false, description: 'TLS to the provider.' },
      ),
    ),
  },
  {
    additionalProperties: false,
    description: 'OpenID Connect: browser login (authorization code with PKCE) into the policy\'s session, token refresh, logout, bearer tokens.',
  },
);
export type OidcSpec = Static<typeof OidcSpec>;
