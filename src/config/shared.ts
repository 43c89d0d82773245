// Compiled pieces shared between policies. 10,000 policies that read keys from the same header, answer
// with the same deny templates and name the same identity headers hold one frozen copy of each, not
// 10,000; and a list is held at its exact length (an array grown by push keeps room for 16 more).

/** A table of shared pieces, bounded: once full it starts over (what is shared stays shared). */
export class EqualPieces {
  readonly #max: number;
  readonly #table = new Map<string, unknown>();

  constructor(max: number) {
    this.#max = max;
  }

  /**
   * The frozen piece equal to `value` (plain data: equal JSON means equal meaning) if one was made
   * before, else `value` itself, frozen and kept for the next caller.
   */
  share<T extends object>(kind: string, value: T): T {
    const key = `${kind}\0${JSON.stringify(value)}`;
    const hit = this.#table.get(key);
    if (hit !== undefined) return hit as T;
    if (this.#table.size >= this.#max) this.#table.clear();
    this.#table.set(key, deepFreeze(value));
    return value;
  }
}

const compiled = new EqualPieces(4096);

/** A compiled piece shared between policies (credential locations, deny templates, header names). */
export function shareEqual<T extends object>(kind: string, value: T): T {
  return compiled.share(kind, value);
}

const EMPTY: readonly never[] = Object.freeze([]);

/** The items in an array of their exact length; the one shared empty array when there are none. */
export function exactList<T>(items: readonly T[]): readonly T[] {
  return items.length === 0 ? EMPTY : Object.freeze([...items]);
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
