// The redirect URI's path: where the provider sends the browser back. The login's flow cookie must be
// there, sealed by this policy, unexpired, for this very state, and not used before on this replica;
// then the code is exchanged (PKCE), the ID token verified, userinfo read, the session created through
// the policy's session block, and the browser sent back where it started. Every failure is a short
// page with a "start again" link and never a session; the flow cookie is expired whatever happens.
import { hash, timingSafeEqual } from 'node:crypto';
import * as client from 'openid-client';
import type { Deny } from '../../core/decision.js';
import { GatehouseError, type ErrorCode } from '../../core/errors.js';
import type { HeaderPair } from '../../core/identity.js';
import type { CheckInput } from '../../core/input.js';
import type { Endpoint, RequestContext } from '../../core/ports.js';
import type { PolicySession } from '../../session/handle.js';
import type { OidcConfig } from './config.js';
import { FLOW_TTL_MS, type FlowCookies, type FlowState } from './flow.js';
import { failurePage, redirect } from './pages.js';
import { providerFailure } from './provider.js';
import { acceptTokens } from './tokens.js';

const MAX_PROVIDER_TEXT = 200;
/** openid-client's own ID token checks (claims, times, algorithm) that failed: the token is refused, not the code. */
const ID_TOKEN_FAILURES: ReadonlySet<string> = new Set([
  'OAUTH_JWT_TIMESTAMP_CHECK_FAILED',
  'OAUTH_JWT_CLAIM_COMPARISON_FAILED',
  'OAUTH_UNSUPPORTED_OPERATION',
  'OAUTH_INVALID_RESPONSE',
]);

export class Callback implements Endpoint {
  readonly name: string;
  readonly #c: OidcConfig;
  readonly #flows: FlowCookies;
  readonly #session: PolicySession;
  /** Where "start again" leads when the login's own starting point is unknown. */
  readonly #fallback: string;

  constructor(config: OidcConfig, flows: FlowCookies, session: PolicySession) {
    this.name = `oidc-callback:${config.name}`;
    this.#c = config;
    this.#flows = flows;
    this.#session = session;
    this.#fallback = config.loginPath ?? '/';
  }

  handle(input: CheckInput, ctx: RequestContext): Deny | Promise<Deny> | undefined {
    const c = this.#c;
    if (input.host !== c.callbackHost || ctx.path !== c.callbackPath) return undefined;
    const state = input.query('state');
    const flow = state === undefined || state === '' ? undefined : this.#flows.read(input, state, ctx.now);
    // Several methods may share one redirect URI: the flow cookie says whose login this is.
    if (typeof flow === 'object' && flow.m !== c.name) return undefined;
    const expire = state === undefined || state === '' ? [] : [this.#flows.expire(state)];
    const fail = (code: ErrorCode, detail: string): Deny =>
      failurePage(new GatehouseError(code, detail), c.policyId, c.name, input, typeof flow === 'object' ? flow.rd : this.#fallback, expire);
    if (input.method !== 'GET') return fail('oidc_callback_malformed', `callback by ${input.method}`);
    if (state === undefined || state === '') return fail('oidc_state_missing', 'callback without state');
    switch (flow) {
      case undefined:
      case 'missing':
        return fail('oidc_flow_missing', 'no flow cookie for this state: not started in this browser, or expired');
      case 'invalid':
        return fail('oidc_flow_invalid', 'flow cookie tampered or sealed with keys no longer configured');
      case 'expired':
        return fail('oidc_flow_expired', 'the login took longer than the flow allows');
      default:
        break;
    }
    if (!sameText(flow.st, state)) return fail('oidc_state_mismatch', 'state does not match its flow cookie');
    // Used once: marked before the provider is asked, so a replay racing this request is refused too.
    const used = `${c.policyId}\0${hash('sha256', state, 'base64url')}`;
    if (c.services.usedStates.get(used, ctx.now) !== undefined) return fail('oidc_flow_replayed', 'this login was completed or refused already');
    // A dry run stops here: the state stays unused, the code is not exchanged, no session is created.
    if (ctx.dryRun === true) return redirect({ code: 'oidc_callback_dry_run', policy: c.policyId, method: c.name, detail: 'dry run: the code would be exchanged with the provider and a session created' }, flow.rd, expire);
    c.services.usedStates.set(used, true, flow.iat + FLOW_TTL_MS);
    const error = input.query('error');
    if (error !== undefined) {
      const description = input.query('error_description') ?? '';
      return fail('oidc_login_refused', `provider answered ${clip(error)}${description === '' ? '' : `: ${clip(description)}`}`);
    }
    if (input.query('code') === undefined) return fail('oidc_callback_malformed', 'callback without code or error');
    const config = c.provider.config;
    if (config === undefined) return fail('oidc_provider_unavailable', `callback: ${c.provider.problem() ?? 'provider not ready'}`);
    return this.#complete(input, ctx, config, flow, expire).catch((e: unknown) => {
      const err = e instanceof GatehouseError ? e : providerFailure(e, 'oidc_code_rejected', 'code exchange');
      return fail(err.code, err.message);
    });
  }

  async #complete(input: CheckInput, ctx: RequestContext, config: client.Configuration, flow: FlowState, expire: readonly HeaderPair[]): Promise<Deny> {
    const c = this.#c;
    const url = new URL(c.redirectUri);
    url.search = input.rawQuery;
    let res: client.TokenEndpointResponse;
    try {
      res = await client.authorizationCodeGrant(config, url, { pkceCodeVerifier: flow.pv, expectedState: flow.st, expectedNonce: flow.n, idTokenExpected: true });
    } catch (e) {
      const code = (e as { code?: unknown } | null)?.code;
      throw providerFailure(e, typeof code === 'string' && ID_TOKEN_FAILURES.has(code) ? 'oidc_id_token_invalid' : 'oidc_code_rejected', 'code exchange');
    }
    const accepted = await acceptTokens(c, config, res, ctx.now, { nonce: flow.n }, undefined);
    const cookies = await this.#session.create(input, accepted.identity, accepted.tokens, ctx.now);
    const answer = { code: 'oidc_login_complete', policy: c.policyId, method: c.name, detail: `signed in ${accepted.identity.consumerId}` };
    return redirect(answer, flow.rd, [...cookies, ...expire]);
  }
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Provider text in a log line: bounded, one line. */
function clip(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f]/g, ' ').slice(0, MAX_PROVIDER_TEXT);
}
