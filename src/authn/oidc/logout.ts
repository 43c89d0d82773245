// The logout path (GET, as kong-oidc's logout_path, or POST): the presented session ends through the
// policy's session block, the method that created it revokes its tokens when asked, and the browser
// goes to that provider's end-session endpoint (with id_token_hint), else to redirectAfterLogoutUri,
// else gets 200 JSON. Whichever oidc method's path matched, the session's own provider is the one used.
import type { Deny } from '../../core/decision.js';
import type { HeaderPair } from '../../core/identity.js';
import type { CheckInput } from '../../core/input.js';
import type { Endpoint, RequestContext } from '../../core/ports.js';
import type { PolicySession } from '../../session/handle.js';
import { endSessionUrl } from './companion.js';
import type { OidcConfig } from './config.js';
import { redirect } from './pages.js';

const METHODS: ReadonlySet<string> = new Set(['GET', 'POST']);

export class Logout implements Endpoint {
  readonly name: string;
  readonly #c: OidcConfig;
  readonly #path: string;
  readonly #session: PolicySession;

  constructor(config: OidcConfig, path: string, session: PolicySession) {
    this.name = `oidc-logout:${config.name}`;
    this.#c = config;
    this.#path = path;
    this.#session = session;
  }

  handle(input: CheckInput, ctx: RequestContext): Promise<Deny> | undefined {
    if (ctx.path !== this.#path || !METHODS.has(input.method)) return undefined;
    return this.#logout(input, ctx.now, ctx.dryRun === true);
  }

  /** `dryRun`: the answer as it would be; no session ended, no token revoked. */
  async #logout(input: CheckInput, now: number, dryRun: boolean): Promise<Deny> {
    const c = this.#c;
    const ended = await this.#session.end(input, now, dryRun);
    const record = ended.record;
    const companion = record === undefined ? undefined : this.#session.companion(record.method);
    const location = record !== undefined && companion !== undefined ? await companion.afterLogout(record, dryRun) : endSessionUrl(c, undefined);
    const cookies: HeaderPair[] = ended.expired.map((value) => ({ name: 'set-cookie', value }));
    const answer = { code: 'oidc_logout', policy: c.policyId, method: c.name, detail: ended.ended ? 'session logged out' : 'logout without a session' };
    if (location !== undefined) return redirect(answer, location, cookies);
    return {
      kind: 'deny',
      ...answer,
      status: 200,
      headers: [...cookies, { name: 'cache-control', value: 'no-store' }, { name: 'content-type', value: 'application/json' }],
      body: JSON.stringify({ message: 'Logged out' }),
    };
  }
}
