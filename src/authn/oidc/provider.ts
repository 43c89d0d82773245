// One OpenID provider as a client registered there sees it: its metadata (discovery, with overrides)
// as an openid-client Configuration, and its signing keys (a JWKS cache of authn/jwt). Both are
// fetched in the background when the provider is first named and refreshed later; a failure keeps the
// last good copy and retries with a capped backoff. Nothing here runs on the request path: a request
// reads what the last fetch left. Providers are shared across recompiles (see services.ts), so a
// policy change never waits for discovery again.
import { webcrypto, type KeyObject } from 'node:crypto';
import * as client from 'openid-client';
import { GatehouseError, type ErrorCode } from '../../core/errors.js';
import type { Logger } from '../../telemetry/log.js';
import { RemoteKeys, type JwksOptions, type RemoteSource } from '../jwt/jwks-cache.js';

/** How the client proves itself at the token, introspection and revocation endpoints. */
export type ClientAuthentication =
  | { readonly kind: 'client_secret_basic' | 'client_secret_post'; readonly secret: string }
  | { readonly kind: 'private_key_jwt'; readonly key: KeyObject; readonly kid: string | undefined }
  | { readonly kind: 'none' };

/** Endpoints replacing (or, all three of authorization, token and jwks given, standing in for) discovery. */
export interface EndpointOverrides {
  readonly authorization_endpoint?: string | undefined;
  readonly token_endpoint?: string | undefined;
  readonly userinfo_endpoint?: string | undefined;
  readonly jwks_uri?: string | undefined;
  readonly end_session_endpoint?: string | undefined;
  readonly introspection_endpoint?: string | undefined;
  readonly revocation_endpoint?: string | undefined;
}

export interface ProviderSettings {
  readonly issuer: string;
  readonly clientId: string;
  readonly auth: ClientAuthentication;
  readonly overrides: EndpointOverrides;
  readonly insecure: boolean;
  readonly timeoutMs: number;
  /** The fetch every request to the provider goes through (a private CA: tls-fetch.ts). */
  readonly fetch: typeof fetch | undefined;
}

/** Metadata is fetched again this often while all is well (keys follow their own Cache-Control). */
const REDISCOVER_MS = 3_600_000;
const RETRY_FIRST_MS = 500;
const RETRY_MAX_MS = 30_000;

export class OidcProvider {
  readonly settings: ProviderSettings;
  /** ID token and bearer JWT keys. */
  readonly keys: RemoteKeys;
  readonly #logger: Logger;
  readonly #offline: boolean;
  readonly #listeners = new Set<() => void>();
  /** Ends every request to the provider under way when the provider is closed (shutdown). */
  readonly #abort = new AbortController();
  readonly #fetch: client.CustomFetch;
  #config: client.Configuration | undefined;
  #lastError: string | undefined;
  #failures = 0;
  #started = false;
  #closed = false;
  #timer: NodeJS.Timeout | undefined;
  #inflight: Promise<void> | undefined;

  constructor(settings: ProviderSettings, jwks: JwksOptions, logger: Logger) {
    this.settings = settings;
    this.#logger = logger;
    this.#offline = jwks.offline;
    const o = settings.overrides;
    const source: RemoteSource = o.jwks_uri === undefined ? { kind: 'discovery', issuer: settings.issuer } : { kind: 'jwks', uri: o.jwks_uri };
    this.keys = new RemoteKeys(source, { ...jwks, fetch: settings.fetch ?? jwks.fetch });
    const base = settings.fetch ?? jwks.fetch;
    const closing = this.#abort.signal;
    this.#fetch = (url, options) => base(url, { ...options, signal: options.signal === undefined ? closing : AbortSignal.any([options.signal, closing]) });
  }

  /** The last good configuration; undefined until the provider has answered once. */
  get config(): client.Configuration | undefined {
    return this.#config;
  }

