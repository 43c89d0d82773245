// A Map from a key to a set of values, for the reverse indexes of the policy store and the Secret index.
// Most keys have few values (the ten Secrets of a label group, the one policy that selects a label): a
// lone value is held as itself, a few in an array of their exact length, only many in a Set. At 10,000
// policies and 100,000 Secrets a Set per key held ~380 bytes for ten values; an array holds ~130.

/** Past this many values a key's values are held in a Set (deleting from an array is linear). */
const SMALL = 16;

type Held<V> = V | readonly V[] | Set<V>;

function isList<V>(held: Held<V>): held is readonly V[] {
  return Array.isArray(held);
}

/** Values are strings or plain objects: never arrays or Sets themselves (those mark how values are held). */
export class Multimap<K, V extends string | object> {
  readonly #map = new Map<K, Held<V>>();

  add(key: K, value: V): void {
    const held = this.#map.get(key);
    if (held === undefined) this.#map.set(key, value);
    else if (held instanceof Set) held.add(value);
    else if (isList(held)) {
      if (!held.includes(value)) this.#map.set(key, held.length < SMALL ? held.concat([value]) : new Set([...held, value]));
    } else if (held !== value) this.#map.set(key, [held, value]);
  }

  delete(key: K, value: V): void {
    const held = this.#map.get(key);
    if (held === undefined) return;
    if (held instanceof Set) {
      held.delete(value);
      if (held.size === 0) this.#map.delete(key);
    } else if (isList(held)) {
      const i = held.indexOf(value);
      if (i === -1) return;
      const rest = held.slice(0, i).concat(held.slice(i + 1));
      this.#map.set(key, rest.length === 1 ? (rest[0] as V) : rest);
    } else if (held === value) this.#map.delete(key);
  }

  /** How many values the key has. */
  count(key: K): number {
    const held = this.#map.get(key);
    if (held === undefined) return 0;
    if (held instanceof Set) return held.size;
    return isList(held) ? held.length : 1;
  }

  /** The key's values (none for an unknown key), in no promised order. */
  values(key: K): Iterable<V> {
    const held = this.#map.get(key);
    if (held === undefined) return [];
    if (held instanceof Set || isList(held)) return held;
    return [held];
  }
}
