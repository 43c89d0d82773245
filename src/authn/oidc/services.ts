// Process-wide parts of the `oidc` method: one provider per issuer and client (shared by every policy
// and recompile naming it, so discovery and keys are fetched once), the login states already used on
// this replica, and the bearer token introspection caches with their single flight and, per provider,
// the gate that bounds the introspections under way.
import { hash } from 'node:crypto';
import { BoundedCache } from '../../core/bounded-cache.js';
import type { Identity } from '../../core/identity.js';
import type { Logger } from '../../telemetry/log.js';
import type { JwksOptions } from '../jwt/jwks-cache.js';
import { CallGate } from './call-gate.js';
import { OidcProvider, type ProviderSettings } from './provider.js';

/** What introspecting a token concluded. */
export type Introspected = { readonly active: true; readonly identity: Identity } | { readonly active: false; readonly detail: string };

export interface OidcServicesOptions {
  /** Key-fetch settings (timeouts, size limits, offline while validating); providers fetch JWKS with them. */
  readonly jwks: JwksOptions;
  readonly logger: Logger;
}

export class OidcServices {
  readonly options: OidcServicesOptions;
  /** Login states already answered here, until their flow would have expired: a replayed callback is refused. */
  readonly usedStates = new BoundedCache<string, true>(100_000);
  /** Active introspection answers by method and token hash (never the token). */
  readonly introspected = new BoundedCache<string, Introspected>(10_000);
  /** Inactive answers, apart: a flood of junk tokens evicts only other junk, never an active token's answer. */
  readonly inactive = new BoundedCache<string, Introspected>(1_000);
  /** Per provider, one gate per `maxInFlight` asked of it (policies that agree share one). */
  readonly #gates = new WeakMap<OidcProvider, Map<number, CallGate>>();
  readonly #pendingIntrospections = new Map<string, Promise<Introspected>>();
  readonly #providers = new Map<string, OidcProvider>();

  constructor(options: OidcServicesOptions) {
    this.options = options;
  }

  /**
   * The provider for these settings, created and started on first use. `fingerprint` (the client
   * secret or key and the trusted CA) is folded into the key, hashed: a rotated secret gets a provider of its own.
   */
  provider(settings: ProviderSettings, fingerprint: string): OidcProvider {
    const key = JSON.stringify([settings.issuer, settings.clientId, settings.auth.kind, hash('sha256', fingerprint), settings.overrides, settings.insecure, settings.timeoutMs]);
    let p = this.#providers.get(key);
    if (p === undefined) {
      p = new OidcProvider(settings, this.options.jwks, this.options.logger);
      this.#providers.set(key, p);
    }
    p.start();
    return p;
  }

  /** The gate bounding `provider`'s introspections under way to `maxInFlight`. */
  gate(provider: OidcProvider, maxInFlight: number): CallGate {
    let byLimit = this.#gates.get(provider);
    if (byLimit === undefined) {
      byLimit = new Map();
      this.#gates.set(provider, byLimit);
    }
    let gate = byLimit.get(maxInFlight);
    if (gate === undefined) {
      gate = new CallGate(maxInFlight, `introspection at ${provider.settings.issuer}`);
      byLimit.set(maxInFlight, gate);
    }
    return gate;
  }

  /** One introspection per token at a time; later callers share the answer under way. */
  introspectOnce(key: string, run: () => Promise<Introspected>): Promise<Introspected> {
    const pending = this.#pendingIntrospections.get(key);
    if (pending !== undefined) return pending;
    const p = run().finally(() => this.#pendingIntrospections.delete(key));
    this.#pendingIntrospections.set(key, p);
    return p;
  }

  close(): void {
    for (const p of this.#providers.values()) p.close();
    this.#providers.clear();
    this.usedStates.clear();
    this.introspected.clear();
    this.inactive.clear();
  }
}
