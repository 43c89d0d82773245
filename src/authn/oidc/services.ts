// Process-wide parts of the `oidc` method: one provider per issuer and client (shared by every policy
// and recompile naming it, so discovery and keys are fetched once), the login states already used on
// this replica, and the bearer token introspection cache with its single flight.
import { hash } from 'node:crypto';
import { BoundedCache } from '../../core/bounded-cache.js';
import type { Identity } from '../../core/identity.js';
import type { Logger } from '../../telemetry/log.js';
import type { JwksOptions } from '../jwt/jwks-cache.js';
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
  /** Introspection answers by provider and token hash (never the token). */
  readonly introspected = new BoundedCache<string, Introspected>(10_000);
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
  }
}
