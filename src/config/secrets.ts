// Secrets known to gatehouse, held in their compact form (held-secret.ts) and indexed by namespace,
// name and label so that selecting the keys of a policy costs the size of the answer, not the number
// of Secrets. The index holds the Secrets themselves in its sets: no `namespace/name` key string per
// Secret, one shared placement (namespace, labels, origin) per distinct triple, one string per namespace.
import { HeldSecret, labelsKey, type Placement } from './held-secret.js';
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
  /** Label sets shared between Secrets, each with the placements that hold it. */
  readonly #labelSets = new Map<string, LabelSet>();
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
    return held !== undefined && held.same(new HeldSecret(secret));
  }

  /** Stores a Secret, returning the previous version if any. */
  put(secret: SecretResource): HeldSecret | undefined {
    let ns = this.#namespaces.get(secret.namespace);
    if (ns === undefined) {
      ns = { name: secret.namespace, secrets: new Map(), byLabel: new Multimap() };
      this.#namespaces.set(ns.name, ns);
    }
    const previous = this.#remove(ns, secret.name);
    const held = new HeldSecret(secret, this.#share(ns.name, secret.origin, secret.labels));
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
    const set = this.#labelSets.get(key);
    const place = set === undefined ? undefined : findPlace(set, previous.namespace, previous.origin);
    if (set !== undefined && place !== undefined && --place.refs === 0 && dropPlace(set, place)) this.#labelSets.delete(key);
    return previous;
  }

  #share(namespace: string, origin: string, labels: Readonly<Record<string, string>>): Placement {
    const key = labelsKey(labels);
    const set = this.#labelSets.get(key);
    const found = set === undefined ? undefined : findPlace(set, namespace, origin);
    if (found !== undefined) {
      found.refs++;
      return found;
    }
    // Not `{ ...labels }`: V8 gives every object built by spreading a hidden class of its own.
    const shared = set?.labels ?? Object.freeze(Object.fromEntries(Object.entries(labels)));
    const place: Place = { namespace, labels: shared, origin, refs: 1 };
    if (set === undefined) this.#labelSets.set(key, { labels: shared, places: place });
    else addPlace(set, place);
    return place;
  }
}

/** A placement and how many held Secrets share it (the count stays the index's: Secrets read only the three fields). */
interface Place extends Placement {
  refs: number;
}

/**
 * A label set shared between Secrets (one frozen object, one key string), with the placements holding
 * it: most often one, else a short list (each exactly as long as it must be), or lists by namespace
 * once it is long (one label set in thousands of namespaces).
 */
interface LabelSet {
  readonly labels: Readonly<Record<string, string>>;
  places: Place | readonly Place[] | Map<string, readonly Place[]>;
}

const PLACES_IN_A_LIST = 8;

/** The placements of a label set that may be in `namespace`. */
function candidates(set: LabelSet, namespace: string): readonly Place[] {
  const places = set.places;
  if (places instanceof Map) return places.get(namespace) ?? [];
  return isList(places) ? places : [places];
}

function isList(places: Place | readonly Place[]): places is readonly Place[] {
  return Array.isArray(places);
}

function findPlace(set: LabelSet, namespace: string, origin: string): Place | undefined {
  return candidates(set, namespace).find((p) => p.namespace === namespace && p.origin === origin);
}

function addPlace(set: LabelSet, place: Place): void {
  const places = set.places;
  if (places instanceof Map) {
    places.set(place.namespace, (places.get(place.namespace) ?? []).concat([place]));
    return;
  }
  const list = (isList(places) ? places : [places]).concat([place]);
  if (list.length <= PLACES_IN_A_LIST) {
    set.places = list;
    return;
  }
  const byNamespace = new Map<string, readonly Place[]>();
  for (const p of list) byNamespace.set(p.namespace, (byNamespace.get(p.namespace) ?? []).concat([p]));
  set.places = byNamespace;
}

/** Takes a placement no Secret holds any more out of its label set; answers whether the set is left empty. */
function dropPlace(set: LabelSet, place: Place): boolean {
  const places = set.places;
  if (places instanceof Map) {
    const rest = (places.get(place.namespace) ?? []).filter((p) => p !== place);
    if (rest.length === 0) places.delete(place.namespace);
    else places.set(place.namespace, rest);
    return places.size === 0;
  }
  if (!isList(places)) return places === place;
  // A list holds two or more (addPlace makes it from one and one): at least one is left.
  const rest = places.filter((p) => p !== place);
  const only = rest[0];
  set.places = rest.length === 1 && only !== undefined ? only : rest;
  return false;
}
