// Routing a request to its policy: host (exact, then the most specific `*.suffix`, then `*`), then the
// longest path prefix matching at a segment boundary, then method. The most specific path decides: a
// method its policies do not cover is refused (405) unless they all let it fall through. Lookup cost
// depends on the host's label count and the number of distinct prefix lengths of that host, never on
// the number of policies. Shadow policies are routed the same way among themselves, in tables of their
// own: they never take a route from an enforced policy, and two on one route are both evaluated.
import { DEFAULT_IDENTITY_HEADERS } from '../core/identity.js';
import type { CompiledPolicy } from '../core/ports.js';
import { lookAlike } from '../core/respond.js';
import { sameRoute } from './same-route.js';
import { MethodNotAllowed, type PolicyLookup, type Route, type RouteQuery } from '../core/route.js';
import type { RouteTrace } from '../core/trace.js';

export { MethodNotAllowed, type Route, type RouteQuery };

export interface Conflict {
  readonly host: string;
  readonly path: string;
  /** The policy that serves the route (older, or first by namespace/name). */
  readonly winner: string;
  readonly loser: string;
}

/** The policies sharing one prefix, and the answer when none covers a method. */
export interface Slot {
  readonly prefix: string;
  readonly policies: CompiledPolicy[];
  /** Methods the policies here cover; undefined when one covers every method. */
  methods: ReadonlySet<string> | undefined;
  /** undefined while some policy covers every method. */
  refusal: MethodNotAllowed | undefined;
  /** Every policy here lets unmatched methods fall through to a less specific route. */
  fallThrough: boolean;
}

/** Prefixes of the policies that share one set of path matching options, on one host. */
class PrefixTable {
  readonly options: number;
  readonly bySlot = new Map<string, Slot>();
  /** Distinct prefix lengths, longest first. */
  lengths: number[] = [];

  constructor(options: number) {
    this.options = options;
  }

  /** The slot at exactly `len` characters of `path`, when that prefix ends at a segment boundary. */
  at(path: string, len: number): Slot | undefined {
    if (len > path.length) return undefined;
    const prefix = len === path.length ? path : path.slice(0, len);
    const slot = this.bySlot.get(prefix);
    if (slot === undefined) return undefined;
    if (len === path.length || prefix.endsWith('/') || path.charCodeAt(len) === 47) return slot;
    return undefined;
  }
}

export class HostTable {
  /** The host as policies name it: exact, `*.suffix` or `*`. */
  readonly host: string;
  /**
   * Replaced through concat, never pushed to nor spread into: V8 gives an array grown by push, or built
   * by `[...a, x]`, room for 16 more elements (10,000 hosts, 1.4 MB); concat sizes it exactly.
   */
  tables: readonly PrefixTable[] = [];

  constructor(host: string) {
    this.host = host;
  }

  add(prefix: string, policy: CompiledPolicy): void {
    let table = this.tables.find((t) => t.options === policy.pathOptions);
    if (table === undefined) this.tables = this.tables.concat([(table = new PrefixTable(policy.pathOptions))]);
    const slot = table.bySlot.get(prefix);
    // A literal of one: most prefixes have one policy, and a pushed-to array would keep room for 16.
    if (slot === undefined) table.bySlot.set(prefix, { prefix, policies: [policy], methods: undefined, refusal: undefined, fallThrough: false });
    else slot.policies.push(policy);
  }

  /** Puts `next` where `old` was under `prefix`; the order is kept (same id and creation time). */
  replace(prefix: string, old: CompiledPolicy, next: CompiledPolicy): void {
    const slot = this.tables.find((t) => t.options === old.pathOptions)?.bySlot.get(prefix);
    const at = slot?.policies.indexOf(old) ?? -1;
    if (slot === undefined || at === -1) throw new Error(`policy ${old.id} is not indexed at ${this.host}${prefix}`);
    slot.policies[at] = next;
    // The 405 answer is built from the slot's first policy (realm, deny template).
    if (at === 0 && slot.methods !== undefined) slot.refusal = new MethodNotAllowed(slot.policies, slot.methods);
  }

