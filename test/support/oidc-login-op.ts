// A real OpenID Provider (panva/oidc-provider) on loopback for the `oidc` method: a confidential
// authorization-code client with PKCE, refresh tokens (offline_access, rotated on use), userinfo,
// introspection, revocation and RP-initiated logout. A login is scripted over HTTP the way a browser
// would go (cookie jar, redirects followed by hand) through a tiny interaction handler: no browser.
// A test can count the requests each endpoint answered (and how many were under way at once), hold an
// endpoint's requests until it lets them go, stop and restart the provider on its port,
// and make the token endpoint return an altered ID token (re-signed with the provider's key, or
// unsigned), as a compromised network or provider would.
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { SignJWT, importJWK, type JWK } from 'jose';
import Provider from 'oidc-provider';

export const REDIRECT_URI = 'https://shop.example.com/oauth2/callback';
export const AFTER_LOGOUT = 'https://shop.example.com/bye';
export const API_RESOURCE = 'https://api.example.com';

export interface Account {
  readonly email: string;
  readonly preferred_username: string;
  readonly name: string;
  readonly groups: readonly string[];
}

export const ACCOUNTS: Readonly<Record<string, Account>> = {
  alice: { email: 'alice@example.com', preferred_username: 'alice', name: 'Alice Liddell', groups: ['staff', 'beta'] },
  bob: { email: 'bob@example.com', preferred_username: 'bob', name: 'Bob Builder', groups: ['partners'] },
};

/** Rewrites the claims (and optionally the header) of the ID token the token endpoint returns. */
export type IdTokenTamper = (claims: Record<string, unknown>) => { claims: Record<string, unknown>; alg?: 'none' };

export interface LoginOpOptions {
  readonly clientId?: string;
  readonly clientSecret?: string;
  /** Access token lifetime in seconds (default 300). */
  readonly accessTokenTtl?: number;
  /** Listen on this port (to restart a provider where gatehouse expects it). */
  readonly port?: number;
  /** Redirect URIs registered for the client (default REDIRECT_URI). */
  readonly redirectUris?: readonly string[];
  /** Where the client may send users after logout (default AFTER_LOGOUT). */
  readonly postLogoutRedirectUris?: readonly string[];
  /** Serve https with this key and certificate; `fetch` (trusting their CA) is what the test's browser uses. */
  readonly tls?: { readonly key: string; readonly cert: string; readonly fetch: typeof fetch };
  /** The client authenticates with private_key_jwt, signing with the private half of this public JWK. */
  readonly clientJwk?: JWK;
}

/** What the token endpoint answered a login. */
export interface UserTokens {
  readonly access_token: string;
  readonly refresh_token: string;
  readonly id_token: string;
}

