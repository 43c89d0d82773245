// Holds what the sources report (policies, Secrets), compiles what changed, and swaps a new index in
// atomically (or, when the recompiled policies route as before, swaps them into the serving index in
// place, equally atomically: lookups are synchronous). A policy that turns invalid keeps its last good version serving (re-compiled against
// current Secrets); a new invalid one serves only denials for its hosts. A Secret change recompiles
// exactly the policies that read it. A policy whose identity provider has never answered serves (its
// other methods and existing sessions work) but is not Ready (`ProviderUnavailable`); the store
// watches such run-time dependencies and recomputes that status when they change.
import type { CompiledPolicy } from '../core/ports.js';
import { Dependents } from './dependents.js';
import { type CompileEnv } from './compile-context.js';
import { type Dependencies } from '../config/method-context.js';
import { compilePolicy, type CompileResult } from './compile.js';
import { findFallThroughs } from './fall-through.js';
import { HeldPolicy } from './held-policy.js';
import { type Conflict, type IndexEntry, PolicyIndex } from './index.js';
import type { Problem } from '../config/problems.js';
import { policyKey, type PolicyResource, type SecretResource } from '../config/resources.js';
import { SecretIndex } from '../config/secrets.js';
import { exactList } from '../config/shared.js';

/** What finds the policies that read a Secret. */
type SecretIdentity = Pick<SecretResource, 'namespace' | 'name' | 'labels'>;

export type StatusReason = 'Compiled' | 'Invalid' | 'SecretMissing' | 'HostConflict' | 'ProviderUnavailable';

export interface PolicyStatus {
  readonly id: string;
  readonly namespace: string;
  readonly name: string;
  readonly observedGeneration: number;
  readonly ready: boolean;
  readonly reason: StatusReason;
  readonly message: string;
  readonly problems: readonly Problem[];
  /** What serves its routes: this generation, an earlier good one, or a deny-only stand-in. */
  readonly serving: 'current' | 'last-good' | 'deny' | 'nothing';
  /** How what serves decides: `shadow` never refuses a request (its spec's mode while nothing serves). */
  readonly enforcement: 'enforce' | 'shadow';
}

export interface StoreListener {
  onIndex?(index: PolicyIndex): void;
  onStatus?(status: PolicyStatus, previous: PolicyStatus | undefined): void;
  onRemoved?(id: string): void;
}

interface Entry {
  current: HeldPolicy;
  good: HeldPolicy | undefined;
  serving: CompiledPolicy | undefined;
  deps: Dependencies[];
  status: PolicyStatus | undefined;
  result: CompileResult | undefined;
  /** Stops watching the run-time dependencies of the serving compile result. */
  unwatch: readonly (() => void)[];
}

export class PolicyStore {
  readonly #env: CompileEnv;
  readonly #listener: StoreListener;
  readonly #secrets = new SecretIndex();
  readonly #entries = new Map<string, Entry>();
  readonly #dependents = new Dependents();
  readonly #dirty = new Set<string>();
  /** Policies whose run-time dependencies changed: status recomputed, nothing recompiled. */
  readonly #stale = new Set<string>();
  #removed = false;
  #lost = new Map<string, Conflict>();
  /** Fall-through warnings by policy, from the last index. */
  #notes = new Map<string, Problem[]>();
  readonly #ready = new Set<string>();
  #synced = false;
  #scheduled = false;
  #index: PolicyIndex | undefined;

  constructor(env: CompileEnv, listener: StoreListener = {}) {
    this.#env = env;
    this.#listener = listener;
  }

  /** The serving index; undefined until the first full sync (Checks are then denied). */
  get index(): PolicyIndex | undefined {
    return this.#index;
  }

  get synced(): boolean {
    return this.#synced;
  }

  get secretCount(): number {
    return this.#secrets.size;
  }

  statuses(): PolicyStatus[] {
    const out: PolicyStatus[] = [];
    for (const e of this.#entries.values()) if (e.status !== undefined) out.push(e.status);
    return out;
  }

  status(namespace: string, name: string): PolicyStatus | undefined {
    return this.#entries.get(policyKey(namespace, name))?.status;
  }

  /** A policy as a source reads it, or as a source that keeps it already holds it (shared, not copied). */
  upsertPolicy(res: PolicyResource | HeldPolicy): void {
    this.#upsert(res instanceof HeldPolicy ? res : new HeldPolicy(res));
  }

  #upsert(held: HeldPolicy): void {
    const id = held.id;
    const entry = this.#entries.get(id);
    if (entry === undefined) {
      this.#entries.set(id, { current: held, good: undefined, serving: undefined, deps: [], status: undefined, result: undefined, unwatch: exactList([]) });
    } else {
      entry.current = held;
    }
    this.#markDirty(id);
  }