  seal(order: (a: CompiledPolicy, b: CompiledPolicy) => number): void {
    for (const table of this.tables) {
      const lengths = new Set<number>();
      for (const [prefix, slot] of table.bySlot) {
        slot.policies.sort(order);
        lengths.add(prefix.length);
        const methods = new Set<string>();
        let every = true;
        for (const p of slot.policies) {
          if (p.methods === undefined) every = false;
          else for (const m of p.methods) methods.add(m);
        }
        if (every) {
          slot.methods = methods;
          slot.refusal = new MethodNotAllowed(slot.policies, methods);
        }
        slot.fallThrough = slot.policies.every((p) => p.otherMethods === 'fallThrough');
      }
      table.lengths = [...lengths].sort((a, b) => b - a);
    }
  }

  /**
   * What `pick` chooses from the most specific slots matching `q`. With a trace, every matching slot is
   * visited and reported (those after the decision as `after`), and the first decision still wins.
   */
  find<T extends Picked>(q: RouteQuery, pick: Picker<T>, trace: Tracing | undefined, after: boolean): T | undefined {
    if (this.tables.length === 1) return this.#findIn(this.tables[0] as PrefixTable, q, pick, trace, after);
    return this.#findAcross(q, pick, trace, after);
  }

  /** One option set on this host (the usual case): no allocation. */
  #findIn<T extends Picked>(table: PrefixTable, q: RouteQuery, pick: Picker<T>, trace: Tracing | undefined, after: boolean): T | undefined {
    const path = q.pathVariant(table.options);
    let found: T | undefined;
    for (const len of table.lengths) {
      const slot = table.at(path, len);
      if (slot === undefined) continue;
      const decided = pick.one(slot, q.method);
      if (trace !== undefined) trace.visit(this.host, slot, q.method, decided, after || found !== undefined);
      else if (decided !== undefined) return decided;
      found ??= decided;
    }
    return found;
  }

  /** Several option sets: the longest match over all of them decides, equal lengths together. */
  #findAcross<T extends Picked>(q: RouteQuery, pick: Picker<T>, trace: Tracing | undefined, after: boolean): T | undefined {
    const matches: { len: number; slot: Slot }[] = [];
    for (const table of this.tables) {
      const path = q.pathVariant(table.options);
      for (const len of table.lengths) {
        const slot = table.at(path, len);
        if (slot !== undefined) matches.push({ len, slot });
      }
    }
    matches.sort((a, b) => b.len - a.len);
    let found: T | undefined;
    for (let i = 0; i < matches.length; ) {
      const len = (matches[i] as { len: number }).len;
      const group: Slot[] = [];
      for (; i < matches.length && (matches[i] as { len: number }).len === len; i++) group.push((matches[i] as { slot: Slot }).slot);
      const decided = pick.group(group, q.method);
      if (trace !== undefined) for (const slot of group) trace.visit(this.host, slot, q.method, decided, after || found !== undefined);
      else if (decided !== undefined) return decided;
      found ??= decided;
    }
    return found;
  }

  *slots(): Iterable<[string, Slot]> {
    for (const t of this.tables) yield* t.bySlot;
  }
}

/** What a slot can decide: the enforced policy or a 405, or the shadow policies to evaluate. */
type Picked = CompiledPolicy | MethodNotAllowed | readonly CompiledPolicy[];

/** How routing picks from the slots a request matches. */
interface Picker<T extends Picked> {
  one(slot: Slot, method: string): T | undefined;
  /** Slots of equal specificity (same prefix length, different matching options). */
  group(slots: readonly Slot[], method: string): T | undefined;
}

const covers = (p: CompiledPolicy, method: string): boolean => p.methods === undefined || p.methods.has(method);

/** A policy covering the method; else the refusal, unless every policy here lets it fall through. */
const ENFORCED: Picker<CompiledPolicy | MethodNotAllowed> = {
  one(slot, method) {
    for (const p of slot.policies) if (covers(p, method)) return p;
    return slot.fallThrough ? undefined : slot.refusal;
  },
  group(slots, method) {
    for (const slot of slots) for (const p of slot.policies) if (covers(p, method)) return p;
    for (const slot of slots) if (!slot.fallThrough) return slot.refusal;
    return undefined;
  },
};

