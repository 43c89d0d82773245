// What a method compiler gets: where it stands in the policy (for field paths), where to report
// problems, and the Secrets it may read (every read is recorded, so a Secret change recompiles
// exactly the policies that read it). Process-wide services reach a method through the method table
// (policy/methods.ts), never through here.
import type { ProblemList } from './problems.js';
import type { HeldSecret } from './held-secret.js';
import { type SecretIndex, type Selector, selectorMatches } from './secrets.js';

// Most policies read Secrets by selector only, or by name only: what they do not use stays shared and
// empty, and a list grows by copy (a pushed-to array keeps room for 16 more, per policy).
const NO_NAMES: ReadonlySet<string> = new Set<string>();

export class Dependencies {
  #names: Set<string> | undefined;
  #selectors: readonly Selector[] = [];

  /** Secrets read by name. */
  get names(): ReadonlySet<string> {
    return this.#names ?? NO_NAMES;
  }

  get selectors(): readonly Selector[] {
    return this.#selectors;
  }

  addName(name: string): void {
    (this.#names ??= new Set()).add(name);
  }

  addSelector(selector: Selector): void {
    // Exactly sized: `[...a, x]` or push would leave room for 16 more, per compiled policy.
    this.#selectors = this.#selectors.concat([selector]);
  }

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

  get(name: string): HeldSecret | undefined {
    this.deps.addName(name);
    return this.#index.get(this.#namespace, name);
  }

  select(selector: Selector): HeldSecret[] {
    this.deps.addSelector(selector);
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
}
