// Accepts a session cookie in place of the method that created the session. No cookie, or one that
// is invalid, expired or logged out, is `none` (the other methods still get their turn); the reason
// is counted. A store (or, for cookie storage, a logout list) that cannot answer throws
// `session_store_unavailable` (503 unless fail-open). An accepted session cookie is removed from the
// Cookie header the upstream receives. A session created by a method that keeps provider tokens
// (OpenID Connect) is handed to that method's companion: it names the upstream headers, and refreshes
// the tokens before they expire (refresh.ts); a session whose refresh fails ends.
import { TailKeyedCache } from '../core/tail-keyed-cache.js';
import { NONE, type AuthnResult, type Authenticator, type RequestContext } from '../core/ports.js';
import { NO_CLAIMS, NO_HEADERS, type HeaderPair, type Identity } from '../core/identity.js';
import type { CheckInput } from '../core/input.js';
import type { IdResult, SessionCodec, SessionIdSigner } from './codec.js';
import type { SessionCompanion } from './companion.js';
import { buildSetCookies, heldParts, readCookie, type CookieLifetime, type CookieSpec } from './cookie.js';
import { isLoggedOut, logOut, SID_CLAIM, sessionIdOf, type CookieLogouts } from './logouts.js';
import { renewSessionRecord, sessionState, sessionTtlMs, type SessionRecord, type SessionTimeouts } from './record.js';
import { revisionOf, type SessionStore } from './store.js';
import { hideSessionCookie } from './upstream-cookie.js';
import type { SessionRejectReason, SessionServices } from './services.js';

/** Where a policy's sessions live, with what seals or signs their cookies. */
export type SessionBackend =
  | { readonly kind: 'cookie'; readonly codec: SessionCodec; readonly logouts: CookieLogouts }
  | { readonly kind: 'store'; readonly store: SessionStore; readonly signer: SessionIdSigner };

type CookieBackend = Extract<SessionBackend, { readonly kind: 'cookie' }>;

/** Everything compiled from a policy's `session` block, shared by the authenticator, hook and logout. */
export interface SessionConfig {
  readonly policyId: string;
  readonly backend: SessionBackend;
  readonly cookie: CookieSpec;
  readonly persistent: boolean;
  readonly timeouts: SessionTimeouts;
  readonly services: SessionServices;
  /** Identities this policy's session authenticator produced: the create hook leaves them alone. */
  readonly fromSession: WeakSet<Identity>;
  /** By method name: the methods whose sessions carry provider tokens. Filled while the policy compiles. */
  readonly companions: Map<string, SessionCompanion>;
}

const SESSION_METHOD = 'session';

// Defined beside the logout list that keys on it; re-exported for tools that seal sessions (bench).
export { SID_CLAIM } from './logouts.js';

const OPENED_CACHE_SIZE = 10_000;

export class SessionAuthenticator implements Authenticator {
  readonly name = SESSION_METHOD;
  readonly type = 'session';
  readonly challenge = undefined;
  readonly headerNames: readonly string[] = [];
  readonly #c: SessionConfig;
  /**
   * Sealed value -> opened record, so a repeated cookie costs a Map probe instead of a decryption
   * (keyed by the value's tail, its authentication tag: see TailKeyedCache).
   * Sound because opening is deterministic for this policy's keys (a recompile makes a new instance);
   * revocation and timeouts are still checked on every request.
   */
  readonly #opened = new TailKeyedCache<SessionRecord>(OPENED_CACHE_SIZE);
  /** Signed id cookie value -> its verified id, for the same reason; only values that verified are kept. */
  readonly #verified = new TailKeyedCache<IdResult>(OPENED_CACHE_SIZE);
  /** Weak: an identity lives as long as the record it was built from (held by the opened-cookie cache). */
  readonly #identities = new WeakMap<SessionRecord, Identity>();

  constructor(config: SessionConfig) {
    this.#c = config;
  }

  /** A stale session cookie is no credential: browsers keep them after expiry and logout. */
  presented(): undefined {
    return undefined;
  }

