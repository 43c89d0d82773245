// Secrets known to gatehouse, held in their compact form (held-secret.ts) and indexed by namespace,
// name and label so that selecting the keys of a policy costs the size of the answer, not the number
// of Secrets. The index holds the Secrets themselves in its sets: no `namespace/name` key string per
// Secret, one shared object per distinct label set, one string per namespace.
import { HeldSecret, labelsKey } from './held-secret.js';
import { Multimap } from './multimap.js';
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

interface Namespace {
  /** The one copy of the namespace's name that every Secret in it holds. */
  readonly name: string;
  readonly secrets: Map<string, HeldSecret>;
  /** `label=value` -> Secrets carrying it. */
  readonly byLabel: Multimap<string, HeldSecret>;
}

export class SecretIndex {
  readonly #namespaces = new Map<string, Namespace>();
  /** Label sets shared between Secrets, with how many Secrets hold each. */
  readonly #labelSets = new Map<string, { readonly labels: Readonly<Record<string, string>>; refs: number }>();
  #size = 0;

  get size(): number {
    return this.#size;
  }

  /** `namespace/name` of every Secret held (a copy: safe to mutate the index while iterating). */
  keys(): string[] {
    const out: string[] = [];
    for (const ns of this.#namespaces.values()) for (const name of ns.secrets.keys()) out.push(`${ns.name}/${name}`);
    return out;
  }

  get(namespace: string, name: string): HeldSecret | undefined {
    return this.#namespaces.get(namespace)?.secrets.get(name);
  }

  /** Whether the Secret held under this name is exactly what `secret` would be held as. */
  holds(secret: SecretResource): boolean {
    const held = this.get(secret.namespace, secret.name);
    return held !== undefined && held.same(new HeldSecret(secret, secret.namespace, secret.labels));
  }

  /** Stores a Secret, returning the previous version if any. */
  put(secret: SecretResource): HeldSecret | undefined {
    let ns = this.#namespaces.get(secret.namespace);
    if (ns === undefined) {
      ns = { name: secret.namespace, secrets: new Map(), byLabel: new Multimap() };
      this.#namespaces.set(ns.name, ns);
    }
    const previous = this.#remove(ns, secret.name);
    const held = new HeldSecret(secret, ns.name, this.#shareLabels(secret.labels));
    ns.secrets.set(held.name, held);
    this.#size++;
    for (const [k, v] of Object.entries(held.labels)) ns.byLabel.add(`${k}=${v}`, held);
    return previous;
  }

  delete(namespace: string, name: string): HeldSecret | undefined {
    const ns = this.#namespaces.get(namespace);
    if (ns === undefined) return undefined;
    const previous = this.#remove(ns, name);
    if (ns.secrets.size === 0) this.#namespaces.delete(namespace);
    return previous;
  }

  /** Secrets of a namespace matching a selector, sorted by name (deterministic precedence). */
  select(namespace: string, sel: Selector): HeldSecret[] {
    const ns = this.#namespaces.get(namespace);
    if (ns === undefined) return [];
    let candidates: Iterable<HeldSecret> | undefined;
    let smallest = Infinity;
    for (const [k, v] of Object.entries(sel.matchLabels)) {
      const count = ns.byLabel.count(`${k}=${v}`);
      if (count === 0) return [];
      if (count < smallest) {
        candidates = ns.byLabel.values(`${k}=${v}`);
        smallest = count;
      }
    }
    const out: HeldSecret[] = [];
    for (const s of candidates ?? ns.secrets.values()) if (selectorMatches(sel, s.labels)) out.push(s);
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  #remove(ns: Namespace, name: string): HeldSecret | undefined {
    const previous = ns.secrets.get(name);
    if (previous === undefined) return undefined;
    ns.secrets.delete(name);
    this.#size--;
    for (const [k, v] of Object.entries(previous.labels)) ns.byLabel.delete(`${k}=${v}`, previous);
    const key = labelsKey(previous.labels);
    const shared = this.#labelSets.get(key);
    if (shared !== undefined && --shared.refs === 0) this.#labelSets.delete(key);
    return previous;
  }

  #shareLabels(labels: Readonly<Record<string, string>>): Readonly<Record<string, string>> {
    const key = labelsKey(labels);
    const shared = this.#labelSets.get(key);
    if (shared !== undefined) {
      shared.refs++;
      return shared.labels;
    }
    // Not `{ ...labels }`: V8 gives every object built by spreading a hidden class of its own.
    const frozen = Object.freeze(Object.fromEntries(Object.entries(labels)));
    this.#labelSets.set(key, { labels: frozen, refs: 1 });
    return frozen;
  }
}
