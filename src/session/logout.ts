// Ends a session on request: by path, by query argument or by a form body argument. The record is
// deleted (store) or the session marked logged out (cookie storage), and every cookie part expired.
import type { Endpoint, RequestContext } from '../authn/authenticator.js';
import type { Deny } from '../core/decision.js';
import type { HeaderPair } from '../core/identity.js';
import type { CheckInput } from '../core/input.js';
import { sessionIdOf, type SessionConfig } from './authenticator.js';
import { buildExpiredCookies, heldParts, readCookie } from './cookie.js';

export interface LogoutOptions {
  readonly path: string | undefined;
  readonly queryArg: string | undefined;
  readonly postArg: string | undefined;
  readonly methods: ReadonlySet<string>;
  readonly redirectTo: string | undefined;
}

const BODY = JSON.stringify({ message: 'Logged out' });

export class SessionLogout implements Endpoint {
  readonly name = 'session-logout';
  readonly #c: SessionConfig;
  readonly #o: LogoutOptions;

  constructor(config: SessionConfig, options: LogoutOptions) {
    this.#c = config;
    this.#o = options;
  }

  handle(input: CheckInput, ctx: RequestContext): Deny | Promise<Deny> | undefined {
    if (!this.#o.methods.has(input.method) || !this.#matches(input)) return undefined;
    const c = this.#c;
    const read = readCookie(c.cookie, input.cookies);
    const expired = buildExpiredCookies(c.cookie, Math.max(1, heldParts(c.cookie, input.cookies)));
    if (read.kind !== 'value') return this.#answer(expired);
    const backend = c.backend;
    switch (backend.kind) {
      case 'cookie': {
        const opened = backend.codec.open(read.value);
        if (opened.ok) c.services.revoke(c.policyId, sessionIdOf(opened.record), opened.record.exp, ctx.now);
        return this.#answer(expired);
      }
      case 'store': {
        const verified = backend.signer.verify(read.value);
        if (!verified.ok) return this.#answer(expired);
        // Deleted before answering: a replay of the cookie right after logout finds nothing.
        return backend.store.delete(verified.id).then(() => this.#answer(expired));
      }
      default: {
        const never: never = backend;
        throw new Error(`unknown backend ${JSON.stringify(never)}`);
      }
    }
  }

  #matches(input: CheckInput): boolean {
    const o = this.#o;
    if (o.path !== undefined && input.path === o.path) return true;
    if (o.queryArg !== undefined && input.query(o.queryArg) !== undefined) return true;
    if (o.postArg !== undefined && input.body !== undefined && isForm(input.header('content-type'))) {
      return new URLSearchParams(input.body).has(o.postArg);
    }
    return false;
  }

  #answer(expired: readonly string[]): Deny {
    const headers: HeaderPair[] = expired.map((value) => ({ name: 'set-cookie', value }));
    headers.push({ name: 'cache-control', value: 'no-store' });
    const redirect = this.#o.redirectTo;
    if (redirect !== undefined) headers.push({ name: 'location', value: redirect });
    else headers.push({ name: 'content-type', value: 'application/json' });
    return {
      kind: 'deny',
      code: 'session_logout',
      policy: this.#c.policyId,
      method: 'session',
      status: redirect === undefined ? 200 : 302,
      headers,
      body: redirect === undefined ? BODY : '',
      detail: 'session logged out',
    };
  }
}

function isForm(contentType: string | undefined): boolean {
  return contentType !== undefined && contentType.toLowerCase().split(';')[0]?.trim() === 'application/x-www-form-urlencoded';
}