  authenticate(input: CheckInput, ctx: RequestContext): AuthnResult | Promise<AuthnResult> {
    const c = this.#c;
    const cookies = input.cookies;
    const read = readCookie(c.cookie, cookies);
    const dry = ctx.dryRun === true;
    switch (read.kind) {
      case 'absent':
        return NONE;
      case 'malformed':
        return this.#reject('malformed', dry);
      case 'value':
        break;
      default: {
        const never: never = read;
        throw new Error(`unknown cookie read ${JSON.stringify(never)}`);
      }
    }
    const backend = c.backend;
    switch (backend.kind) {
      case 'cookie': {
        const record = this.#open(backend.codec, read.value);
        if (typeof record === 'string') return this.#reject(record, dry);
        const state = sessionState(record, ctx.now, c.timeouts);
        if (state.state === 'expired') return this.#reject(state.reason === 'idle' ? 'expired_idle' : 'expired_absolute', dry);
        if (state.state === 'not_yet_valid') return this.#reject('not_yet_valid', dry);
        // Asked only for a live session: an expired cookie costs no lookup.
        const loggedOut = isLoggedOut(backend.logouts, record);
        if (typeof loggedOut === 'boolean') return this.#fromCookie(input, backend, record, state.renew, loggedOut, ctx);
        return loggedOut.then((out) => this.#fromCookie(input, backend, record, state.renew, out, ctx));
      }
      case 'store': {
        const verified = this.#verify(backend.signer, read.value);
        if (!verified.ok) return this.#reject(verified.reason, dry);
        const held = backend.store.peek?.(verified.id);
        const quick = held === undefined ? undefined : this.#fromHeld(input, held, ctx.now, dry);
        return quick ?? this.#fromStore(input, backend.store, backend.signer, verified.id, ctx.now, dry);
      }
      default: {
        const never: never = backend;
        throw new Error(`unknown backend ${JSON.stringify(never)}`);
      }
    }
  }

  /** The sealed record, or why it cannot be opened. */
  #open(codec: SessionCodec, value: string): SessionRecord | SessionRejectReason {
    const cached = this.#opened.get(value);
    if (cached !== undefined) return cached;
    const opened = codec.open(value);
    if (!opened.ok) return opened.reason;
    this.#opened.set(value, opened.record);
    return opened.record;
  }

