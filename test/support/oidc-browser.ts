// What the `oidc` tests share: the AuthPolicy and Secrets of a shop signing users in at a test OP, and
// a browser as Envoy's ext_authz shows it to gatehouse: a cookie jar (names, values, paths) fed by
// the Set-Cookie lines of every answer, Checks built as Envoy builds them, and the login done the
// way a browser goes (gatehouse's redirect, the provider's pages, the callback).
import assert from 'node:assert/strict';
import { deniedOf, type DecodedCheckResponse, type DecodedHeader } from './envoy-client.js';
import type { TestGatehouse } from './gatehouse.js';
import { AFTER_LOGOUT, REDIRECT_URI, type LoginOp } from './oidc-login-op.js';

export const HOST = 'shop.example.com';
export const SESSION_KEY = '0123456789abcdef0123456789abcdef-session-key';

/** The `oidc` block of a method signing in at `op`, with `extra` fields over the defaults. */
export function oidcBlock(op: LoginOp, extra: Readonly<Record<string, unknown>> = {}): Record<string, unknown> {
  return {
    issuer: op.issuer,
    allowInsecureHttp: true,
    clientId: op.clientId,
    clientSecretRef: { name: `${op.clientId}-oidc`, key: 'client-secret' },
    redirectUri: REDIRECT_URI,
    scopes: ['openid', 'profile', 'email', 'groups', 'offline_access'],
    logout: { path: '/logout', redirectAfterLogoutUri: AFTER_LOGOUT, revokeTokens: true },
    consumer: { id: 'sub', username: 'preferred_username', groups: 'groups' },
    ...extra,
  };
}

const manifest = (kind: string, name: string, body: Readonly<Record<string, unknown>>): string =>
  JSON.stringify({ apiVersion: kind === 'Secret' ? 'v1' : 'gatehouse.dev/v1alpha1', kind, metadata: { name, namespace: 'shop' }, ...body });

/** Policy `shop/<name>` for HOST (or `hosts`) with these methods and session, plus every Secret the OPs need. */
export function shopFiles(
  ops: readonly LoginOp[],
  spec: { readonly methods: readonly Readonly<Record<string, unknown>>[]; readonly session?: Readonly<Record<string, unknown>> | undefined; readonly rest?: Readonly<Record<string, unknown>> },
  name = 'shop',
): Record<string, string> {
  const policy = manifest('AuthPolicy', name, {
    spec: { hosts: [HOST], authentication: { methods: spec.methods }, ...(spec.session === undefined ? {} : { session: spec.session }), ...spec.rest },
  });
  const secrets = [
    manifest('Secret', 'shop-session', { stringData: { current: SESSION_KEY } }),
    ...ops.map((op) => manifest('Secret', `${op.clientId}-oidc`, { stringData: { 'client-secret': op.clientSecret } })),
  ];
  return { 'policy.yaml': policy, 'secrets.yaml': secrets.join('\n---\n') };
}

interface Cookie {
  readonly value: string;
  readonly path: string;
}

export class Browser {
  readonly jar = new Map<string, Cookie>();
  readonly #g: TestGatehouse;
  readonly #host: string;

  constructor(g: TestGatehouse, host = HOST) {
    this.#g = g;
    this.#host = host;
  }

  /** The Cookie header this browser sends to `path`. */
  cookieFor(path: string): string | undefined {
    const pairs = [...this.jar].filter(([, c]) => path.startsWith(c.path)).map(([n, c]) => `${n}=${c.value}`);
    return pairs.length === 0 ? undefined : pairs.join('; ');
  }

  /** One request as Envoy sends its Check; the answer's cookies land in the jar. */
  async check(path: string, headers: Readonly<Record<string, string>> = {}, method = 'GET'): Promise<DecodedCheckResponse> {
    const cookie = this.cookieFor(path.split('?')[0] ?? '/');
    const res = await this.#g.envoy.check({ host: this.#host, path, method, headers: { ...(cookie === undefined ? {} : { cookie }), ...headers } });
    const lines = res.kind === 'denied' ? res.denied.headers : res.kind === 'ok' ? res.ok.responseHeadersToAdd : [];
    for (const h of lines) if (h.key === 'set-cookie') this.#store(h.value);
    return res;
  }

  #store(line: string): void {
    const [pair = '', ...attrs] = line.split(';').map((s) => s.trim());
    const eq = pair.indexOf('=');
    const name = pair.slice(0, eq);
    const value = pair.slice(eq + 1);
    const path = attrs.find((a) => a.toLowerCase().startsWith('path='))?.slice(5) ?? '/';
    if (value === '' || attrs.some((a) => a.toLowerCase() === 'max-age=0')) this.jar.delete(name);
    else this.jar.set(name, { value, path });
  }

  /**
   * A page navigation to `path` without a session: gatehouse's 302 to the provider, the login there as
   * `account`, and the callback: the callback's answer.
   */
  async login(op: LoginOp, account: string, path = '/'): Promise<DecodedCheckResponse> {
    const callback = await this.toProvider(op, account, path);
    return this.check(callback.pathname + callback.search);
  }

  /** The first half of a login: gatehouse's redirect and the provider's pages; the callback URL, not yet visited. */
  async toProvider(op: LoginOp, account: string, path = '/'): Promise<URL> {
    const redirect = deniedOf(await this.check(path));
    assert.equal(redirect.status, 302, `expected a redirect to the provider, got ${redirect.status} ${redirect.body}`);
    return op.login(headerOf(redirect.headers, 'location'), account);
  }
}

export function headerOf(headers: readonly DecodedHeader[], name: string): string {
  const h = headers.find((x) => x.key === name);
  assert.ok(h !== undefined, `no ${name} header in ${JSON.stringify(headers)}`);
  return h.value;
}

/** The `name=value` of a Set-Cookie line. */
export function pairOf(setCookie: string): string {
  return setCookie.split(';')[0] ?? '';
}

/** A JWT's claims (the test verifies them against the provider's keys separately). */
export function claimsOf(jwt: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
}
