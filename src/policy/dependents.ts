// Which policies read which Secrets, indexed so that a Secret event finds its dependants in time
// proportional to the answer, not to the number of policies.
import { Dependencies } from '../config/method-context.js';
import { Multimap } from '../config/multimap.js';

export class Dependents {
  /** `ns/name` -> policy ids that read that Secret by name. */
  readonly #byName = new Multimap<string, string>();
  /** `ns\0key=value` -> policy ids with a selector requiring that label. */
  readonly #byLabel = new Multimap<string, string>();
  /** ns -> policy ids with a selector that has no equality label (set-based only). */
  readonly #byNamespace = new Multimap<string, string>();
  readonly #registered = new Map<string, { namespace: string; deps: readonly Dependencies[] }>();

  set(id: string, namespace: string, deps: readonly Dependencies[]): void {
    this.delete(id);
    this.#registered.set(id, { namespace, deps });
    for (const d of deps) {
      for (const name of d.names) this.#byName.add(`${namespace}/${name}`, id);
      for (const s of d.selectors) {
        const pairs = Object.entries(s.matchLabels);
        if (pairs.length === 0) this.#byNamespace.add(namespace, id);
        // Every selector requires all its labels, so indexing one pair finds every match.
        else {
          const [k, v] = pairs[0] ?? ['', ''];
          this.#byLabel.add(labelKey(namespace, k, v), id);
        }
      }
    }
  }

  delete(id: string): void {
    const old = this.#registered.get(id);
    if (old === undefined) return;
    this.#registered.delete(id);
    for (const d of old.deps) {
      for (const name of d.names) this.#byName.delete(`${old.namespace}/${name}`, id);
      for (const s of d.selectors) {
        const pairs = Object.entries(s.matchLabels);
        if (pairs.length === 0) this.#byNamespace.delete(old.namespace, id);
        else {
          const [k, v] = pairs[0] ?? ['', ''];
          this.#byLabel.delete(labelKey(old.namespace, k, v), id);
        }
      }
    }
  }

  /** Policy ids whose dependencies concern a Secret with this namespace, name and labels. */
  find(namespace: string, name: string, labels: Readonly<Record<string, string>>): Set<string> {
    const candidates = new Set<string>();
    for (const id of this.#byName.values(`${namespace}/${name}`)) candidates.add(id);
    for (const [k, v] of Object.entries(labels)) for (const id of this.#byLabel.values(labelKey(namespace, k, v))) candidates.add(id);
    for (const id of this.#byNamespace.values(namespace)) candidates.add(id);
    const out = new Set<string>();
    for (const id of candidates) {
      const r = this.#registered.get(id);
      if (r !== undefined && r.deps.some((d) => d.concerns(namespace, r.namespace, name, labels))) out.add(id);
    }
    return out;
  }
}

/** `ns\0key=value`, flat: a template would hold a chain of rope strings per policy as the Map key. */
function labelKey(namespace: string, key: string, value: string): string {
  return [namespace, '\0', key, '=', value].join('');
}