/** Every shadow policy of the slot covering the method; a shadow policy never refuses a method. */
const SHADOWS: Picker<readonly CompiledPolicy[]> = {
  one(slot, method) {
    return SHADOWS.group([slot], method);
  },
  group(slots, method) {
    const out = slots.flatMap((s) => s.policies.filter((p) => covers(p, method)));
    return out.length === 0 ? undefined : out;
  },
};

/** A trace and what it needs to tell why a policy won: the creation times. */
class Tracing {
  readonly #trace: RouteTrace;
  readonly #createdAt: ReadonlyMap<CompiledPolicy, string | undefined>;

  constructor(trace: RouteTrace, createdAt: ReadonlyMap<CompiledPolicy, string | undefined>) {
    this.#trace = trace;
    this.#createdAt = createdAt;
  }

  visit(host: string, slot: Slot, method: string, decided: Picked | undefined, after: boolean): void {
    const chosen = decided === undefined || decided instanceof MethodNotAllowed ? [] : Array.isArray(decided) ? decided : [decided as CompiledPolicy];
    this.#trace.slot({
      host,
      prefix: slot.prefix,
      method,
      policies: slot.policies,
      chosen: chosen.filter((p) => slot.policies.includes(p)),
      refused: decided instanceof MethodNotAllowed,
      after,
      createdAt: this.#createdAt,
    });
  }
}

/** The host tables of one kind of policy (enforced, or shadow). */
class RouteTables {
  readonly #exact = new Map<string, HostTable>();
  /** Keyed by the suffix including its dot: `.example.com`. */
  readonly #wildcard = new Map<string, HostTable>();
  #any: HostTable | undefined;

  add(policy: CompiledPolicy): void {
    for (const host of policy.hosts) {
      const table = this.#table(host);
      for (const path of policy.paths) table.add(path, policy);
    }
  }

  replace(old: CompiledPolicy, next: CompiledPolicy): void {
    for (const host of old.hosts) {
      const table = this.#table(host);
      for (const path of old.paths) table.replace(path, old, next);
    }
  }

  lookup<T extends Picked>(q: RouteQuery, pick: Picker<T>, trace: Tracing | undefined): T | undefined {
    const host = q.host;
    const exact = this.#exact.get(host)?.find(q, pick, trace, false);
    if (exact !== undefined && trace === undefined) return exact;
    let found = exact;
    if (this.#wildcard.size > 0) {
      for (let dot = host.indexOf('.'); dot !== -1; dot = host.indexOf('.', dot + 1)) {
        const r = this.#wildcard.get(host.slice(dot))?.find(q, pick, trace, found !== undefined);
        if (r === undefined) continue;
        if (trace === undefined) return r;
        found ??= r;
      }
    }
    const any = this.#any?.find(q, pick, trace, found !== undefined);
    return found ?? any;
  }