  deletePolicy(namespace: string, name: string): void {
    const id = policyKey(namespace, name);
    const entry = this.#entries.get(id);
    if (entry === undefined) return;
    for (const stop of entry.unwatch) stop();
    this.#entries.delete(id);
    this.#stale.delete(id);
    this.#dependents.delete(id);
    this.#ready.delete(id);
    this.#dirty.delete(id);
    this.#removed = true;
    this.#listener.onRemoved?.(id);
    this.#schedule();
  }

  upsertSecret(secret: SecretResource): void {
    const previous = this.#secrets.put(secret);
    this.#secretChanged(secret, previous);
  }

  deleteSecret(namespace: string, name: string): void {
    const previous = this.#secrets.delete(namespace, name);
    if (previous !== undefined) this.#secretChanged(previous, undefined);
  }

  /**
   * Replaces everything (a file source re-read): unchanged objects are kept as they are. What is held
   * from an origin for which `keep` is true stays too, unless redefined (a file that cannot be read
   * now keeps serving what it last held).
   */
  replaceAll(policies: readonly PolicyResource[], secrets: readonly SecretResource[], keep: (origin: string) => boolean = () => false): void {
    const keepPolicies = new Set(policies.map((p) => policyKey(p.namespace, p.name)));
    for (const e of [...this.#entries.values()]) {
      if (!keepPolicies.has(policyKey(e.current.namespace, e.current.name)) && !keep(e.current.origin)) this.deletePolicy(e.current.namespace, e.current.name);
    }
    const keepSecrets = new Set(secrets.map((s) => `${s.namespace}/${s.name}`));
    for (const key of this.#secrets.keys()) {
      if (keepSecrets.has(key)) continue;
      const [ns = '', name = ''] = key.split('/');
      if (!keep(this.#secrets.get(ns, name)?.origin ?? '')) this.deleteSecret(ns, name);
    }
    for (const s of secrets) {
      if (!this.#secrets.holds(s)) this.upsertSecret(s);
    }
    for (const p of policies) {
      const old = this.#entries.get(policyKey(p.namespace, p.name))?.current;
      const next = new HeldPolicy(p);
      if (old === undefined || !old.same(next)) this.#upsert(next);
    }
  }

  /** The sources have delivered their first full state: compile everything and start serving. */
  markSynced(): void {
    this.#synced = true;
    this.flush();
  }

  /** Compiles what changed and swaps in a new index. Called automatically after changes settle. */
  flush(): void {
    this.#scheduled = false;
    if (!this.#synced) return;
    if (this.#dirty.size === 0 && !this.#removed && this.#index !== undefined) {
      if (this.#stale.size > 0) {
        const stale = [...this.#stale];
        this.#stale.clear();
        this.#updateStatuses(this.#index, stale);
      }
      return;
    }
    const changed = [...this.#dirty];
    this.#dirty.clear();
    const removed = this.#removed;
    this.#removed = false;
    const before = new Map<string, CompiledPolicy | undefined>();
    for (const id of changed) {
      const e = this.#entries.get(id);
      if (e === undefined) continue;
      before.set(id, e.serving);
      this.#compile(e);
    }
    if (!removed && this.#replaceInPlace(before)) return;
    for (const id of this.#stale) if (!changed.includes(id)) changed.push(id);
    this.#stale.clear();
    const entries: IndexEntry[] = [];
    for (const e of this.#entries.values()) {
      if (e.serving !== undefined) entries.push({ policy: e.serving, createdAt: e.current.creationTimestamp });
    }
    const index = new PolicyIndex(entries);
    this.#index = index;
    this.#updateStatuses(index, changed);
    this.#listener.onIndex?.(index);
  }

  /**
   * A change that leaves every recompiled policy routing as before (a rotated key, a new consumer)
   * swaps the policies in the serving index instead of rebuilding it: O(changed), not O(policies), and
   * no 10,000-policy index as garbage per Secret event. Conflicts and fall-throughs cannot have changed.
   */
  #replaceInPlace(before: ReadonlyMap<string, CompiledPolicy | undefined>): boolean {
    const index = this.#index;
    if (index === undefined) return false;
    const swaps: Array<[CompiledPolicy, CompiledPolicy, string | undefined]> = [];
    for (const [id, old] of before) {
      const e = this.#entries.get(id);
      if (old === undefined || e?.serving === undefined || !index.replaceable(old, e.serving, e.current.creationTimestamp)) return false;
      swaps.push([old, e.serving, e.current.creationTimestamp]);
    }
    for (const [old, next, createdAt] of swaps) index.replace(old, next, createdAt);
    const compiled = [...before.keys()];
    for (const id of this.#stale) if (!before.has(id)) compiled.push(id);
    this.#stale.clear();
    this.#refreshStatuses(compiled, this.#lost, this.#notes);
    this.#listener.onIndex?.(index);
    return true;
  }

  #compile(e: Entry): void {
    this.#compileInto(e);
    const id = e.current.id;
    this.#dependents.set(id, e.current.namespace, e.deps);
    for (const stop of e.unwatch) stop();
    const runtime = e.result?.ok === true ? e.result.runtime : [];
    e.unwatch = exactList(
      runtime.map((d) =>
        d.watch(() => {
          this.#stale.add(id);
          this.#schedule();
        }),
      ),
    );
  }

  #compileInto(e: Entry): void {
    const result = compilePolicy(e.current.resource(), this.#secrets, this.#env, e.current.id);
    e.result = result;
    e.deps = [result.deps];
    if (result.ok) {
      e.good = e.current;
      e.serving = result.policy;
      return;
    }
    const secretMissing = result.problems.some((p) => p.reason === 'SecretMissing');
    if (e.good !== undefined && e.good !== e.current && !secretMissing) {
      const again = compilePolicy(e.good.resource(), this.#secrets, this.#env, e.good.id);
      e.deps.push(again.deps);
      if (again.ok) {
        e.serving = again.policy;
        return;
      }
    }
    e.serving = result.standIn;
  }

  /**
   * Recomputes the status of the policies just compiled and of those whose conflict state changed;
   * the others cannot have changed. Listeners hear only real changes.
   */
  #updateStatuses(index: PolicyIndex, compiled: readonly string[]): void {
    const lost = new Map<string, Conflict>();
    for (const c of index.conflicts) if (!lost.has(c.loser)) lost.set(c.loser, c);
    const candidates = new Set(compiled);
    for (const [id, c] of lost) if (!sameConflict(c, this.#lost.get(id))) candidates.add(id);
    for (const [id, c] of this.#lost) if (!sameConflict(c, lost.get(id))) candidates.add(id);
    this.#lost = lost;
    const notes = new Map<string, Problem[]>();
    for (const f of findFallThroughs(index)) {
      const list = notes.get(f.policy);
      if (list === undefined) notes.set(f.policy, [f.problem]);
      else list.push(f.problem);
    }
    for (const id of new Set([...notes.keys(), ...this.#notes.keys()])) {
      if (JSON.stringify(notes.get(id)) !== JSON.stringify(this.#notes.get(id))) candidates.add(id);
    }
    this.#notes = notes;
    this.#refreshStatuses(candidates, lost, notes);
  }

  /** Recomputes the statuses of `ids`; listeners hear only real changes. */
  #refreshStatuses(ids: Iterable<string>, lost: ReadonlyMap<string, Conflict>, notes: ReadonlyMap<string, Problem[]>): void {
    for (const id of ids) {
      const e = this.#entries.get(id);
      if (e === undefined) continue;
      const next = statusOf(id, e, lost.get(id), notes.get(id) ?? []);
      const prev = e.status;
      if (prev !== undefined && sameStatus(prev, next)) continue;
      e.status = next;
      if (next.ready) this.#ready.add(id);
      else this.#ready.delete(id);
      this.#listener.onStatus?.(next, prev);
    }
  }

  /** Policies whose status is Ready, and all policies with a status. */
  counts(): { ready: number; total: number } {
    let total = 0;
    for (const e of this.#entries.values()) if (e.status !== undefined) total++;
    return { ready: this.#ready.size, total };
  }

  #secretChanged(secret: SecretIdentity, previous: SecretIdentity | undefined): void {
    if (!this.#synced) return;
    for (const id of this.#dependents.find(secret.namespace, secret.name, secret.labels)) this.#markDirty(id);
    if (previous !== undefined) for (const id of this.#dependents.find(previous.namespace, previous.name, previous.labels)) this.#markDirty(id);
  }

  #markDirty(id: string): void {
    this.#dirty.add(id);
    this.#schedule();
  }

  #schedule(): void {
    if (!this.#synced || this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => this.flush());
  }

}

function statusOf(id: string, e: Entry, conflict: Conflict | undefined, notes: readonly Problem[]): PolicyStatus {
  const r = e.result;
  const asked = e.current.shadow ? 'shadow' : 'enforce';
  const base: StatusBase = { id, namespace: e.current.namespace, name: e.current.name, observedGeneration: e.current.generation, enforcement: e.serving?.enforcement ?? asked };
  if (r === undefined) {
    return statusFrom(base, { ready: false, reason: 'Invalid', message: 'not compiled yet', problems: [], serving: 'nothing' });
  }
  if (!r.ok) {
    const first = r.problems.find((p) => p.severity === 'error');
    const reason: StatusReason = r.problems.some((p) => p.reason === 'SecretMissing' && p.severity === 'error') ? 'SecretMissing' : 'Invalid';
    const serving = e.serving === undefined ? 'nothing' : e.serving.broken === undefined ? 'last-good' : 'deny';
    const tail =
      serving === 'last-good'
        ? `; serving the last valid generation ${e.good?.generation ?? '?'}`
        : serving === 'deny'
          ? '; its hosts are denied until it is fixed'
          : '';
    return statusFrom(base, { ready: false, reason, message: `${first?.path ?? 'spec'}: ${first?.message ?? 'invalid'}${tail}`, problems: r.problems, serving });
  }
  if (conflict !== undefined) {
    return statusFrom(base, {
      ready: false,
      reason: 'HostConflict',
      message: `host ${conflict.host} path ${conflict.path} is already served by ${conflict.winner}`,
      problems: r.problems,
      serving: 'current',
    });
  }
  const problems = notes.length === 0 ? r.problems : [...r.problems, ...notes];
  for (const d of r.runtime) {
    const problem = d.problem();
    if (problem === undefined) continue;
    const message = `${d.field}: ${problem}; its logins answer 503 until it does (other methods and existing sessions still work)`;
    return statusFrom(base, { ready: false, reason: 'ProviderUnavailable', message, problems, serving: 'current' });
  }
  const warnings = problems.filter((p) => p.severity === 'warning').map((p) => `${p.path}: ${p.message}`);
  return statusFrom(base, { ready: true, reason: 'Compiled', message: warnings.join('; '), problems, serving: 'current' });
}

type StatusBase = Pick<PolicyStatus, 'id' | 'namespace' | 'name' | 'observedGeneration' | 'enforcement'>;

/**
 * Every status as one object literal of one shape: V8 gives an object built by spreading
 * (`{ ...base, ready }`) a hidden class of its own, ~320 bytes per policy at 10,000 policies.
 */
function statusFrom(b: StatusBase, r: Omit<PolicyStatus, keyof StatusBase>): PolicyStatus {
  const { id, namespace, name, observedGeneration, enforcement } = b;
  return { id, namespace, name, observedGeneration, ready: r.ready, reason: r.reason, message: r.message, problems: r.problems, serving: r.serving, enforcement };
}

function sameConflict(a: Conflict | undefined, b: Conflict | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.host === b.host && a.path === b.path && a.winner === b.winner && a.loser === b.loser;
}

function sameStatus(a: PolicyStatus, b: PolicyStatus): boolean {
  return (
    a.observedGeneration === b.observedGeneration &&
    a.ready === b.ready &&
    a.reason === b.reason &&
    a.message === b.message &&
    a.serving === b.serving &&
    a.enforcement === b.enforcement &&
    a.problems.length === b.problems.length &&
    a.problems.every((p, i) => {
      const q = b.problems[i];
      return q !== undefined && p.path === q.path && p.message === q.message && p.severity === q.severity && p.reason === q.reason;
    })
  );
}
