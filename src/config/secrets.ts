// Secrets known to gatehouse, indexed by name and by label so that selecting the keys of a policy
// costs the size of the answer, not the number of Secrets.
import { addTo, removeFrom } from './multimap.js';
import type { SecretResource } from './resources.js';

export interface Requirement {
  readonly key: string;
  readonly operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  readonly values: readonly string[];
}

export interface Selector {
  readonly matchLabels: Readonly<Record<string, string>>;
  readonly requirements: readonly Requirement[];
}

export function selectorMatches(sel: Selector, labels: Readonly<Record<string, string>>): boolean {
  for (const [k, v] of Object.entries(sel.matchLabels)) if (labels[k] !== v) return false;
  for (const r of sel.requirements) {
    const has = Object.hasOwn(labels, r.key);
    const value = labels[r.key];
    switch (r.operator) {
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
      case 'In':
        if (value === undefined || !r.values.includes(value)) return false;
        break;
      case 'NotIn':
        if (value !== undefined && r.values.includes(value)) return false;
        break;
      default: {
        const never: never = r.operator;
        throw new Error(`unknown operator ${String(never)}`);
      }
    }
  }
  return true;
}

export class SecretIndex {
  readonly #byKey = new Map<string, SecretResource>();
  /** `namespace\0label=value` -> Secret keys. */
  readonly #byLabel = new Map<string, Set<string>>();
  /** namespace -> Secret keys, for selectors without equality labels. */
  readonly #byNamespace = new Map<string, Set<string>>();

  get size(): number {
    return this.#byKey.size;
  }

  /** `namespace/name` of every Secret held (a copy: safe to mutate the index while iterating). */
  keys(): string[] {
    return [...this.#byKey.keys()];
  }

  get(namespace: string, name: string): SecretResource | undefined {
    return this.#byKey.get(`${namespace}/${name}`);
  }

  /** Stores a Secret, returning the previous version if any. */
  put(secret: SecretResource): SecretResource | undefined {
    const key = `${secret.namespace}/${secret.name}`;
    const previous = this.#byKey.get(key);
    if (previous !== undefined) this.#unindex(key, previous);
    this.#byKey.set(key, secret);
    for (const [k, v] of Object.entries(secret.labels)) addTo(this.#byLabel, labelKey(secret.namespace, k, v), key);
    addTo(this.#byNamespace, secret.namespace, key);
    return previous;
  }

  delete(namespace: string, name: string): SecretResource | undefined {
    const key = `${namespace}/${name}`;
    const previous = this.#byKey.get(key);
    if (previous === undefined) return undefined;
    this.#unindex(key, previous);
    this.#byKey.delete(key);
    return previous;
  }

  /** Secrets of a namespace matching a selector, sorted by name (deterministic precedence). */
  select(namespace: string, sel: Selector): SecretResource[] {
    let candidates: Set<string> | undefined;
    for (const [k, v] of Object.entries(sel.matchLabels)) {
      const set = this.#byLabel.get(labelKey(namespace, k, v));
      if (set === undefined) return [];
      if (candidates === undefined || set.size < candidates.size) candidates = set;
    }
    candidates ??= this.#byNamespace.get(namespace);
    if (candidates === undefined) return [];
    const out: SecretResource[] = [];
    for (const key of candidates) {
      const s = this.#byKey.get(key);
      if (s !== undefined && selectorMatches(sel, s.labels)) out.push(s);
    }
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  #unindex(key: string, secret: SecretResource): void {
    for (const [k, v] of Object.entries(secret.labels)) removeFrom(this.#byLabel, labelKey(secret.namespace, k, v), key);
    removeFrom(this.#byNamespace, secret.namespace, key);
  }
}

function labelKey(namespace: string, k: string, v: string): string {
  return `${namespace}\0${k}=${v}`;
}