  /** Host tables as `host`, `*.suffix` or `*`, in no particular order. */
  hostTables(): [string, HostTable][] {
    const tables = [...this.#exact.entries(), ...[...this.#wildcard.entries()].map(([k, v]): [string, HostTable] => [`*${k}`, v])];
    if (this.#any !== undefined) tables.push(['*', this.#any]);
    return tables;
  }

  #table(host: string): HostTable {
    if (host === '*') return (this.#any ??= new HostTable('*'));
    const [map, key] = host.startsWith('*.') ? [this.#wildcard, host.slice(1)] : [this.#exact, host];
    let t = map.get(key);
    if (t === undefined) map.set(key, (t = new HostTable(host)));
    return t;
  }
}

export interface IndexEntry {
  readonly policy: CompiledPolicy;
  /** RFC 3339 creation time; older wins conflicts. Missing sorts last. */
  readonly createdAt: string | undefined;
}

export class PolicyIndex implements PolicyLookup {
  readonly #enforced = new RouteTables();
  /** Undefined while no policy is in shadow mode: a request then costs no second lookup. */
  readonly #shadow: RouteTables | undefined;
  readonly #createdAt = new Map<CompiledPolicy, string | undefined>();
  /** Conflicts between enforced policies; shadow policies never conflict (each is evaluated). */
  readonly conflicts: readonly Conflict[];
  /** Every identity header any policy may set: stripped from every allowed request. */
  readonly identityHeaders: readonly string[];
  /** The same names in look-alike form (see `lookAlike`), for spotting `x_consumer_id` and friends. */
  readonly identityLookAlikes: ReadonlySet<string>;
  readonly size: number;
  /** Policies in shadow mode. */
  readonly shadowCount: number;
  #keyCount: number;

  constructor(entries: readonly IndexEntry[]) {
    const created = this.#createdAt;
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
    // Shadow policies may set identity headers (alone on a route), so their names are stripped too.
    const names = new Set(DEFAULT_IDENTITY_HEADERS);
    let keys = 0;
    let shadow: RouteTables | undefined;
    let shadows = 0;
    for (const { policy } of entries) {
      keys += policy.keyCount;
      for (const n of policy.headerNames) names.add(n);
      if (policy.enforcement === 'shadow') {
        (shadow ??= new RouteTables()).add(policy);
        shadows++;
      } else this.#enforced.add(policy);
    }
    const conflicts: Conflict[] = [];
    for (const [host, table] of this.hostTables()) {
      table.seal(order);
      for (const [path, slot] of table.slots()) collectConflicts(host, path, slot.policies, conflicts);
    }
    for (const [, table] of shadow?.hostTables() ?? []) table.seal(order);
    this.#shadow = shadow;
    this.conflicts = Object.freeze(conflicts);
    this.identityHeaders = Object.freeze([...names]);
    this.identityLookAlikes = new Set([...names].map(lookAlike));
    this.size = entries.length;
    this.shadowCount = shadows;
    this.#keyCount = keys;
  }

  /** API keys held by the indexed policies. */
  get keyCount(): number {
    return this.#keyCount;
  }

  /** Whether `replace` can swap `old` for `next`: `old` is indexed and both route alike. */
  replaceable(old: CompiledPolicy, next: CompiledPolicy, createdAt: string | undefined): boolean {
    return this.#createdAt.has(old) && this.#createdAt.get(old) === createdAt && sameRoute(old, next);
  }

  /**
   * Swaps a policy for a recompiled version that routes exactly as it did (`sameRoute`), in place:
   * a rotated Secret then costs its own policy, not a rebuild of 10,000. Slots, order, conflicts and
   * identity headers stay valid because nothing they depend on changed. Lookups are synchronous, so
   * none sees a half-done swap; a Check already past its lookup keeps the policy it found.
   */
  replace(old: CompiledPolicy, next: CompiledPolicy, createdAt: string | undefined): void {
    if (!this.replaceable(old, next, createdAt)) throw new Error(`policy ${old.id} cannot be replaced in place`);
    (old.enforcement === 'shadow' ? this.#shadow : this.#enforced)?.replace(old, next);
    this.#createdAt.delete(old);
    this.#createdAt.set(next, createdAt);
    this.#keyCount += next.keyCount - old.keyCount;
  }

  lookup(q: RouteQuery, trace?: RouteTrace): Route {
    return this.#enforced.lookup(q, ENFORCED, trace === undefined ? undefined : new Tracing(trace, this.#createdAt));
  }

  shadows(q: RouteQuery, trace?: RouteTrace): readonly CompiledPolicy[] | undefined {
    const shadow = this.#shadow;
    if (shadow === undefined) return undefined;
    return shadow.lookup(q, SHADOWS, trace === undefined ? undefined : new Tracing(trace, this.#createdAt));
  }

  /** Enforced host tables as `host`, `*.suffix` or `*`, in no particular order. */
  hostTables(): [string, HostTable][] {
    return this.#enforced.hostTables();
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
