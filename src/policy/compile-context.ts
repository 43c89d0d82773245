// What a method factory gets while compiling: where it stands in the policy (for field paths), the
// Secrets it may read (every read is recorded so a Secret change recompiles exactly its dependants),
// and the process-wide ports (clock and, as methods arrive, key caches and stores).
import type { JwtServices } from '../authn/jwt-services.js';
import type { SessionServices } from '../session/stores.js';
import type { ProblemList } from '../config/problems.js';
import type { SecretResource } from '../config/resources.js';
import { type SecretIndex, type Selector, selectorMatches } from '../config/secrets.js';

export interface CompileEnv {
  readonly clock: () => number;
  /** Session stores and counters; without it only `storage: cookie|memory` sessions compile. */
  readonly sessions?: SessionServices | undefined;
  /**
   * JWKS caches, revocation list and verified-token cache; a process-local default when absent. The
   * revocation list also holds cookie-session logouts (a per-session-services memory list when absent).
   */
  readonly jwt?: JwtServices | undefined;
}

export class Dependencies {
  readonly names = new Set<string>();
  readonly selectors: Selector[] = [];

  /** Whether a Secret (in one of its versions) is read by the policy these dependencies belong to. */
  concerns(namespace: string, policyNamespace: string, name: string, labels: Readonly<Record<string, string>>): boolean {
    if (namespace !== policyNamespace) return false;
    if (this.names.has(name)) return true;
    return this.selectors.some((s) => selectorMatches(s, labels));
  }
}

export class SecretLookup {
  readonly #index: SecretIndex;
  readonly #namespace: string;
  readonly deps = new Dependencies();

  constructor(index: SecretIndex, namespace: string) {
    this.#index = index;
    this.#namespace = namespace;
  }

  get(name: string): SecretResource | undefined {
    this.deps.names.add(name);
    return this.#index.get(this.#namespace, name);
  }

  select(selector: Selector): SecretResource[] {
    this.deps.selectors.push(selector);
    return this.#index.select(this.#namespace, selector);
  }
}

export interface MethodContext {
  readonly policyId: string;
  readonly namespace: string;
  /** The method's name in the policy. */
  readonly methodName: string;
  /** Field path of the method block, e.g. `spec.authentication.methods[0].apiKey`. */
  readonly path: string;
  readonly problems: ProblemList;
  readonly secrets: SecretLookup;
  readonly env: CompileEnv;
}
