// Creates the session once another method has let a request through: the record is written to the
// store (and acknowledged) before the Set-Cookie leaves, so the browser's next request finds it.
import { randomBytes } from 'node:crypto';
import type { AllowHook, RequestContext } from '../core/ports.js';
import type { HeaderPair, Identity } from '../core/identity.js';
import type { CheckInput } from '../core/input.js';
import { sessionCookies, type SessionConfig } from './authenticator.js';
import { heldParts } from './cookie.js';
import { SID_CLAIM } from './logouts.js';
import { createSessionRecord, sessionTtlMs, type SessionRecord, type SessionTokens } from './record.js';

export class SessionCreateHook implements AllowHook {
  readonly name = 'session';
  readonly #c: SessionConfig;
  readonly #createdBy: ReadonlySet<string>;

  constructor(config: SessionConfig, createdBy: ReadonlySet<string>) {
    this.#c = config;
    this.#createdBy = createdBy;
  }

  onAllow(input: CheckInput, identity: Identity, ctx: RequestContext): readonly HeaderPair[] | Promise<readonly HeaderPair[]> {
    const c = this.#c;
    // A dry run (explain, shadow evaluation) creates no session.
    if (ctx.dryRun === true || identity.anonymous || c.fromSession.has(identity) || !this.#createdBy.has(identity.method)) return [];
    return createSession(c, input, identity, ctx.now, undefined);
  }
}

/**
 * A new session for `identity` (with the provider tokens of an OpenID login): the Set-Cookie headers,
 * once a store has acknowledged the record.
 */
export function createSession(
  c: SessionConfig,
  input: CheckInput,
  identity: Identity,
  now: number,
  tokens: SessionTokens | undefined,
): readonly HeaderPair[] | Promise<readonly HeaderPair[]> {
  const created = createSessionRecord(c.policyId, identity, now, c.timeouts);
  const record = tokens === undefined ? created : { ...created, tokens };
  const held = heldParts(c.cookie, input.cookies);
  const backend = c.backend;
  switch (backend.kind) {
    case 'cookie': {
      const sealed: SessionRecord = { ...record, claims: { ...record.claims, [SID_CLAIM]: randomBytes(16).toString('base64url') } };
      return sessionCookies(c, backend.codec.seal(sealed), sealed, now, held);
    }
    case 'store': {
      const { id, cookieValue } = backend.signer.mint();
      return backend.store.put(id, record, sessionTtlMs(record, now)).then(() => sessionCookies(c, cookieValue, record, now, held));
    }
    default: {
      const never: never = backend;
      throw new Error(`unknown backend ${JSON.stringify(never)}`);
    }
  }
}
