// The `oidc` method as the pipeline sees it. Its credential is a bearer token (bearer.ts); a browser's
// login lives in the policy's session, which is tried first and asks this method's companion for
// headers and refreshes. With nothing presented at all, it answers the client itself: a redirect to the
// provider for a page, 401 JSON naming the login URL for a script (`unauthenticated: redirect`).
import type { Deny } from '../../core/decision.js';
import type { CheckInput } from '../../core/input.js';
import type { AuthnResult, Authenticator, RequestContext } from '../../core/ports.js';
import type { BearerTokens } from './bearer.js';
import type { OidcConfig } from './config.js';
import { returnPathOf } from './flow.js';
import type { Login } from './login.js';

export class OidcAuthenticator implements Authenticator {
  readonly type = 'oidc' as const;
  readonly name: string;
  readonly challenge: string | undefined;
  readonly headerNames: readonly string[];
  readonly #c: OidcConfig;
  readonly #bearer: BearerTokens;
  readonly #login: Login | undefined;

  constructor(config: OidcConfig, bearer: BearerTokens, login: Login | undefined) {
    this.name = config.name;
    this.#c = config;
    this.#bearer = bearer;
    this.#login = login;
    // A browser policy answers a missing login with its own redirect; only bearer policies challenge.
    this.challenge = config.bearerOnly ? 'Bearer' : undefined;
    this.headerNames = config.headers.all;
  }

  presented(input: CheckInput): string | undefined {
    return this.#bearer.presented(input);
  }

  authenticate(input: CheckInput, ctx: RequestContext): AuthnResult | Promise<AuthnResult> {
    return this.#bearer.authenticate(input, ctx);
  }

  unauthenticated(input: CheckInput, ctx: RequestContext): Deny | undefined {
    const login = this.#login;
    if (login === undefined || this.#c.unauthenticated !== 'redirect' || !login.serves(input.host)) return undefined;
    return login.start(input, ctx, returnPathOf(input));
  }
}
