// Starting a login: a fresh state, nonce and PKCE verifier (S256), sealed into the login's own flow
// cookie, and the provider's authorization URL: a 302 for a page navigation, the 401 JSON for a script.
// Synchronous: it reads the provider's last good metadata and asks it nothing.
import { hash } from 'node:crypto';
import * as client from 'openid-client';
import type { Deny } from '../../core/decision.js';
import { GatehouseError } from '../../core/errors.js';
import type { CheckInput } from '../../core/input.js';
import type { Endpoint, RequestContext } from '../../core/ports.js';
import { hostMatches, type OidcConfig } from './config.js';
import type { FlowCookies } from './flow.js';
import { safeReturnPath } from './flow.js';
import { failurePage, fromScript, loginRequired, redirect } from './pages.js';

export class Login {
  readonly #c: OidcConfig;
  readonly #flows: FlowCookies;

  constructor(config: OidcConfig, flows: FlowCookies) {
    this.#c = config;
    this.#flows = flows;
  }

  /** Whether this method signs in browsers of `host`. */
  serves(host: string): boolean {
    return this.#c.hosts === undefined || hostMatches(host, this.#c.hosts);
  }

  /** The answer that sends the browser (or tells the script) to the provider; afterwards back to `returnTo`. */
  start(input: CheckInput, ctx: RequestContext, returnTo: string): Deny {
    const c = this.#c;
    const config = c.provider.config;
    if (config === undefined) {
      const error = new GatehouseError('oidc_provider_unavailable', `login: ${c.provider.problem() ?? 'provider not ready'}`);
      return failurePage(error, c.policyId, c.name, input, returnTo, []);
    }
    const state = client.randomState();
    const nonce = client.randomNonce();
    const verifier = client.randomPKCECodeVerifier();
    const url = client.buildAuthorizationUrl(config, {
      ...c.authParams,
      redirect_uri: c.redirectUri,
      state,
      nonce,
      // S256 computed here (openid-client's helper is asynchronous WebCrypto): RFC 7636 4.2.
      code_challenge: hash('sha256', verifier, 'base64url'),
      code_challenge_method: 'S256',
    }).href;
    const cookie = this.#flows.issue({ v: 1, st: state, n: nonce, pv: verifier, m: c.name, rd: returnTo, iat: ctx.now }, ctx.now);
    const answer = { code: 'oidc_login', policy: c.policyId, method: c.name, detail: `login started at ${c.provider.settings.issuer}` };
    return fromScript(input) ? loginRequired(answer, input, url, [cookie]) : redirect(answer, url, [cookie]);
  }
}

/**
 * `loginPath`: always starts a login, with whatever session the browser has (kong-oidc's
 * force_authentication_path). `?idp=<method>` picks among several providers, `?rd=<path>` where to go after.
 */
export class LoginPath implements Endpoint {
  readonly name: string;
  readonly #path: string;
  readonly #method: string;
  readonly #login: Login;

  constructor(method: string, path: string, login: Login) {
    this.name = `oidc-login:${method}`;
    this.#method = method;
    this.#path = path;
    this.#login = login;
  }

  handle(input: CheckInput, ctx: RequestContext): Deny | undefined {
    if (ctx.path !== this.#path || !this.#login.serves(input.host)) return undefined;
    const idp = input.query('idp');
    if (idp !== undefined && idp !== this.#method) return undefined;
    return this.#login.start(input, ctx, safeReturnPath(input.query('rd')) ?? '/');
  }
}