export interface LoginOp {
  readonly issuer: string;
  readonly port: number;
  readonly clientId: string;
  readonly clientSecret: string;
  /** Requests answered at a path (`/token`, `/me`, `/token/introspection`, `/token/revocation`...). */
  requests(path: string): number;
  /** Requests at a path received and not yet answered. */
  inFlight(path: string): number;
  /** The most requests at a path under way at once since the start or `resetPeak(path)`. */
  peakInFlight(path: string): number;
  resetPeak(path: string): void;
  /** Holds every request at `path` (received, counted, unanswered) until the returned function lets them all go on. */
  hold(path: string): () => void;
  /**
   * Goes through a login as a browser would, from the authorization URL gatehouse redirected to,
   * signing in `account`: the URL the provider finally sends the browser to (the callback).
   */
  login(authorizationUrl: string, account: string): Promise<URL>;
  /** Alters ID tokens the token endpoint returns until called with undefined. */
  tamper(fn: IdTokenTamper | undefined): void;
  /** While on, the token endpoint refuses every request with 400 invalid_grant (a grant revoked at the provider). */
  refuseTokens(on: boolean): void;
  /** A login of `account` done by a client of the test's own (PKCE, code exchange): the tokens the provider issued. */
  userTokens(account: string): Promise<UserTokens>;
  /** An access token for `resource` (a JWT) or, without one, an opaque one, through client_credentials. */
  clientToken(resource?: string): Promise<string>;
  /** Stops answering (connections dropped, port closed). */
  stop(): Promise<void>;
  /** Answers again on the same port. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

export async function startLoginOp(options: LoginOpOptions = {}): Promise<LoginOp> {
  const clientId = options.clientId ?? 'shop-web';
  const clientSecret = options.clientSecret ?? `${clientId}-secret-0123456789abcdef`;
  const sockets = new Set<Socket>();
  const counts = new Map<string, number>();
  const active = new Map<string, number>();
  const peaks = new Map<string, number>();
  const held = new Map<string, (() => void)[]>();
  let tamper: IdTokenTamper | undefined;
  let refusing = false;
  let handle: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
  const serve = (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    counts.set(path, (counts.get(path) ?? 0) + 1);
    const now = (active.get(path) ?? 0) + 1;
    active.set(path, now);
    peaks.set(path, Math.max(now, peaks.get(path) ?? 0));
    res.once('close', () => active.set(path, (active.get(path) ?? 1) - 1));
    const go = (): void => {
      if (handle === undefined) res.writeHead(503).end();
      else handle(req, res);
    };
    const queue = held.get(path);
    if (queue === undefined) go();
    else queue.push(go);
  };
  const server = options.tls === undefined ? createServer(serve) : createHttpsServer({ key: options.tls.key, cert: options.tls.cert }, serve);
  const browserFetch = options.tls?.fetch ?? fetch;
  server.on(options.tls === undefined ? 'connection' : 'secureConnection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  const listen = (port: number): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  await listen(options.port ?? 0);
  const port = (server.address() as AddressInfo).port;
  const issuer = `${options.tls === undefined ? 'http' : 'https'}://127.0.0.1:${port}`;
  const signing = { ...(generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' }) as JWK), kid: `op-${port}`, use: 'sig', alg: 'RS256' };
  const signingKey = await importJWK(signing, 'RS256');

  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
        response_types: ['code'],
        redirect_uris: options.redirectUris ?? [REDIRECT_URI],
        post_logout_redirect_uris: options.postLogoutRedirectUris ?? [AFTER_LOGOUT],
        ...(options.clientJwk === undefined
          ? { token_endpoint_auth_method: 'client_secret_basic' }
          : { token_endpoint_auth_method: 'private_key_jwt', token_endpoint_auth_signing_alg: 'ES256', jwks: { keys: [options.clientJwk] } }),
        scope: 'openid offline_access profile email groups',
      },
    ],
    jwks: { keys: [signing] },
    cookies: { keys: ['login-op-cookie-key-for-tests-only'] },
    pkce: { required: () => true },
    scopes: ['openid', 'offline_access', 'profile', 'email', 'groups'],
    claims: { openid: ['sub'], profile: ['name', 'preferred_username'], email: ['email'], groups: ['groups'] },
    findAccount: (_ctx: unknown, id: string) => {
      const account = ACCOUNTS[id];
      return account === undefined ? undefined : { accountId: id, claims: () => ({ sub: id, ...account }) };
    },
    ttl: { AccessToken: options.accessTokenTtl ?? 300, ClientCredentials: 600, IdToken: 3600, RefreshToken: 86_400, Interaction: 600, Session: 86_400, Grant: 86_400 },
    rotateRefreshToken: true,
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      revocation: { enabled: true },
      rpInitiatedLogout: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: (_ctx: unknown, _client: unknown, oneOf: unknown) => oneOf,
        useGrantedResource: () => false,
        getResourceServerInfo: () => ({ scope: '', audience: API_RESOURCE, accessTokenTTL: 600, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } } }),
      },
    },
  });
  const callback = provider.callback();

  handle = (req, res) => {
    const url = new URL(req.url ?? '/', issuer);
    const m = /^\/interaction\/([^/]+)(\/(login|consent))?$/.exec(url.pathname);
    if (m !== null) {
      void interact(provider, req, res, m[3]).catch((e: unknown) => {
        res.writeHead(500, { 'content-type': 'text/plain' }).end(String(e));
      });
      return;
    }
    if (url.pathname === '/token' && refusing) {
      res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'invalid_grant', error_description: 'grant revoked' }));
      return;
    }
    if (url.pathname === '/token' && tamper !== undefined) rewriteIdToken(res, tamper, signingKey, signing.kid);
    void callback(req, res);
  };

  return {
    issuer,
    port,
    clientId,
    clientSecret,
    requests: (path) => counts.get(path) ?? 0,
    inFlight: (path) => active.get(path) ?? 0,
    peakInFlight: (path) => peaks.get(path) ?? 0,
    resetPeak: (path) => void peaks.set(path, active.get(path) ?? 0),
    hold(path) {
      const queue: (() => void)[] = [];
      held.set(path, queue);
      return () => {
        if (held.get(path) === queue) held.delete(path);
        for (const go of queue.splice(0)) go();
      };
    },
    login: (authorizationUrl, account) => scriptedLogin(issuer, authorizationUrl, account, browserFetch),
    tamper: (fn) => {
      tamper = fn;
    },
    refuseTokens: (on) => {
      refusing = on;
    },
    async userTokens(account) {
      const verifier = randomBytes(32).toString('base64url');
      const auth = new URL(`${issuer}/auth`);
      const params = {
        client_id: clientId,
        response_type: 'code',
        redirect_uri: options.redirectUris?.[0] ?? REDIRECT_URI,
        scope: 'openid profile email groups offline_access',
        prompt: 'consent',
        state: randomBytes(16).toString('base64url'),
        code_challenge: createHash('sha256').update(verifier).digest('base64url'),
        code_challenge_method: 'S256',
      };
      for (const [k, v] of Object.entries(params)) auth.searchParams.set(k, v);
      const code = (await scriptedLogin(issuer, auth.href, account, browserFetch)).searchParams.get('code') ?? '';
      const res = await browserFetch(`${issuer}/token`, {
        method: 'POST',
        headers: { authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: params.redirect_uri, code_verifier: verifier }).toString(),
      });
      const json = (await res.json()) as UserTokens;
      if (res.status !== 200) throw new Error(`token endpoint answered ${res.status}: ${JSON.stringify(json)}`);
      return json;
    },
    async clientToken(resource) {
      const body = new URLSearchParams({ grant_type: 'client_credentials' });
      if (resource !== undefined) body.set('resource', resource);
      const res = await browserFetch(`${issuer}/token`, {
        method: 'POST',
        headers: { authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
        body: body.toString(),
      });
      const json = (await res.json()) as { access_token?: unknown };
      if (res.status !== 200 || typeof json.access_token !== 'string') throw new Error(`token endpoint answered ${res.status}: ${JSON.stringify(json)}`);
      return json.access_token;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
    restart: () => listen(port),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        if (!server.listening) resolve();
        else server.close(() => resolve());
      }),
  };
}

/** The login and consent screens, answered as a user who signs in and agrees to everything asked. */
async function interact(provider: Provider, req: IncomingMessage, res: ServerResponse, action: string | undefined): Promise<void> {
  const details = await provider.interactionDetails(req, res);
  if (req.method === 'GET' && action === undefined) {
    // A browser gets the screen as a form; the scripted login reads the same facts as JSON.
    if ((req.headers.accept ?? '').includes('text/html')) {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(interactionPage(details.uid, details.prompt.name));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ uid: details.uid, prompt: details.prompt.name }));
    return;
  }
  if (req.method !== 'POST') throw new Error(`unexpected ${req.method} on the interaction`);
  if (action === 'login') {
    const form = new URLSearchParams(await readBody(req));
    await provider.interactionFinished(req, res, { login: { accountId: form.get('account') ?? '' } }, { mergeWithLastSubmission: false });
    return;
  }
  const accountId = details.session?.accountId ?? '';
  const clientId = String(details.params['client_id']);
  const grant = (details.grantId === undefined ? undefined : await provider.Grant.find(details.grantId)) ?? new provider.Grant({ accountId, clientId });
  const missing = details.prompt.details;
  if (Array.isArray(missing['missingOIDCScope'])) grant.addOIDCScope(missing['missingOIDCScope'].join(' '));
  if (Array.isArray(missing['missingOIDCClaims'])) grant.addOIDCClaims(missing['missingOIDCClaims'] as string[]);
  const grantId = await grant.save();
  await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
}