  /**
   * Why logins cannot be served yet, or undefined once the provider has answered (metadata and keys),
   * even if it is down now: the last good copy serves. Never contacted while validating.
   */
  problem(): string | undefined {
    if (this.#config !== undefined || this.#offline) return undefined;
    if (this.#lastError === undefined) return `waiting for the first answer of provider ${this.settings.issuer}`;
    return `provider ${this.settings.issuer} has not answered: ${this.#lastError}`;
  }

  /** Calls `listener` whenever `problem()` may have changed; returns the unsubscribe. */
  watch(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Starts the background fetches, once; returns at once. */
  start(): void {
    if (this.#started || this.#offline) return;
    this.#started = true;
    this.keys.start();
    void this.refresh();
  }

  /** One discovery at a time; never rejects. Resolves when it has settled (tests wait on it). */
  refresh(): Promise<void> {
    if (this.#inflight !== undefined) return this.#inflight;
    if (this.#closed || this.#offline) return Promise.resolve();
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#inflight = this.#discover()
      .then((config) => {
        const first = this.#config === undefined;
        this.#config = config;
        this.#failures = 0;
        this.#lastError = undefined;
        if (first) {
          this.#logger.info('oidc provider ready', { issuer: this.settings.issuer });
          this.#notify();
        }
        this.#schedule(REDISCOVER_MS);
      })
      .catch((e: unknown) => {
        this.#failures++;
        this.#lastError = describe(e);
        this.#logger.warn('oidc discovery failed', { issuer: this.settings.issuer, error: this.#lastError, keepingLastGood: this.#config !== undefined });
        if (this.#config === undefined) this.#notify();
        this.#schedule(Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** Math.min(this.#failures - 1, 16)));
      })
      .finally(() => {
        this.#inflight = undefined;
      });
    return this.#inflight;
  }

  close(): void {
    this.#closed = true;
    this.#abort.abort();
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.keys.close();
    this.#listeners.clear();
  }

  #schedule(ms: number): void {
    if (this.#closed) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.refresh();
    }, ms);
    this.#timer.unref();
  }

  #notify(): void {
    for (const l of [...this.#listeners]) l();
  }

  async #discover(): Promise<client.Configuration> {
    const s = this.settings;
    const auth = await clientAuth(s.auth);
    const metadata = s.auth.kind === 'client_secret_basic' || s.auth.kind === 'client_secret_post' ? { client_secret: s.auth.secret } : {};
    const o = definedOnly(s.overrides);
    let server: client.ServerMetadata;
    if (o.authorization_endpoint !== undefined && o.token_endpoint !== undefined && o.jwks_uri !== undefined) {
      server = { issuer: s.issuer, ...o };
    } else {
      const found = await client.discovery(new URL(s.issuer), s.clientId, metadata, auth, {
        execute: s.insecure ? [client.allowInsecureRequests] : [],
        timeout: Math.ceil(s.timeoutMs / 1000),
        [client.customFetch]: this.#fetch,
      });
      server = { ...found.serverMetadata(), ...o };
    }
    const config = new client.Configuration(server, s.clientId, metadata, auth);
    if (s.insecure) client.allowInsecureRequests(config);
    config.timeout = Math.ceil(s.timeoutMs / 1000);
    config[client.customFetch] = this.#fetch;
    // No login can be verified without the keys: the provider counts as answered once they are in too.
    if (this.keys.keys === undefined) await this.keys.refresh();
    if (this.keys.keys === undefined) throw new Error(this.keys.lastError ?? 'no signing keys');
    return config;
  }
}

/** The openid-client authentication of a client; a private key becomes a WebCrypto key once. */
async function clientAuth(a: ClientAuthentication): Promise<client.ClientAuth> {
  switch (a.kind) {
    case 'client_secret_basic':
      return client.ClientSecretBasic(a.secret);
    case 'client_secret_post':
      return client.ClientSecretPost(a.secret);
    case 'private_key_jwt': {
      const key = await webcrypto.subtle.importKey('pkcs8', a.key.export({ type: 'pkcs8', format: 'der' }), signingAlgorithm(a.key), false, ['sign']);
      return client.PrivateKeyJwt(a.kid === undefined ? key : { key, kid: a.kid });
    }
    case 'none':
      return client.None();
    default: {
      const never: never = a;
      throw new Error(`unknown client authentication ${JSON.stringify(never)}`);
    }
  }
}

/** WebCrypto parameters of a private key (compile.ts admits RSA, EC P-256/384/521 and Ed25519 only). */
export function signingAlgorithm(key: KeyObject): webcrypto.RsaHashedImportParams | webcrypto.EcKeyImportParams | webcrypto.Algorithm {
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
    case 'ec': {
      const curve = key.asymmetricKeyDetails?.namedCurve;
      return { name: 'ECDSA', namedCurve: curve === 'secp384r1' ? 'P-384' : curve === 'secp521r1' ? 'P-521' : 'P-256' };
    }
    default:
      return { name: 'Ed25519' };
  }
}

function definedOnly(o: EndpointOverrides): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(o)) if (typeof v === 'string') out[k] = v;
  return out;
}

/** An error as operators read it: what failed, never a token or secret (openid-client errors carry neither). */
export function describe(e: unknown): string {
  if (e instanceof Error) {
    const cause = e.cause instanceof Error ? `: ${e.cause.message}` : '';
    return `${e.message}${cause}`.slice(0, 300);
  }
  return String(e).slice(0, 300);
}

/**
 * A failed call to the provider as the client hears of it: the provider cannot be reached or is
 * failing (503 `oidc_provider_unavailable`), or it answered and refused (`refused`, a 401).
 */
export function providerFailure(e: unknown, refused: ErrorCode, what: string): GatehouseError {
  if (e instanceof GatehouseError) return e;
  if (e instanceof client.ResponseBodyError) {
    return new GatehouseError(e.status >= 500 ? 'oidc_provider_unavailable' : refused, `${what}: ${e.error} (HTTP ${e.status})`, { cause: e });
  }
  const code = (e as { code?: unknown } | null)?.code;
  const unreachable =
    (e instanceof TypeError && (typeof code !== 'string' || !code.startsWith('ERR_INVALID'))) ||
    (e instanceof Error && (e.name === 'TimeoutError' || e.name === 'AbortError')) ||
    code === 'OAUTH_RESPONSE_IS_NOT_CONFORM' ||
    code === 'OAUTH_RESPONSE_IS_NOT_JSON';
  return new GatehouseError(unreachable ? 'oidc_provider_unavailable' : refused, `${what}: ${describe(e)}`, { cause: e });
}
