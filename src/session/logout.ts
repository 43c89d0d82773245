// Ends sessions on request: by path, by query argument or by a form body argument. Plain logout
// deletes the presented session (store) or enters it in the logout list (cookie storage); "log out
// everywhere" deletes every session of its consumer. Either way every cookie part is expired. The
// answer leaves only once the end is recorded: a store or list that cannot record it is a 503.
import type { Endpoint, RequestContext } from '../core/ports.js';
import type { Deny } from '../core/decision.js';
import { GatehouseError } from '../core/errors.js';
import type { HeaderPair } from '../core/identity.js';
import type { CheckInput } from '../core/input.js';
import type { SessionConfig } from './authenticator.js';
import type { SessionIdSigner } from './codec.js';
import { buildExpiredCookies, heldParts, readCookie } from './cookie.js';
import { logOut } from './logouts.js';
import { sessionState, type SessionRecord } from './record.js';
import type { SessionStore } from './store.js';

/** The request features that ask for a logout; any one that is set and present matches. */
export interface LogoutTriggers {
  readonly path: string | undefined;
  readonly queryArg: string | undefined;
  readonly postArg: string | undefined;
}

export interface LogoutOptions {
  /** Ends the presented session; undefined when only `everywhere` is configured. */
  readonly session: LogoutTriggers | undefined;
  /** Ends every session of the presented session's consumer; store-backed sessions only. */
  readonly everywhere: LogoutTriggers | undefined;
  readonly methods: ReadonlySet<string>;
  readonly redirectTo: string | undefined;
}

/** What one logout request ends. */
type Scope = 'session' | 'consumer';

export class SessionLogout implements Endpoint {
  readonly name = 'session-logout';
  readonly #c: SessionConfig;
  readonly #o: LogoutOptions;

  constructor(config: SessionConfig, options: LogoutOptions) {
    this.#c = config;
    this.#o = options;
  }

  handle(input: CheckInput, ctx: RequestContext): Deny | Promise<Deny> | undefined {
    if (!this.#o.methods.has(input.method)) return undefined;
    // Everywhere first: it is the stronger request when both happen to match.
    const scope: Scope | undefined = matches(input, ctx.path, this.#o.everywhere) ? 'consumer' : matches(input, ctx.path, this.#o.session) ? 'session' : undefined;
    if (scope === undefined) return undefined;
    const dry = ctx.dryRun === true;
    if (scope === 'session') return endPresented(this.#c, input, ctx.now, dry).then((e) => this.#answer(scope, e.expired, e.ended ? 1 : 0));
    const c = this.#c;
    const read = readCookie(c.cookie, input.cookies);
    const expired = expiredCookies(c, input);
    if (read.kind !== 'value') return this.#answer(scope, expired, 0);
    const backend = c.backend;
    // compileSession refuses `everywhere` with cookie storage: sealed cookies leave no list of a consumer's sessions.
    if (backend.kind === 'cookie') throw new GatehouseError('session_config_invalid', 'log out everywhere needs store-backed sessions');
    return this.#everywhere(backend.store, backend.signer, read.value, expired, ctx.now, dry);
  }

  /** `dry`: the answer as it would be, nothing deleted (and so no session counted as ended). */
  async #everywhere(store: SessionStore, signer: SessionIdSigner, value: string, expired: readonly string[], now: number, dry: boolean): Promise<Deny> {
    const verified = signer.verify(value);
    if (!verified.ok) return this.#answer('consumer', expired, 0);
    const record = await store.get(verified.id);
    // Only a live session speaks for its consumer: an old, expired cookie cannot end the others.
    if (record === undefined || record.aud !== this.#c.policyId || sessionState(record, now, this.#c.timeouts).state !== 'valid') {
      if (!dry) await store.delete(verified.id);
      return this.#answer('consumer', expired, 0);
    }
    return this.#answer('consumer', expired, dry ? 0 : await store.deleteAllFor(record.aud, record.sub));
  }

  #answer(scope: Scope, expired: readonly string[], ended: number): Deny {
    const headers: HeaderPair[] = expired.map((value) => ({ name: 'set-cookie', value }));
    headers.push({ name: 'cache-control', value: 'no-store' });
    const redirect = this.#o.redirectTo;
    if (redirect !== undefined) headers.push({ name: 'location', value: redirect });
    else headers.push({ name: 'content-type', value: 'application/json' });
    const everywhere = scope === 'consumer';
    const body = everywhere ? JSON.stringify({ message: 'Logged out everywhere', sessions: ended }) : PLAIN_BODY;
    return {
      kind: 'deny',
      code: everywhere ? 'session_logout_everywhere' : 'session_logout',
      policy: this.#c.policyId,
      method: 'session',
      status: redirect === undefined ? 200 : 302,
      headers,
      body: redirect === undefined ? body : '',
      detail: everywhere ? `session logged out everywhere (${ended} sessions ended)` : 'session logged out',
    };
  }
}

const PLAIN_BODY = JSON.stringify({ message: 'Logged out' });

/** What ending the presented session did. */
export interface Ended {
  /** A session was named by a valid cookie, and is now ended. */
  readonly ended: boolean;
  /** Its record, when there was one (an OpenID login's tokens, to revoke). */
  readonly record: SessionRecord | undefined;
  /** Set-Cookie values expiring every part of the cookie. */
  readonly expired: readonly string[];
}

/**
 * Ends the session the request's cookie names: deleted from the store (read first, for its tokens),
 * or entered in the logout list (cookie storage). Resolves once the end is recorded. A dry run reads
 * the session and records nothing.
 */
export async function endPresented(c: SessionConfig, input: CheckInput, now: number, dryRun = false): Promise<Ended> {
  const read = readCookie(c.cookie, input.cookies);
  const expired = expiredCookies(c, input);
  if (read.kind !== 'value') return { ended: false, record: undefined, expired };
  const backend = c.backend;
  switch (backend.kind) {
    case 'cookie': {
      const opened = backend.codec.open(read.value);
      if (!opened.ok) return { ended: false, record: undefined, expired };
      if (!dryRun) await logOut(backend.logouts, opened.record, c.timeouts, now);
      return { ended: true, record: opened.record, expired };
    }
    case 'store': {
      const verified = backend.signer.verify(read.value);
      if (!verified.ok) return { ended: false, record: undefined, expired };
      const record = await backend.store.get(verified.id);
      // Deleted before answering: a replay of the cookie right after logout finds nothing.
      if (!dryRun) await backend.store.delete(verified.id);
      return { ended: true, record: record?.aud === c.policyId ? record : undefined, expired };
    }
    default: {
      const never: never = backend;
      throw new Error(`unknown backend ${JSON.stringify(never)}`);
    }
  }
}

function expiredCookies(c: SessionConfig, input: CheckInput): string[] {
  return buildExpiredCookies(c.cookie, Math.max(1, heldParts(c.cookie, input.cookies)));
}

/** `path` is the request path as the policy compares paths (normalized, its pathMatching applied). */
function matches(input: CheckInput, path: string, t: LogoutTriggers | undefined): boolean {
  if (t === undefined) return false;
  if (t.path !== undefined && path === t.path) return true;
  if (t.queryArg !== undefined && input.query(t.queryArg) !== undefined) return true;
  if (t.postArg !== undefined && input.body !== undefined && isForm(input.header('content-type'))) {
    return new URLSearchParams(input.body).has(t.postArg);
  }
  return false;
}

function isForm(contentType: string | undefined): boolean {
  return contentType !== undefined && contentType.toLowerCase().split(';')[0]?.trim() === 'application/x-www-form-urlencoded';
}
