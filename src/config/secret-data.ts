// A Secret's decoded data, held compactly: nearly every key Secret has one entry (`api_key`), and a
// Map of one entry costs ~185 bytes against ~30 for this, which is 15 MB at 100,000 Secrets.
const EMPTY: ReadonlyMap<string, Buffer> = Object.freeze(new Map<string, Buffer>());

/** A read-only map of exactly one entry. */
class OneEntry implements ReadonlyMap<string, Buffer> {
  readonly #key: string;
  readonly #value: Buffer;

  constructor(key: string, value: Buffer) {
    this.#key = key;
    this.#value = value;
  }

  get size(): number {
    return 1;
  }

  get(key: string): Buffer | undefined {
    return key === this.#key ? this.#value : undefined;
  }

  has(key: string): boolean {
    return key === this.#key;
  }

  forEach(fn: (value: Buffer, key: string, map: ReadonlyMap<string, Buffer>) => void, thisArg?: unknown): void {
    fn.call(thisArg, this.#value, this.#key, this);
  }

  *entries(): MapIterator<[string, Buffer]> {
    yield [this.#key, this.#value];
  }

  *keys(): MapIterator<string> {
    yield this.#key;
  }

  *values(): MapIterator<Buffer> {
    yield this.#value;
  }

  [Symbol.iterator](): MapIterator<[string, Buffer]> {
    return this.entries();
  }
}

/** The same entries in the smallest form: a shared empty map, a one-entry map, or the map itself. */
export function compactSecretData(data: ReadonlyMap<string, Buffer>): ReadonlyMap<string, Buffer> {
  if (data.size === 0) return EMPTY;
  if (data.size > 1) return data;
  const [entry] = data;
  return entry === undefined ? EMPTY : new OneEntry(entry[0], entry[1]);
}
