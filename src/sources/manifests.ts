// Multi-document YAML (what one would `kubectl apply`) -> source-neutral resources. Every problem
// names the file, the document (1-based), the field and its line and column.
import { LineCounter, parseAllDocuments } from 'yaml';
import type { PolicyResource, SecretResource } from '../config/resources.js';
import { API_GROUP, API_VERSION, KIND } from '../policy/schema.js';
import { decodeSecretData, isObject, stringMap } from './resource-fields.js';
import { ownCopy } from '../core/tail-keyed-cache.js';
import { type FieldPosition, fieldPosition, offsetPosition, type Position } from './yaml-positions.js';

export type { FieldPosition, Position } from './yaml-positions.js';

export interface ManifestProblem {
  readonly file: string;
  /** 1-based document number in the file. */
  readonly doc: number;
  readonly path: string;
  readonly message: string;
  /** Where in the file; undefined when the file itself cannot be read. */
  readonly position: Position | undefined;
}

/** The line and column of a field (`spec.hosts[1]`) in document `doc` (1-based) of one file. */
export type Locate = (doc: number, path: string) => FieldPosition;

export interface ParsedManifests {
  readonly policies: PolicyResource[];
  readonly secrets: SecretResource[];
  readonly problems: ManifestProblem[];
  /** True when the YAML itself could not be read: the file's previous content should keep serving. */
  readonly unreadable: boolean;
  /** Only when asked for (it holds the parsed documents): where each field is. */
  readonly locate?: Locate;
}

const DEFAULT_NAMESPACE = 'default';

export function parseManifests(text: string, file: string, options: { readonly locate?: boolean } = {}): ParsedManifests {
  const out: ParsedManifests = { policies: [], secrets: [], problems: [], unreadable: false };
  const lines = new LineCounter();
  const docs = parseAllDocuments(text, { prettyErrors: false, uniqueKeys: true, lineCounter: lines });
  const list = Array.isArray(docs) ? docs : [docs];
  const locate: Locate = (doc, path) => {
    const d = list[doc - 1];
    return d === undefined ? { line: 1, column: 1, exact: false } : fieldPosition(d, lines, path);
  };
  let unreadable = false;
  list.forEach((doc, i) => {
    const n = i + 1;
    const problem = (path: string, message: string): void => void out.problems.push({ file, doc: n, path, message, position: locate(n, path) });
    if (doc.errors.length > 0) {
      unreadable = true;
      for (const e of doc.errors) {
        out.problems.push({ file, doc: n, path: '', message: `YAML: ${e.message.split('\n')[0] ?? e.message}`, position: offsetPosition(lines, e.pos[0]) });
      }
      return;
    }
    const value: unknown = doc.toJS({ maxAliasCount: 100 });
    detach(value, new Set());
    if (value === null || value === undefined) return;
    if (!isObject(value)) return problem('', 'document is not a mapping');
    const apiVersion = value.apiVersion;
    const kind = value.kind;
    if (kind === KIND) {
      if (apiVersion !== `${API_GROUP}/${API_VERSION}`) return problem('apiVersion', `must be ${API_GROUP}/${API_VERSION}`);
      const meta = metadata(value, problem);
      if (meta === undefined) return;
      if (!('spec' in value)) return problem('spec', 'is required');
      out.policies.push({
        namespace: meta.namespace,
        name: meta.name,
        generation: typeof meta.generation === 'number' ? meta.generation : 1,
        creationTimestamp: meta.creationTimestamp,
        spec: value.spec,
        origin: `${file}#${n}`,
      });
      return;
    }
    if (kind === 'Secret' && apiVersion === 'v1') {
      const meta = metadata(value, problem);
      if (meta === undefined) return;
      const data = decodeSecretData(value, problem);
      if (data === undefined) return;
      out.secrets.push({
        namespace: meta.namespace,
        name: meta.name,
        labels: meta.labels,
        annotations: meta.annotations,
        data,
        origin: `${file}#${n}`,
      });
    }
    // Other kinds (Namespaces, Deployments...) may share the file; they are not ours.
  });
  return options.locate === true ? { ...out, unreadable, locate } : { ...out, unreadable };
}

// The YAML parser's strings are cut from the file's text, and V8 keeps a cut of 13 characters or more
// as a view that holds the whole text alive: a Secret's name kept by the store would keep its file
// (at 10,000 policies, 9.7 MB of YAML held for its names). Such strings are copied out, in place.
const VIEW_MIN_LENGTH = 13;

/** Copies out, in place, every string of a parsed document long enough to be a view. */
function detach(v: unknown, seen: Set<object>): void {
  if (typeof v !== 'object' || v === null || seen.has(v)) return;
  seen.add(v);
  if (Array.isArray(v)) {
    const list: unknown[] = v;
    for (let i = 0; i < list.length; i++) {
      const x = list[i];
      if (typeof x !== 'string') detach(x, seen);
      else if (x.length >= VIEW_MIN_LENGTH) list[i] = ownCopy(x);
    }
    return;
  }
  const record = v as Record<string, unknown>;
  for (const k of Object.keys(record)) {
    const x = record[k];
    // defineProperty: an own `__proto__` key stays a plain property.
    if (typeof x !== 'string') detach(x, seen);
    else if (x.length >= VIEW_MIN_LENGTH) Object.defineProperty(record, k, { value: ownCopy(x), writable: true, enumerable: true, configurable: true });
  }
}

interface Meta {
  name: string;
  namespace: string;
  generation: unknown;
  creationTimestamp: string | undefined;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

function metadata(value: Record<string, unknown>, problem: (path: string, message: string) => void): Meta | undefined {
  const m = value.metadata;
  if (!isObject(m)) return problem('metadata', 'is required'), undefined;
  if (typeof m.name !== 'string' || m.name === '') return problem('metadata.name', 'is required'), undefined;
  if (m.namespace !== undefined && (typeof m.namespace !== 'string' || m.namespace === '')) {
    return problem('metadata.namespace', 'must be a non-empty string'), undefined;
  }
  const labels = stringMap(m.labels, 'metadata.labels', problem);
  const annotations = stringMap(m.annotations, 'metadata.annotations', problem);
  if (labels === undefined || annotations === undefined) return undefined;
  return {
    name: m.name,
    namespace: typeof m.namespace === 'string' ? m.namespace : DEFAULT_NAMESPACE,
    generation: m.generation,
    creationTimestamp: typeof m.creationTimestamp === 'string' ? m.creationTimestamp : undefined,
    labels,
    annotations,
  };
}