/** The login (an account name) or consent (a button) screen of the test provider. */
function interactionPage(uid: string, prompt: string): string {
  const form =
    prompt === 'login'
      ? `<h1>Sign in</h1><form method="post" action="/interaction/${uid}/login"><input id="account" name="account"><button id="submit" type="submit">Sign in</button></form>`
      : `<h1>Allow access</h1><form method="post" action="/interaction/${uid}/consent"><button id="submit" type="submit">Allow</button></form>`;
  return `<!doctype html><html><body>${form}</body></html>`;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** The redirects a browser follows and the forms a user submits, with a cookie jar, until the provider sends the browser to the client. */
async function scriptedLogin(issuer: string, authorizationUrl: string, account: string, fetchImpl: typeof fetch): Promise<URL> {
  const jar = new Map<string, string>();
  const send = async (url: string, init: RequestInit = {}): Promise<Response> => {
    const cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    const res = await fetchImpl(url, { ...init, redirect: 'manual', headers: { ...(init.headers as Record<string, string> | undefined), ...(cookie === '' ? {} : { cookie }) } });
    for (const line of res.headers.getSetCookie()) {
      const [pair = ''] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      if (/max-age=0|expires=thu, 01 jan 1970/i.test(line) || value === '') jar.delete(name);
      else jar.set(name, value);
    }
    return res;
  };
  let next = authorizationUrl;
  for (let step = 0; step < 20; step++) {
    const res = await send(next);
    if (res.status === 302 || res.status === 303) {
      const location = new URL(res.headers.get('location') ?? '', next);
      await res.body?.cancel();
      if (!location.href.startsWith(issuer)) return location;
      next = location.href;
      continue;
    }
    if (res.status !== 200 || !new URL(next).pathname.startsWith('/interaction/')) throw new Error(`login stopped at ${next}: HTTP ${res.status} ${await res.text()}`);
    const { prompt } = (await res.json()) as { prompt: string };
    const form = await send(`${next}/${prompt === 'login' ? 'login' : 'consent'}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ account }).toString(),
    });
    await form.body?.cancel();
    next = new URL(form.headers.get('location') ?? '', next).href;
  }
  throw new Error('login did not finish in 20 steps');
}

/** The token endpoint's JSON with its ID token rewritten (koa ends a JSON answer with one res.end). */
function rewriteIdToken(res: ServerResponse, tamper: IdTokenTamper, key: Awaited<ReturnType<typeof importJWK>>, kid: string): void {
  const end = res.end.bind(res) as (chunk?: unknown) => ServerResponse;
  let done = false;
  res.end = ((chunk?: unknown): ServerResponse => {
    if (done || (typeof chunk !== 'string' && !Buffer.isBuffer(chunk))) return end(chunk);
    done = true;
    const body = JSON.parse(chunk.toString()) as Record<string, unknown>;
    if (typeof body['id_token'] !== 'string') return end(chunk);
    const claims = JSON.parse(Buffer.from(body['id_token'].split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
    const altered = tamper(claims);
    void resign(altered, key, kid).then((token) => {
      const text = JSON.stringify({ ...body, id_token: token });
      res.setHeader('content-length', Buffer.byteLength(text));
      end(text);
    });
    return res;
  }) as typeof res.end;
}

async function resign(altered: ReturnType<IdTokenTamper>, key: Awaited<ReturnType<typeof importJWK>>, kid: string): Promise<string> {
  if (altered.alg === 'none') {
    const enc = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');
    return `${enc({ alg: 'none', typ: 'JWT' })}.${enc(altered.claims)}.`;
  }
  return new SignJWT(altered.claims).setProtectedHeader({ alg: 'RS256', kid }).sign(key);
}