  #verify(signer: SessionIdSigner, value: string): IdResult {
    const known = this.#verified.get(value);
    if (known !== undefined) return known;
    const verified = signer.verify(value);
    if (verified.ok) this.#verified.set(value, verified);
    return verified;
  }

  #fromCookie(input: CheckInput, backend: CookieBackend, record: SessionRecord, renew: boolean, loggedOut: boolean, ctx: RequestContext): AuthnResult | Promise<AuthnResult> {
    const dry = ctx.dryRun === true;
    if (loggedOut) return this.#reject('logged_out', dry);
    const c = this.#c;
    const now = ctx.now;
    const companion = this.#companionOf(record);
    // A dry run asks no provider for tokens: the session is shown as it is.
    if (!dry && companion !== undefined && companion.freshness(record, now) !== 'fresh') return this.#refreshSealed(input, backend, record, companion, now);
    if (!renew || dry) return this.#success(input, record, [], companion);
    const renewed = renewSessionRecord(record, now, c.timeouts);
    return this.#success(input, renewed, sessionCookies(c, backend.codec.seal(renewed), renewed, now, heldParts(c.cookie, input.cookies)), companion);
  }

  /** New tokens sealed into a new cookie; a session whose refresh fails is logged out, so its cookie cannot try again. */
  async #refreshSealed(input: CheckInput, backend: CookieBackend, record: SessionRecord, companion: SessionCompanion, now: number): Promise<AuthnResult> {
    const c = this.#c;
    const next = await c.services.refresher.sealed(`${c.policyId}\0${sessionIdOf(record)}`, record, companion, now);
    if (next === undefined) {
      // Best effort: unrecorded, the next request with this cookie only fails to refresh again.
      await logOut(backend.logouts, record, c.timeouts, now).catch(() => undefined);
      return this.#reject('refresh_failed', false);
    }
    const renewed = renewSessionRecord(next, now, c.timeouts);
    return this.#success(input, renewed, sessionCookies(c, backend.codec.seal(renewed), renewed, now, heldParts(c.cookie, input.cookies)), companion);
  }

  /**
   * The answer from a record the store holds in memory, when it needs no write (no renewal, refresh or
   * deletion of an expired record): a cached Redis session stays synchronous, like a cookie session.
   * Undefined sends the request down the full path.
   */
  #fromHeld(input: CheckInput, record: SessionRecord, now: number, dry: boolean): AuthnResult | undefined {
    if (record.aud !== this.#c.policyId) return undefined;
    const state = sessionState(record, now, this.#c.timeouts);
    if (state.state !== 'valid' || (state.renew && !dry)) return undefined;
    const companion = this.#companionOf(record);
    if (!dry && companion !== undefined && companion.freshness(record, now) !== 'fresh') return undefined;
    return this.#success(input, record, [], companion);
  }

  /** `dry`: a dry run reads the store and writes nothing (no renewal, no refresh, no expired record deleted). */
  async #fromStore(input: CheckInput, store: SessionStore, signer: SessionIdSigner, id: string, now: number, dry: boolean): Promise<AuthnResult> {
    const c = this.#c;
    let record = await store.get(id);
    if (record === undefined) return this.#reject('not_found', dry);
    // The id is signed for this policy already; a record of another one means a corrupted store.
    if (record.aud !== c.policyId) return this.#reject('wrong_audience', dry);
    let state = sessionState(record, now, c.timeouts);
    if (state.state === 'expired') {
      if (!dry) await store.delete(id);
      return this.#reject(state.reason === 'idle' ? 'expired_idle' : 'expired_absolute', dry);
    }
    if (state.state === 'not_yet_valid') return this.#reject('not_yet_valid', dry);
    const companion = this.#companionOf(record);
    if (!dry && companion !== undefined && companion.freshness(record, now) !== 'fresh') {
      const next = await c.services.refresher.stored(`${c.policyId}\0${id}`, store, id, record, companion, now);
      if (next === undefined) return this.#reject('refresh_failed', false);
      record = next;
      state = sessionState(record, now, c.timeouts);
      if (state.state !== 'valid') return this.#reject('refresh_failed', false);
    }
    if (!state.renew || dry) return this.#success(input, record, [], companion);
    // Compare-and-set: a renewal never overwrites tokens another replica refreshed, nor revives a logged-out session.
    const rev = revisionOf(record);
    const renewed: SessionRecord = { ...renewSessionRecord(record, now, c.timeouts), rev: rev + 1 };
    // Written before answering, so the next request (maybe on another replica) sees the new expiry.
    if (!(await store.replace(id, rev, renewed, sessionTtlMs(renewed, now)))) return this.#success(input, record, [], companion);
    return this.#success(input, renewed, sessionCookies(c, signer.sign(id), renewed, now, heldParts(c.cookie, input.cookies)), companion);
  }

  /** The companion of the method that created a session with tokens, if that method is still in the policy. */
  #companionOf(record: SessionRecord): SessionCompanion | undefined {
    return record.tokens === undefined ? undefined : this.#c.companions.get(record.method);
  }

  #success(input: CheckInput, record: SessionRecord, responseHeaders: readonly HeaderPair[], companion: SessionCompanion | undefined): AuthnResult {
    return { kind: 'success', identity: this.#identityOf(record, companion), responseHeaders, ...hideSessionCookie(input, this.#c.cookie) };
  }

  /**
   * One frozen identity per opened record: a cookie session's record comes from the opened-cookie
   * cache, so its identity (and the upstream headers built for it on first allow) are reused instead of
   * rebuilt, with a weak-set insertion, on every Check. A renewed or refreshed record is a new object.
   */
  #identityOf(record: SessionRecord, companion: SessionCompanion | undefined): Identity {
    const known = this.#identities.get(record);
    if (known !== undefined) return known;
    const identity: Identity = Object.freeze({
      method: record.method,
      consumerId: record.sub,
      username: record.username,
      customId: record.customId,
      credential: record.credential,
      groups: record.groups,
      anonymous: false,
      claims: publicClaims(record),
      headers: companion === undefined ? NO_HEADERS : companion.headers(record),
    });
    this.#c.fromSession.add(identity);
    this.#identities.set(record, identity);
    return identity;
  }

  /** Counted, except in a dry run (an explain counts nothing as real traffic). */
  #reject(reason: SessionRejectReason, dryRun: boolean): AuthnResult {
    if (!dryRun) this.#c.services.onReject(reason, this.#c.policyId);
    return NONE;
  }
}

function publicClaims(record: SessionRecord): Readonly<Record<string, unknown>> {
  const claims = record.claims;
  if (claims === undefined) return NO_CLAIMS;
  if (!Object.hasOwn(claims, SID_CLAIM)) return claims;
  const { [SID_CLAIM]: _sid, ...rest } = claims;
  return Object.keys(rest).length === 0 ? NO_CLAIMS : rest;
}

/** Set-Cookie headers carrying a session cookie value for `record`. */
export function sessionCookies(c: SessionConfig, value: string, record: SessionRecord, now: number, held: number): HeaderPair[] {
  const lifetime: CookieLifetime = c.persistent ? { kind: 'persistent', expiresAt: record.idleExp } : { kind: 'session' };
  return buildSetCookies(c.cookie, value, lifetime, now, held).map((v) => ({ name: 'set-cookie', value: v }));
}
