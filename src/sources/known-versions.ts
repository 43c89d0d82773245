// What an informer remembers of each object: its resourceVersion, to skip an unchanged object on a
// re-list or a replayed event, and its name, to find deletions on a re-list. At 100,000 Secrets a Map
// keyed by "namespace/name" with string versions held ~88 bytes per object (a key string of its own
// per object, a version string per object): here a Map per namespace is keyed by the object's own
// name string (the one the store keeps too), and a version that is a plain decimal number, as the API
// server's always are in practice, is held as a number.

/** A resourceVersion as held: a number when it reads back as exactly the same text. */
type Held = number | string;

/** Versions are opaque strings to clients; a canonical decimal (no sign, no leading zero) round-trips. */
const CANONICAL = /^(?:0|[1-9][0-9]{0,14})$/;

function hold(version: string): Held {
  return CANONICAL.test(version) ? Number(version) : version;
}

export class KnownVersions {
  readonly #namespaces = new Map<string, Map<string, Held>>();
  #size = 0;

  get size(): number {
    return this.#size;
  }

  /** Whether the object is known at exactly this version. */
  has(namespace: string, name: string, version: string): boolean {
    const held = this.#namespaces.get(namespace)?.get(name);
    return held !== undefined && held === hold(version);
  }

  set(namespace: string, name: string, version: string): void {
    let names = this.#namespaces.get(namespace);
    if (names === undefined) this.#namespaces.set(namespace, (names = new Map()));
    if (!names.has(name)) this.#size++;
    names.set(name, hold(version));
  }

  /** Forgets the object; answers whether it was known. */
  delete(namespace: string, name: string): boolean {
    const names = this.#namespaces.get(namespace);
    if (names === undefined || !names.delete(name)) return false;
    this.#size--;
    if (names.size === 0) this.#namespaces.delete(namespace);
    return true;
  }

  /** The objects `seen` does not hold, as [namespace, name]: what a complete list no longer has. */
  missingFrom(seen: KnownNames): Array<readonly [string, string]> {
    const out: Array<readonly [string, string]> = [];
    for (const [namespace, names] of this.#namespaces) {
      for (const name of names.keys()) if (!seen.has(namespace, name)) out.push([namespace, name]);
    }
    return out;
  }
}

/** A set of objects by namespace and name, without a key string per object. */
export class KnownNames {
  readonly #namespaces = new Map<string, Set<string>>();
  #size = 0;

  get size(): number {
    return this.#size;
  }

  add(namespace: string, name: string): void {
    let names = this.#namespaces.get(namespace);
    if (names === undefined) this.#namespaces.set(namespace, (names = new Set()));
    if (!names.has(name)) this.#size++;
    names.add(name);
  }

  has(namespace: string, name: string): boolean {
    return this.#namespaces.get(namespace)?.has(name) ?? false;
  }
}
