// A policy as the store keeps it between compiles. Its spec is kept as JSON text: one string instead of
// the tree of objects and arrays a parsed spec is (a YAML list alone reserves 17 slots). At 10,000
// policies that is ~1 kB per policy less. The text is parsed again at each compile, which happens only
// when the policy or something it reads changes. A spec JSON cannot carry exactly (`.inf`, `-0` in
// YAML) is kept as it is, so that it is validated as written.
import { policyKey, type PolicyResource } from '../config/resources.js';

export class HeldPolicy {
  /**
   * `namespace/name`, made once: the source's, the store's and the compiled policy's maps and
   * records all hold this one string (at 10,000 policies, each copy ~0.5 MB).
   */
  readonly id: string;
  readonly namespace: string;
  readonly name: string;
  readonly generation: number;
  readonly creationTimestamp: string | undefined;
  readonly origin: string;
  /** The spec's own `enforcement: shadow` (what a status shows while nothing serves). */
  readonly shadow: boolean;
  readonly #text: string | undefined;
  readonly #spec: unknown;

  constructor(res: PolicyResource) {
    this.id = policyKey(res.namespace, res.name);
    this.namespace = res.namespace;
    this.name = res.name;
    this.generation = res.generation;
    this.creationTimestamp = res.creationTimestamp;
    this.origin = res.origin;
    const spec = res.spec;
    this.shadow = typeof spec === 'object' && spec !== null && (spec as { enforcement?: unknown }).enforcement === 'shadow';
    this.#text = spec !== undefined && jsonExact(spec) ? JSON.stringify(spec) : undefined;
    this.#spec = this.#text === undefined ? spec : undefined;
  }

  /** The resource to compile: a spec of its own each time (compiling never sees another's objects). */
  resource(): PolicyResource {
    const spec: unknown = this.#text === undefined ? this.#spec : JSON.parse(this.#text);
    return { namespace: this.namespace, name: this.name, generation: this.generation, creationTimestamp: this.creationTimestamp, spec, origin: this.origin };
  }

  /** Whether the other says the same, from the same place (a re-read file that did not change). */
  same(other: HeldPolicy): boolean {
    if (this.origin !== other.origin) return false;
    if (this.#text !== undefined || other.#text !== undefined) return this.#text === other.#text;
    return this.#spec === other.#spec;
  }
}

/** Whether JSON text gives back exactly this value: no non-finite numbers, no -0, no undefined. */
function jsonExact(v: unknown): boolean {
  switch (typeof v) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(v) && !Object.is(v, -0);
    case 'object':
      if (v === null) return true;
      if (Array.isArray(v)) return v.every(jsonExact);
      return Object.getPrototypeOf(v) === Object.prototype && Object.values(v).every(jsonExact);
    default:
      return false;
  }
}
