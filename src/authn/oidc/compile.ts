// An `oidc` method block + its Secrets + the policy around it -> the method's parts: the bearer
// authenticator (which also starts browser logins), the callback, login path and logout endpoints, the
// session companion, and the provider whose availability the policy's status reports. Every problem
// names its field; `gatehouse validate` reports them without contacting the provider.
import { createPrivateKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import type { MethodContext } from '../../config/method-context.js';
import { splitHostPort } from '../../core/input.js';
import { configuredPath, matchesPrefix } from '../../core/path.js';
import type { Authenticator, Endpoint } from '../../core/ports.js';
import type { PolicySession } from '../../session/handle.js';
import { compileLocations } from '../credentials.js';
import { JwtAuthenticator } from '../jwt/authenticator.js';
import { duration, secretEntry, type JwtConfig } from '../jwt/compile.js';
import { KeySet } from '../jwt/keys.js';
import type { JwtServices } from '../jwt/services.js';
import { BearerTokens } from './bearer.js';
import { Callback } from './callback.js';
import { OidcCompanion } from './companion.js';
import { hostMatches, type OidcConfig, type UpstreamHeaderNames } from './config.js';
import { FlowCookies } from './flow.js';
import { Login, LoginPath } from './login.js';
import { OidcAuthenticator } from './authenticator.js';
import { Logout } from './logout.js';
import type { ClientAuthentication, EndpointOverrides, OidcProvider } from './provider.js';
import type { OidcSpec } from './schema.js';
import type { OidcServices } from './services.js';
import { fetchTrusting } from './tls-fetch.js';

/** What the policy around the method offers it and tells it. */
export interface OidcPolicyView {
  /** The compiled session block; undefined when there is none or it did not compile. */
  readonly session: PolicySession | undefined;
  readonly sessionDeclared: boolean;
  /** Normalized policy hosts (exact, `*.suffix`, `*`). */
  readonly hosts: readonly string[];
  /** Policy path prefixes, in compared form. */
  readonly paths: readonly string[];
  readonly pathOptions: number;
  readonly allowEncodedSlashes: boolean;
  readonly anonymous: boolean;
}

/** A provider the policy cannot serve logins without, for its status. */
export interface ProviderDependency {
  readonly field: string;
  problem(): string | undefined;
  watch(listener: () => void): () => void;
}

export interface OidcParts {
  readonly authenticator: Authenticator;
  readonly endpoints: readonly Endpoint[];
  readonly dependency: ProviderDependency;
}

/** Header names a provider's answer must never set upstream. */
const FORBIDDEN_HEADERS = new Set(['host', 'content-length', 'transfer-encoding', 'connection', 'te', 'upgrade', 'keep-alive', 'cookie', 'authorization']);

export function compileOidc(spec: OidcSpec, ctx: MethodContext, jwt: JwtServices, services: OidcServices, policy: OidcPolicyView): OidcParts {
  const path = ctx.path;
  const problems = ctx.problems;
  const skewMs = duration(spec.clockSkew, `${path}.clockSkew`, ctx) ?? 30_000;
  const leewayMs = duration(spec.accessTokenExpiresLeeway, `${path}.accessTokenExpiresLeeway`, ctx) ?? 30_000;
  const timeoutMs = duration(spec.timeout, `${path}.timeout`, ctx) ?? 5000;
  const maxMs = duration(spec.introspection.cacheTtlMax, `${path}.introspection.cacheTtlMax`, ctx) ?? 300_000;
  const inactiveMs = duration(spec.introspection.inactiveCacheTtl, `${path}.introspection.inactiveCacheTtl`, ctx) ?? 10_000;
  if (!spec.scopes.includes('openid')) problems.error(`${path}.scopes`, 'must include openid: without it there is no ID token and no login');
  const insecure = spec.allowInsecureHttp;
  checkUrl(spec.issuer, `${path}.issuer`, insecure, ctx);
  const overrides = endpointOverrides(spec, insecure, ctx);
  const login = !spec.bearerOnly;
  if (insecure) problems.warn(`${path}.allowInsecureHttp`, 'plain http to the provider: codes and tokens travel in clear (local development only)', 'Invalid');
  if (login && spec.redirectUri === undefined) problems.error(`${path}.redirectUri`, 'a login needs the redirect URI registered at the provider (or set bearerOnly: true)');
  if (spec.redirectUri !== undefined) checkUrl(spec.redirectUri, `${path}.redirectUri`, insecure, ctx);
  const redirect = login && spec.redirectUri !== undefined ? safeUrl(spec.redirectUri) : undefined;
  const callbackHost = redirect === undefined ? '' : splitHostPort(redirect.host)[0];
  if (redirect !== undefined && !hostMatches(callbackHost, policy.hosts)) {
    problems.error(`${path}.redirectUri`, `host ${callbackHost} is not one of the policy's hosts: the callback would never reach this policy`);
  }
  const callbackPath = redirect === undefined ? '/' : endpointPath(redirect.pathname, `${path}.redirectUri`, ctx, policy);
  const loginPath = spec.loginPath === undefined ? undefined : endpointPath(spec.loginPath, `${path}.loginPath`, ctx, policy);
  const logoutPath = spec.logout === undefined ? undefined : endpointPath(spec.logout.path, `${path}.logout.path`, ctx, policy);
  if (spec.logout?.redirectAfterLogoutUri !== undefined) checkUrl(spec.logout.redirectAfterLogoutUri, `${path}.logout.redirectAfterLogoutUri`, true, ctx);
  if (login && !policy.sessionDeclared) {
    problems.error(path, 'a login lives in the policy\'s session: add spec.session (storage redis is best for tokens), or set bearerOnly: true');
  }
  if (spec.unauthenticated === 'pass' && !policy.anonymous) {
    problems.error(`${path}.unauthenticated`, 'pass lets requests without a session through as the anonymous consumer: set spec.anonymous');
  }
  (spec.hosts ?? []).forEach((h, i) => {
    if (!policy.hosts.includes(h.toLowerCase())) problems.error(`${path}.hosts[${i}]`, `${h} is not one of the policy's hosts`);
  });
  const served = (spec.hosts ?? policy.hosts).map((h) => h.toLowerCase()).filter((h) => h !== callbackHost);
  if (redirect !== undefined && hostMatches(callbackHost, policy.hosts) && served.length > 0 && policy.session?.cookie.domain === undefined) {
    problems.warn(
      `${path}.hosts`,
      `logins started on ${served.join(', ')} cannot complete: their flow cookie stays on that host and never reaches the callback on ${callbackHost}; ` +
        'bind this method to its callback host (hosts), or give the session cookie a domain covering both',
      'Invalid',
    );
  }
  if (login && policy.session?.storage === 'cookie') {
    problems.warn(
      'spec.session.storage',
      'cookie storage holds an OpenID login\'s tokens (access, refresh, ID token, userinfo) in the cookie: several KB split over several cookies, ' +
        'more than some proxies accept in request headers (nginx: 8 KB); prefer storage redis',
      'Invalid',
    );
  }
  const headers = upstreamHeaders(spec, ctx);
  const auth = clientAuthentication(spec, ctx);
  const ca = spec.tls === undefined ? undefined : secretEntry(spec.tls.caRef.name, spec.tls.caRef.key, `${path}.tls.caRef`, ctx)?.toString('utf8');
  const provider = services.provider(
    { issuer: spec.issuer, clientId: spec.clientId, auth: auth.auth, overrides, insecure, timeoutMs, fetch: ca === undefined ? undefined : fetchTrusting(ca) },
    `${auth.fingerprint}\0${ca ?? ''}`,
  );
  const session = login ? policy.session : undefined;
  const config: OidcConfig = {
    name: ctx.methodName,
    policyId: ctx.policyId,
    provider,
    services,
    logger: services.options.logger,
    redirectUri: spec.redirectUri ?? '',
    callbackHost,
    callbackPath,
    authParams: authParams(spec),
    hosts: spec.hosts?.map((h) => h.toLowerCase()),
    unauthenticated: spec.unauthenticated,
    loginPath,
    bearerOnly: spec.bearerOnly,
    idToken: { issuer: spec.issuer, clientId: spec.clientId, algorithms: new Set<string>(spec.algorithms), skewMs },
    userinfo: spec.userinfo.enabled,
    leewayMs,
    logout: logoutPath === undefined ? undefined : { path: logoutPath, redirectAfter: spec.logout?.redirectAfterLogoutUri, revoke: spec.logout?.revokeTokens ?? false },
    mapping: {
      method: ctx.methodName,
      consumer: { id: spec.consumer.id, username: spec.consumer.username, customId: spec.consumer.customId, groups: spec.consumer.groups },
      headers: [],
      payloadHeader: undefined,
    },
    headers,
    introspection: { enabled: spec.introspection.enabled, maxMs, inactiveMs, gate: services.gate(provider, spec.introspection.maxInFlight) },
    session,
    flows: session === undefined ? undefined : new FlowCookies(session, callbackPath),
  };
  const bearer = new BearerTokens(config, new JwtAuthenticator(ctx.methodName, ctx.policyId, bearerJwtConfig(spec, config, provider), compileLocations([{ header: 'authorization', prefix: 'Bearer ' }]), false, jwt));
  const endpoints: Endpoint[] = [];
  let loginStarter: Login | undefined;
  if (session !== undefined && config.flows !== undefined) {
    loginStarter = new Login(config, config.flows);
    session.register(new OidcCompanion(config));
    endpoints.push(new Callback(config, config.flows, session));
    if (loginPath !== undefined) endpoints.push(new LoginPath(ctx.methodName, loginPath, loginStarter));
    if (logoutPath !== undefined) endpoints.push(new Logout(config, logoutPath, session));
  }
  return {
    authenticator: new OidcAuthenticator(config, bearer, loginStarter),
    endpoints,
    dependency: { field: `${path}.issuer`, problem: () => provider.problem(), watch: (l) => provider.watch(l) },
  };
}

/** The `jwt` method's configuration for the provider's JWT access tokens. */
function bearerJwtConfig(spec: OidcSpec, c: OidcConfig, provider: OidcProvider): JwtConfig {
  return {
    algorithms: c.idToken.algorithms,
    staticKeys: new KeySet([]),
    remote: provider.keys,
    rules: {
      issuer: spec.issuer,
      audiences: new Set(spec.accessTokenAudiences ?? [spec.clientId]),
      skewMs: c.idToken.skewMs,
      maxLifetimeMs: undefined,
      requireExp: true,
      required: [],
    },
    mapping: c.mapping,
    maxBytes: 16_384,
    revocation: false,
    scope: spec.issuer,
    signer: undefined,
    mintClaims: {},
  };
}

function authParams(spec: OidcSpec): Record<string, string> {
  const out: Record<string, string> = { ...(spec.extraAuthParams ?? {}), scope: spec.scopes.join(' ') };
  if (spec.prompt !== undefined) out['prompt'] = spec.prompt;
  else if (spec.consentForOfflineAccess && spec.scopes.includes('offline_access')) out['prompt'] = 'consent';
  return out;
}

function safeUrl(text: string): URL | undefined {
  try {
    return new URL(text);
  } catch {
    return undefined;
  }
}

function checkUrl(text: string, field: string, insecureOk: boolean, ctx: MethodContext): void {
  const url = safeUrl(text);
  if (url === undefined) ctx.problems.error(field, 'not a valid URL');
  else if (url.protocol === 'http:' && !insecureOk) ctx.problems.error(field, 'plain http: use https, or set allowInsecureHttp: true for local development');
  else if (url.username !== '' || url.password !== '' || url.hash !== '') ctx.problems.error(field, 'must not carry credentials or a fragment');
}

function endpointOverrides(spec: OidcSpec, insecure: boolean, ctx: MethodContext): EndpointOverrides {
  const o = spec.discoveryOverride ?? {};
  for (const [k, v] of Object.entries(o)) if (typeof v === 'string') checkUrl(v, `${ctx.path}.discoveryOverride.${k}`, insecure, ctx);
  return {
    authorization_endpoint: o.authorizationEndpoint,
    token_endpoint: o.tokenEndpoint,
    userinfo_endpoint: o.userinfoEndpoint,
    jwks_uri: o.jwksUri,
    end_session_endpoint: o.endSessionEndpoint,
    introspection_endpoint: o.introspectionEndpoint,
    revocation_endpoint: o.revocationEndpoint,
  };
}

/** A path gatehouse answers: in normal form, and inside the policy's paths (else it never gets there). */
function endpointPath(raw: string, field: string, ctx: MethodContext, policy: OidcPolicyView): string {
  const c = configuredPath(raw === '' ? '/' : raw, policy.pathOptions, policy.allowEncodedSlashes);
  if (!c.ok) {
    ctx.problems.error(field, c.message);
    return raw;
  }
  if (!policy.paths.some((p) => matchesPrefix(c.path, p))) ctx.problems.error(field, `path ${c.path} is outside spec.paths: its requests would never reach this policy`);
  return c.path;
}

function upstreamHeaders(spec: OidcSpec, ctx: MethodContext): UpstreamHeaderNames {
  const h = spec.upstreamHeaders;
  const entries = [
    ['userinfo', h.userinfo],
    ['accessToken', h.accessToken],
    ['idToken', h.idToken],
  ] as const;
  const seen = new Set<string>();
  const names: Record<string, string | undefined> = {};
  for (const [key, value] of entries) {
    const name = value.name.toLowerCase();
    if (FORBIDDEN_HEADERS.has(name) || seen.has(name)) {
      ctx.problems.error(`${ctx.path}.upstreamHeaders.${key}.name`, seen.has(name) ? 'header named twice' : `${name} cannot be set from a login`);
    }
    seen.add(name);
    names[key] = value.enabled ? name : undefined;
  }
  return { userinfo: names['userinfo'], accessToken: names['accessToken'], idToken: names['idToken'], idTokenForm: h.idToken.form, all: [...seen] };
}

interface Auth {
  readonly auth: ClientAuthentication;
  /** The secret or key material, for the provider's cache key (hashed there). */
  readonly fingerprint: string;
}

function clientAuthentication(spec: OidcSpec, ctx: MethodContext): Auth {
  const path = ctx.path;
  const method = spec.tokenEndpointAuthMethod ?? (spec.privateKeyRef !== undefined ? 'private_key_jwt' : spec.clientSecretRef !== undefined ? 'client_secret_basic' : 'none');
  const none: Auth = { auth: { kind: 'none' }, fingerprint: '' };
  switch (method) {
    case 'none':
      if (spec.clientSecretRef !== undefined || spec.privateKeyRef !== undefined) {
        ctx.problems.warn(`${path}.tokenEndpointAuthMethod`, 'none (a public client): the configured secret or key is not used', 'Invalid');
      }
      return none;
    case 'client_secret_basic':
    case 'client_secret_post': {
      const ref = spec.clientSecretRef;
      if (ref === undefined) {
        ctx.problems.error(`${path}.clientSecretRef`, `${method} needs the client secret`);
        return none;
      }
      const secret = secretEntry(ref.name, ref.key, `${path}.clientSecretRef`, ctx)?.toString('utf8').trim();
      return secret === undefined ? none : { auth: { kind: method, secret }, fingerprint: secret };
    }
    case 'private_key_jwt': {
      const ref = spec.privateKeyRef;
      if (ref === undefined) {
        ctx.problems.error(`${path}.privateKeyRef`, 'private_key_jwt needs the private key');
        return none;
      }
      const raw = secretEntry(ref.name, ref.key, `${path}.privateKeyRef`, ctx);
      const key = raw === undefined ? undefined : privateKey(raw, `${path}.privateKeyRef`, ctx);
      return key === undefined ? none : { auth: { kind: 'private_key_jwt', key: key.key, kid: key.kid }, fingerprint: raw?.toString('base64') ?? '' };
    }
    default: {
      const never: never = method;
      throw new Error(`unknown client authentication ${String(never)}`);
    }
  }
}

function privateKey(raw: Buffer, field: string, ctx: MethodContext): { key: KeyObject; kid: string | undefined } | undefined {
  const text = raw.toString('utf8').trim();
  let key: KeyObject;
  let kid: string | undefined;
  try {
    if (text.startsWith('{')) {
      const jwk = JSON.parse(text) as JsonWebKey & { kid?: unknown };
      kid = typeof jwk.kid === 'string' ? jwk.kid : undefined;
      key = createPrivateKey({ key: jwk, format: 'jwk' });
    } else {
      key = createPrivateKey(text);
    }
  } catch (e) {
    ctx.problems.error(field, `not a private key (PKCS#8 PEM or JWK): ${(e as Error).message}`, 'SecretInvalid');
    return undefined;
  }
  const type = key.asymmetricKeyType;
  const curve = key.asymmetricKeyDetails?.namedCurve;
  const fits = type === 'rsa' || type === 'ed25519' || (type === 'ec' && (curve === 'prime256v1' || curve === 'secp384r1' || curve === 'secp521r1'));
  if (!fits) {
    ctx.problems.error(field, `a ${type ?? 'unknown'} key cannot sign client assertions (RSA, EC P-256/384/521 or Ed25519)`, 'SecretInvalid');
    return undefined;
  }
  return { key, kid };
}
