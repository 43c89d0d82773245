// What a policy's session offers the methods that sign users in themselves (OpenID Connect): create a
// session at their callback, end the presented one at their logout, seal short-lived login state with
// the session keys (under a purpose of its own), and register the companion that refreshes tokens and
// names upstream headers for the sessions the method created.
import type { HeaderPair, Identity } from '../core/identity.js';
import type { CheckInput } from '../core/input.js';
import type { SessionConfig } from './authenticator.js';
import { Sealer, type SessionKeys } from './codec.js';
import type { SessionCompanion } from './companion.js';
import type { CookieSpec } from './cookie.js';
import { createSession } from './hook.js';
import { endPresented, type Ended } from './logout.js';
import type { SessionTokens } from './record.js';

export type SessionStorage = 'cookie' | 'redis' | 'memory';

export class PolicySession {
  readonly policyId: string;
  /** The session cookie: login cookies take its `Secure` and `Domain`. */
  readonly cookie: CookieSpec;
  readonly storage: SessionStorage;
  readonly #c: SessionConfig;
  readonly #keys: SessionKeys;

  constructor(config: SessionConfig, keys: SessionKeys, storage: SessionStorage) {
    this.policyId = config.policyId;
    this.cookie = config.cookie;
    this.storage = storage;
    this.#c = config;
    this.#keys = keys;
  }

  /** Seals login state (values of `parse`'s type) with this policy's keys, never readable as a session. */
  flowSealer<T extends object>(parse: (value: unknown) => T | undefined): Sealer<T> {
    return new Sealer(this.#keys, 'flow', parse);
  }

  /** Called while the policy compiles, once per method whose sessions carry tokens. */
  register(companion: SessionCompanion): void {
    if (this.#c.companions.has(companion.method)) throw new Error(`session companion ${companion.method} registered twice`);
    this.#c.companions.set(companion.method, companion);
  }

  companion(method: string): SessionCompanion | undefined {
    return this.#c.companions.get(method);
  }

  /** A new session: the Set-Cookie headers, after a store has acknowledged the record. */
  async create(input: CheckInput, identity: Identity, tokens: SessionTokens, now: number): Promise<readonly HeaderPair[]> {
    return createSession(this.#c, input, identity, now, tokens);
  }

  /** Ends the presented session (logout): its record, if any, and the Set-Cookie values expiring the cookie. A dry run ends nothing. */
  end(input: CheckInput, now: number, dryRun = false): Promise<Ended> {
    return endPresented(this.#c, input, now, dryRun);
  }
}
