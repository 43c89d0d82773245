// List requests: selectors, limit/continue pagination over a consistent snapshot (as etcd serves
// continued lists at the first page's revision), and a streamed body so large lists stay cheap.
import type { ServerResponse } from 'node:http';
import { isJsonObject } from './json.js';
import type { ResourceDef, StoredRecord } from './resources.js';
import { FieldSelector, LabelSelector } from './selectors.js';
import { ApiError } from './status.js';
import type { ObjectStore } from './store.js';

export interface ListQuery {
  readonly label: LabelSelector;
  readonly field: FieldSelector;
  readonly limit: number | undefined;
  readonly continueToken: string | undefined;
}

export function parseListQuery(def: ResourceDef, params: URLSearchParams): ListQuery {
  const label = LabelSelector.parse(params.get('labelSelector'));
  const field = FieldSelector.parse(params.get('fieldSelector'), def.fieldLabels);
  const rawLimit = params.get('limit');
  let limit: number | undefined;
  if (rawLimit !== null && rawLimit !== '') {
    if (!/^[0-9]+$/.test(rawLimit)) throw new ApiError(400, 'BadRequest', `limit: Invalid value: "${rawLimit}": must be a non-negative integer`);
    limit = Number(rawLimit) === 0 ? undefined : Number(rawLimit);
  }
  const continueToken = params.get('continue') || undefined;
  const rv = params.get('resourceVersion');
  if (continueToken !== undefined && rv !== null && rv !== '') {
    throw new ApiError(400, 'BadRequest', 'specifying resource version is not allowed when using continue');
  }
  if (rv !== null && rv !== '' && !/^[0-9]+$/.test(rv)) {
    throw new ApiError(400, 'BadRequest', `invalid resource version: "${rv}"`);
  }
  return { label, field, limit, continueToken };
}

interface Snapshot {
  readonly id: string;
  readonly def: ResourceDef;
  readonly namespace: string | undefined;
  readonly rv: number;
  readonly records: readonly StoredRecord[];
}

interface ContinueToken {
  readonly v: 'meta.k8s.io/v1';
  readonly rv: number;
  readonly start: string;
  readonly snapshot: string;
  readonly index: number;
}

export interface ListPage {
  readonly rv: number;
  readonly items: readonly StoredRecord[];
  readonly continueToken: string | undefined;
  readonly remainingItemCount: number | undefined;
}

const EXPIRED_CONTINUE =
  'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.';

/** Paginated lists keep their snapshot here until it falls out (least recently used) or is compacted. */
export class ListSnapshots {
  private readonly snapshots = new Map<string, Snapshot>();
  private next = 0;

  constructor(private readonly capacity: number) {}

  clear(): void {
    this.snapshots.clear();
  }

  page(store: ObjectStore, def: ResourceDef, namespace: string | undefined, query: ListQuery): ListPage {
    const matches = (r: StoredRecord): boolean =>
      query.label.matches(r.labels) && query.field.matches((f) => r.field(f));
    if (query.limit === undefined && query.continueToken === undefined) {
      return { rv: store.resourceVersion, items: store.list(def, namespace).filter(matches), continueToken: undefined, remainingItemCount: undefined };
    }
    let snapshot: Snapshot;
    let index: number;
    if (query.continueToken === undefined) {
      snapshot = { id: String(++this.next), def, namespace, rv: store.resourceVersion, records: store.list(def, namespace) };
      index = 0;
    } else {
      const token = decodeToken(query.continueToken);
      const found = this.snapshots.get(token.snapshot);
      if (found === undefined || token.rv < store.horizon(def)) throw new ApiError(410, 'Expired', EXPIRED_CONTINUE);
      if (found.def !== def || found.namespace !== namespace || found.rv !== token.rv) {
        throw new ApiError(400, 'BadRequest', 'continue key is not valid: it was issued for another list');
      }
      snapshot = found;
      index = token.index;
    }
    const limit = query.limit ?? Number.POSITIVE_INFINITY;
    const items: StoredRecord[] = [];
    while (index < snapshot.records.length && items.length < limit) {
      const record = snapshot.records[index++] as StoredRecord;
      if (matches(record)) items.push(record);
    }
    if (index >= snapshot.records.length) {
      return { rv: snapshot.rv, items, continueToken: undefined, remainingItemCount: undefined };
    }
    this.remember(snapshot);
    const last = snapshot.records[index - 1] as StoredRecord;
    const token: ContinueToken = { v: 'meta.k8s.io/v1', rv: snapshot.rv, start: `${last.key}\u0000`, snapshot: snapshot.id, index };
    // The real server only counts what is left when no selector filters the list.
    const filtered = !query.label.empty || !query.field.empty;
    return {
      rv: snapshot.rv,
      items,
      continueToken: Buffer.from(JSON.stringify(token)).toString('base64'),
      remainingItemCount: filtered ? undefined : snapshot.records.length - index,
    };
  }

  private remember(snapshot: Snapshot): void {
    this.snapshots.delete(snapshot.id);
    this.snapshots.set(snapshot.id, snapshot);
    while (this.snapshots.size > this.capacity) {
      const oldest = this.snapshots.keys().next().value;
      if (oldest === undefined) break;
      this.snapshots.delete(oldest);
    }
  }
}

function decodeToken(raw: string): ContinueToken {
  const invalid = new ApiError(400, 'BadRequest', 'continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)');
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(raw, 'base64').toString('utf8'));
  } catch {
    throw invalid;
  }
  if (!isJsonObject(parsed)) throw invalid;
  const { v, rv, start, snapshot, index } = parsed;
  if (v !== 'meta.k8s.io/v1' || typeof rv !== 'number' || typeof start !== 'string' || typeof snapshot !== 'string' || typeof index !== 'number') {
    throw invalid;
  }
  return { v, rv, start, snapshot, index };
}

const CHUNK_BYTES = 256 * 1024;

function waitForDrain(res: ServerResponse): Promise<boolean> {
  return new Promise((resolve) => {
    const done = (ok: boolean): void => {
      res.off('drain', onDrain);
      res.off('close', onClose);
      resolve(ok);
    };
    const onDrain = (): void => done(true);
    const onClose = (): void => done(false);
    res.on('drain', onDrain);
    res.on('close', onClose);
  });
}

/** Writes the List object in chunks, waiting for the socket to drain so memory stays flat. */
export async function writeList(res: ServerResponse, def: ResourceDef, page: ListPage, typedItems: boolean): Promise<void> {
  const metadata: Record<string, string | number> = { resourceVersion: String(page.rv) };
  if (page.continueToken !== undefined) metadata['continue'] = page.continueToken;
  if (page.remainingItemCount !== undefined) metadata['remainingItemCount'] = page.remainingItemCount;
  res.writeHead(200, { 'Content-Type': 'application/json' });
  let chunk = `{"apiVersion":${JSON.stringify(def.apiVersion)},"kind":${JSON.stringify(def.listKind)},"metadata":${JSON.stringify(metadata)},"items":[`;
  for (let i = 0; i < page.items.length; i++) {
    const record = page.items[i] as StoredRecord;
    chunk += (i === 0 ? '' : ',') + (typedItems ? record.typedJson : record.bodyJson);
    if (chunk.length >= CHUNK_BYTES) {
      const flushed = res.write(chunk);
      chunk = '';
      if (!flushed && !(await waitForDrain(res))) return;
    }
  }
  res.end(`${chunk}]}`);
}
