// What a method compiler gets: where it stands in the policy (for field paths), where to report
// problems, and the Secrets it may read (every read is recorded, so a Secret change recompiles
// exactly the policies that read it). Process-wide services reach a method through the method table
// (policy/methods.ts), never through here.
import type { ProblemList } from './problems.js';
import type { SecretResource } from './resources.js';
import { type SecretIndex, type Selector, selectorMatches } from './secrets.js';

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
}
