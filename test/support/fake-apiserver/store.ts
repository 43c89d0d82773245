// The object store: one global resourceVersion counter (like an etcd revision), per-resource tables,
// and a bounded per-resource event history that watches resume from (like the watch cache).
import type { JsonValue } from './json.js';
import { deletedRecord, prepareCreate, prepareUpdate, type WriteMode } from './objects.js';
import { objectKey, RESOURCES, type ResourceDef, type ResourcePlural, type StoredRecord } from './resources.js';
import { ApiError } from './status.js';

export type StoreEvent =
  | { readonly type: 'ADDED'; readonly rv: number; readonly object: StoredRecord }
  | { readonly type: 'MODIFIED'; readonly rv: number; readonly object: StoredRecord; readonly prev: StoredRecord }
  | { readonly type: 'DELETED'; readonly rv: number; readonly object: StoredRecord; readonly prev: StoredRecord };

export type StoreListener = (event: StoreEvent) => void;

/** Watches may resume from `horizon` or later; older resourceVersions are gone (410). */
export type ReplayResult =
  | { readonly kind: 'events'; readonly events: readonly StoreEvent[] }
  | { readonly kind: 'expired'; readonly oldest: number };

class ResourceTable {
  readonly records = new Map<string, StoredRecord>();
  private sorted: string[] | undefined;
  private history: StoreEvent[] = [];
  private start = 0;
  horizon = 0;
  readonly listeners = new Set<StoreListener>();

  constructor(
    readonly def: ResourceDef,
    private readonly historyLimit: number,
  ) {}

  sortedRecords(namespace: string | undefined): StoredRecord[] {
    this.sorted ??= [...this.records.keys()].sort();
    const keys = this.sorted;
    const out: StoredRecord[] = [];
    if (namespace === undefined) {
      for (const key of keys) out.push(this.records.get(key) as StoredRecord);
      return out;
    }
    // Keys sort by namespace first: find the namespace's run by binary search.
    const prefix = objectKey(namespace, '');
    let lo = 0;
    let hi = keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((keys[mid] as string) < prefix) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < keys.length && (keys[i] as string).startsWith(prefix); i++) {
      out.push(this.records.get(keys[i] as string) as StoredRecord);
    }
    return out;
  }

  put(record: StoredRecord, isNew: boolean): void {
    this.records.set(record.key, record);
    if (isNew) this.sorted = undefined;
  }

  remove(key: string): void {
    this.records.delete(key);
    this.sorted = undefined;
  }

  record(event: StoreEvent): void {
    this.history.push(event);
    if (this.history.length - this.start > this.historyLimit) {
      this.horizon = (this.history[this.start] as StoreEvent).rv;
      this.start++;
      if (this.start >= this.historyLimit) {
        this.history = this.history.slice(this.start);
        this.start = 0;
      }
    }
    for (const listener of [...this.listeners]) listener(event);
  }

  replay(after: number): ReplayResult {
    if (after < this.horizon) return { kind: 'expired', oldest: this.horizon };
    let lo = this.start;
    let hi = this.history.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.history[mid] as StoreEvent).rv <= after) lo = mid + 1;
      else hi = mid;
    }
    return { kind: 'events', events: this.history.slice(lo) };
  }

  compact(rv: number): void {
    this.history = [];
    this.start = 0;
    this.horizon = rv;
  }
}

function notFound(def: ResourceDef, name: string): ApiError {
  return new ApiError(404, 'NotFound', `${def.qualified} "${name}" not found`, { name, group: def.group, kind: def.plural });
}

export interface WriteResult {
  readonly record: StoredRecord;
  /** False when the write changed nothing, so no resourceVersion was used and no event was sent. */
  readonly changed: boolean;
}

export class ObjectStore {
  private rv = 0;
  private readonly tables: ReadonlyMap<ResourcePlural, ResourceTable>;

  constructor(historyLimit: number) {
    this.tables = new Map(RESOURCES.map((def) => [def.plural, new ResourceTable(def, historyLimit)]));
  }

  get resourceVersion(): number {
    return this.rv;
  }

  private table(def: ResourceDef): ResourceTable {
    return this.tables.get(def.plural) as ResourceTable;
  }

  get(def: ResourceDef, namespace: string, name: string): StoredRecord {
    const record = this.table(def).records.get(objectKey(namespace, name));
    if (record === undefined) throw notFound(def, name);
    return record;
  }

  find(def: ResourceDef, namespace: string, name: string): StoredRecord | undefined {
    return this.table(def).records.get(objectKey(namespace, name));
  }

  /** Current objects ordered as etcd returns them (namespace, then name). */
  list(def: ResourceDef, namespace: string | undefined): StoredRecord[] {
    return this.table(def).sortedRecords(namespace);
  }

  count(def: ResourceDef): number {
    return this.table(def).records.size;
  }

  create(def: ResourceDef, input: JsonValue, pathNamespace: string | undefined, seeding: boolean): StoredRecord {
    const record = prepareCreate(def, input, pathNamespace, this.rv + 1, seeding);
    const table = this.table(def);
    if (table.records.has(record.key)) {
      throw new ApiError(409, 'AlreadyExists', `${def.qualified} "${record.name}" already exists`, {
        name: record.name,
        group: def.group,
        kind: def.plural,
      });
    }
    this.rv = record.rv;
    table.put(record, true);
    table.record({ type: 'ADDED', rv: record.rv, object: record });
    return record;
  }

  update(def: ResourceDef, namespace: string, name: string, input: JsonValue, mode: WriteMode): WriteResult {
    const old = this.get(def, namespace, name);
    const record = prepareUpdate(def, old, input, this.rv + 1, { mode, name, namespace });
    if (record === undefined) return { record: old, changed: false };
    this.rv = record.rv;
    const table = this.table(def);
    table.put(record, false);
    table.record({ type: 'MODIFIED', rv: record.rv, object: record, prev: old });
    return { record, changed: true };
  }

  /** `expectedRv` is DeleteOptions.preconditions.resourceVersion. */
  delete(def: ResourceDef, namespace: string, name: string, expectedRv?: string): StoredRecord {
    const old = this.get(def, namespace, name);
    if (expectedRv !== undefined && expectedRv !== String(old.rv)) {
      throw new ApiError(
        409,
        'Conflict',
        `Operation cannot be fulfilled on ${def.qualified} "${name}": the ResourceVersion in the precondition (${expectedRv}) does not match the ResourceVersion in record (${old.rv}). The object might have been modified`,
        { name, group: def.group, kind: def.plural },
      );
    }
    this.rv += 1;
    const gone = deletedRecord(old, this.rv);
    const table = this.table(def);
    table.remove(old.key);
    table.record({ type: 'DELETED', rv: this.rv, object: gone, prev: old });
    return gone;
  }

  replay(def: ResourceDef, after: number): ReplayResult {
    return this.table(def).replay(after);
  }

  /** The oldest resourceVersion a watch of `def` can still resume from. */
  horizon(def: ResourceDef): number {
    return this.table(def).horizon;
  }

  subscribe(def: ResourceDef, listener: StoreListener): () => void {
    const listeners = this.table(def).listeners;
    listeners.add(listener);
    return () => listeners.delete(listener);
  }

  /** Forgets every retained event, as an etcd compaction plus a fresh watch cache would. */
  compact(): void {
    for (const table of this.tables.values()) table.compact(this.rv);
  }
}
