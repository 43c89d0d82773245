// Routing a request to its policy: host (exact, then the most specific `*.suffix`, then `*`), then the
// longest path prefix, then method. Lookup cost depends on the host's label count and the number of
// distinct prefix lengths of that host, never on the number of policies.
import type { CompiledPolicy } from './compiled.js';

export const DEFAULT_IDENTITY_HEADERS: readonly string[] = Object.freeze([
  'x-consumer-id',
  'x-consumer-username',
  'x-consumer-custom-id',
  'x-credential-identifier',
  'x-authenticated-groups',
  'x-anonymous-consumer',
]);

export interface Conflict {
  readonly host: string;
  readonly path: string;
  /** The policy that serves the route (older, or first by namespace/name). */
  readonly winner: string;
  readonly loser: string;
}

class HostTable {
  readonly byPrefix = new Map<string, CompiledPolicy[]>();
  /** Distinct prefix lengths, longest first. */
  lengths: number[] = [];

  add(prefix: string, policy: CompiledPolicy): void {
    let list = this.byPrefix.get(prefix);
    if (list === undefined) this.byPrefix.set(prefix, (list = []));
    list.push(policy);
  }

  seal(order: (a: CompiledPolicy, b: CompiledPolicy) => number): void {
    const lengths = new Set<number>();
    for (const [prefix, list] of this.byPrefix) {
      list.sort(order);
      lengths.add(prefix.length);
    }
    this.lengths = [...lengths].sort((a, b) => b - a);
  }

  find(path: string, method: string): CompiledPolicy | undefined {
    for (const len of this.lengths) {
      if (len > path.length) continue;
      const list = this.byPrefix.get(len === path.length ? path : path.slice(0, len));
      if (list === undefined) continue;
      for (const p of list) if (p.methods === undefined || p.methods.has(method)) return p;
    }
    return undefined;
  }
}

export interface IndexEntry {
  readonly policy: CompiledPolicy;
  /** RFC 3339 creation time; older wins conflicts. Missing sorts last. */
  readonly createdAt: string | undefined;
}

export class PolicyIndex {
  readonly #exact = new Map<string, HostTable>();
  /** Keyed by the suffix including its dot: `.example.com`. */
  readonly #wildcard = new Map<string, HostTable>();
  #any: HostTable | undefined;
  readonly conflicts: readonly Conflict[];
  /** Every identity header any policy may set: stripped from every allowed request. */
  readonly identityHeaders: readonly string[];
  readonly size: number;
  /** API keys held by the indexed policies. */
  readonly keyCount: number;

  constructor(entries: readonly IndexEntry[]) {
    const created = new Map<CompiledPolicy, string | undefined>();
    for (const e of entries) created.set(e.policy, e.createdAt);
    const order = (a: CompiledPolicy, b: CompiledPolicy): number => {
      const ca = created.get(a);
      const cb = created.get(b);
      if (ca !== cb) {
        if (ca === undefined) return 1;
        if (cb === undefined) return -1;
        if (ca < cb) return -1;
        if (ca > cb) return 1;
      }
      return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
    };
    const names = new Set(DEFAULT_IDENTITY_HEADERS);
    let keys = 0;
    for (const { policy } of entries) {
      keys += policy.keyCount;
      for (const n of policy.headerNames) names.add(n);
      for (const host of policy.hosts) {
        const table = this.#table(host);
        for (const path of policy.paths) table.add(path, policy);
      }
    }
    const tables = [...this.#exact.entries(), ...[...this.#wildcard.entries()].map(([k, v]): [string, HostTable] => [`*${k}`, v])];
    if (this.#any !== undefined) tables.push(['*', this.#any]);
    const conflicts: Conflict[] = [];
    for (const [host, table] of tables) {
      table.seal(order);
      for (const [path, list] of table.byPrefix) collectConflicts(host, path, list, conflicts);
    }
    this.conflicts = Object.freeze(conflicts);
    this.identityHeaders = Object.freeze([...names]);
    this.size = entries.length;
    this.keyCount = keys;
  }

  lookup(host: string, path: string, method: string): CompiledPolicy | undefined {
    const exact = this.#exact.get(host)?.find(path, method);
    if (exact !== undefined) return exact;
    if (this.#wildcard.size > 0) {
      for (let dot = host.indexOf('.'); dot !== -1; dot = host.indexOf('.', dot + 1)) {
        const found = this.#wildcard.get(host.slice(dot))?.find(path, method);
        if (found !== undefined) return found;
      }
    }
    return this.#any?.find(path, method);
  }

  #table(host: string): HostTable {
    if (host === '*') return (this.#any ??= new HostTable());
    const [map, key] = host.startsWith('*.') ? [this.#wildcard, host.slice(1)] : [this.#exact, host];
    let t = map.get(key);
    if (t === undefined) map.set(key, (t = new HostTable()));
    return t;
  }
}

function collectConflicts(host: string, path: string, list: readonly CompiledPolicy[], out: Conflict[]): void {
  for (let i = 1; i < list.length; i++) {
    const loser = list[i];
    if (loser === undefined) continue;
    for (let j = 0; j < i; j++) {
      const winner = list[j];
      if (winner !== undefined && winner.id !== loser.id && overlaps(winner.methods, loser.methods)) {
        out.push({ host, path, winner: winner.id, loser: loser.id });
        break;
      }
    }
  }
}

function overlaps(a: ReadonlySet<string> | undefined, b: ReadonlySet<string> | undefined): boolean {
  if (a === undefined || b === undefined) return true;
  for (const m of a) if (b.has(m)) return true;
  return false;
}
