// Turning a client's object into a stored one: validation and server-owned metadata, with the
// create/update/status rules of the real API server's strategies for custom resources and Secrets.
import { randomUUID } from 'node:crypto';
import { isJsonObject, jsonEqual, type JsonObject, type JsonValue } from './json.js';
import { StoredRecord, type ResourceDef } from './resources.js';
import { labelKeyProblem, labelValueProblem } from './selectors.js';
import { ApiError } from './status.js';

/** main: PUT/PATCH of the object; status: the /status subresource; all: the test API, everything as given. */
export type WriteMode = 'main' | 'status' | 'all';

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const SECRET_KEY = /^[-._a-zA-Z0-9]+$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const NAME_SUFFIX_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

function invalid(def: ResourceDef, name: string, field: string, why: string): ApiError {
  const kind = def.group === '' ? def.kind : `${def.kind}.${def.group}`;
  return new ApiError(422, 'Invalid', `${kind} "${name}" is invalid: ${field}: ${why}`, {
    name,
    group: def.group,
    kind: def.kind,
    causes: [{ reason: 'FieldValueInvalid', message: why, field }],
  });
}

let stampSecond = -1;
let stamp = '';

/** RFC 3339 to the second, as metadata timestamps are; formatted once per second. */
export function creationTimestamp(): string {
  const second = Math.floor(Date.now() / 1000);
  if (second !== stampSecond) {
    stampSecond = second;
    stamp = new Date(second * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  }
  return stamp;
}

function generatedName(prefix: string): string {
  let suffix = '';
  for (let i = 0; i < 5; i++) {
    suffix += NAME_SUFFIX_ALPHABET[Math.floor(Math.random() * NAME_SUFFIX_ALPHABET.length)];
  }
  return prefix + suffix;
}

function stringMap(def: ResourceDef, name: string, field: string, value: JsonValue | undefined): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (!isJsonObject(value)) throw invalid(def, name, field, 'must be a map of strings');
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') throw invalid(def, name, `${field}.${k}`, 'must be a string');
    out[k] = v;
  }
  return out;
}

function checkTypeMeta(def: ResourceDef, input: JsonObject): void {
  const apiVersion = input['apiVersion'];
  const kind = input['kind'];
  if (apiVersion !== undefined && apiVersion !== def.apiVersion) {
    throw new ApiError(400, 'BadRequest', `the API version in the data (${String(apiVersion)}) does not match the expected API version (${def.apiVersion})`);
  }
  if (kind !== undefined && kind !== def.kind) {
    throw new ApiError(400, 'BadRequest', `the kind in the data (${String(kind)}) does not match the expected kind (${def.kind})`);
  }
}

function metadataOf(input: JsonObject): JsonObject {
  const metadata = input['metadata'];
  if (metadata === undefined) return {};
  if (!isJsonObject(metadata)) throw new ApiError(400, 'BadRequest', 'metadata must be an object');
  return metadata;
}

/** Secret data: base64 checked as the real decoder does (400), stringData folded into data. */
function secretContent(def: ResourceDef, name: string, input: JsonObject): JsonObject {
  const data = stringMap(def, name, 'data', input['data']);
  for (const [k, v] of Object.entries(data)) {
    if (!BASE64.test(v)) {
      throw new ApiError(400, 'BadRequest', `Secret in version "v1" cannot be handled as a Secret: illegal base64 data in data.${k}`);
    }
  }
  const stringData = stringMap(def, name, 'stringData', input['stringData']);
  for (const [k, v] of Object.entries(stringData)) data[k] = Buffer.from(v, 'utf8').toString('base64');
  for (const k of Object.keys(data)) {
    if (!SECRET_KEY.test(k)) throw invalid(def, name, `data[${k}]`, "a valid config key must consist of alphanumeric characters, '-', '_' or '.'");
  }
  const type = input['type'] ?? 'Opaque';
  if (typeof type !== 'string') throw invalid(def, name, 'type', 'must be a string');
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(input)) {
    if (k !== 'apiVersion' && k !== 'kind' && k !== 'metadata' && k !== 'stringData') out[k] = v;
  }
  if (Object.keys(data).length > 0) out['data'] = data;
  else delete out['data'];
  out['type'] = type;
  return out;
}

function content(def: ResourceDef, name: string, input: JsonObject): JsonObject {
  if (!def.custom) return secretContent(def, name, input);
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(input)) {
    if (k !== 'apiVersion' && k !== 'kind' && k !== 'metadata') out[k] = v;
  }
  return out;
}

interface Identity {
  readonly namespace: string;
  readonly name: string;
}

function identity(def: ResourceDef, metadata: JsonObject, pathNamespace: string | undefined): Identity {
  const given = metadata['namespace'];
  if (given !== undefined && typeof given !== 'string') throw new ApiError(400, 'BadRequest', 'metadata.namespace must be a string');
  if (pathNamespace !== undefined && given !== undefined && given !== '' && given !== pathNamespace) {
    throw new ApiError(400, 'BadRequest', 'the namespace of the provided object does not match the namespace sent on the request');
  }
  const namespace = pathNamespace ?? (given === undefined || given === '' ? 'default' : given);
  let name = metadata['name'];
  const generateName = metadata['generateName'];
  if ((name === undefined || name === '') && typeof generateName === 'string' && generateName !== '') {
    name = generatedName(generateName);
  }
  if (typeof name !== 'string' || name === '') {
    throw invalid(def, '', 'metadata.name', 'Required value: name or generateName is required');
  }
  if (name.length > 253 || !DNS_SUBDOMAIN.test(name)) {
    throw invalid(def, name, 'metadata.name', `Invalid value: "${name}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'`);
  }
  if (namespace.length > 63 || !DNS_LABEL.test(namespace)) {
    throw invalid(def, name, 'metadata.namespace', `Invalid value: "${namespace}": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-'`);
  }
  return { namespace, name };
}

function checkedLabels(def: ResourceDef, name: string, metadata: JsonObject): Record<string, string> {
  const labels = stringMap(def, name, 'metadata.labels', metadata['labels']);
  for (const [k, v] of Object.entries(labels)) {
    const problem = labelKeyProblem(k) ?? labelValueProblem(v);
    if (problem !== undefined) throw invalid(def, name, 'metadata.labels', problem);
  }
  stringMap(def, name, 'metadata.annotations', metadata['annotations']);
  return labels;
}

function build(def: ResourceDef, id: Identity, rv: number, labels: Record<string, string>, metadata: JsonObject, rest: JsonObject): StoredRecord {
  const meta: JsonObject = { ...metadata, name: id.name, namespace: id.namespace, resourceVersion: String(rv) };
  delete meta['generateName'];
  if (Object.keys(labels).length === 0) delete meta['labels'];
  return new StoredRecord(def, id.namespace, id.name, rv, Object.freeze(labels), { metadata: meta, ...rest });
}

/**
 * A new object. `seeding` is for objects a test puts in place through the test API, which may carry
 * the status and creationTimestamp of an object that existed before; over HTTP create sets neither.
 */
export function prepareCreate(def: ResourceDef, input: JsonValue, pathNamespace: string | undefined, rv: number, seeding: boolean): StoredRecord {
  if (!isJsonObject(input)) throw new ApiError(400, 'BadRequest', 'the request body must be a JSON object');
  checkTypeMeta(def, input);
  const metadata = metadataOf(input);
  const given = metadata['resourceVersion'];
  if (given !== undefined && given !== '' && given !== null) {
    throw new ApiError(500, 'InternalError', 'resourceVersion should not be set on objects to be created');
  }
  const id = identity(def, metadata, pathNamespace);
  const labels = checkedLabels(def, id.name, metadata);
  const rest = content(def, id.name, input);
  if (def.custom && !seeding) delete rest['status'];
  const seeded = metadata['creationTimestamp'];
  const server: JsonObject = { uid: randomUUID(), creationTimestamp: seeding && typeof seeded === 'string' ? seeded : creationTimestamp() };
  if (def.custom) server['generation'] = 1;
  const meta: JsonObject = { ...metadata, ...server };
  delete meta['deletionTimestamp'];
  return build(def, id, rv, labels, meta, rest);
}

export interface UpdateOptions {
  readonly mode: WriteMode;
  /** The name in the URL; the body must agree. */
  readonly name: string;
  readonly namespace: string;
}

/** Checks metadata.resourceVersion against the stored version: 409 when stale, 422 when a custom resource omits it. */
export function checkPrecondition(def: ResourceDef, old: StoredRecord, input: JsonObject, mode: WriteMode): void {
  const given = metadataOf(input)['resourceVersion'];
  if (given === undefined || given === null || given === '') {
    if (def.custom && mode !== 'all') {
      throw invalid(def, old.name, 'metadata.resourceVersion', 'Invalid value: 0x0: must be specified for an update');
    }
    return;
  }
  if (typeof given !== 'string' || !/^[0-9]+$/.test(given)) {
    throw new ApiError(400, 'BadRequest', `invalid resourceVersion: ${JSON.stringify(given)}`);
  }
  if (given !== String(old.rv)) {
    throw new ApiError(
      409,
      'Conflict',
      `Operation cannot be fulfilled on ${def.qualified} "${old.name}": the object has been modified; please apply your changes to the latest version and try again`,
      { name: old.name, group: def.group, kind: def.plural },
    );
  }
}

/**
 * The object an update would store at `rv`, or undefined when nothing would change (the real server
 * then writes nothing: no new resourceVersion, no event).
 */
export function prepareUpdate(def: ResourceDef, old: StoredRecord, input: JsonValue, rv: number, opts: UpdateOptions): StoredRecord | undefined {
  if (!isJsonObject(input)) throw new ApiError(400, 'BadRequest', 'the request body must be a JSON object');
  checkTypeMeta(def, input);
  const metadata = metadataOf(input);
  const bodyName = metadata['name'];
  if (bodyName !== undefined && bodyName !== opts.name) {
    throw new ApiError(400, 'BadRequest', `the name of the object (${String(bodyName)}) does not match the name on the URL (${opts.name})`);
  }
  checkPrecondition(def, old, input, opts.mode);
  const oldMeta = old.body['metadata'] as JsonObject;
  const id: Identity = { namespace: opts.namespace, name: opts.name };
  let labels: Record<string, string>;
  let meta: JsonObject;
  let rest: JsonObject;
  if (opts.mode === 'status') {
    // The status strategy keeps everything of the stored object except .status.
    labels = { ...old.labels };
    meta = { ...oldMeta };
    rest = { ...old.body };
    delete rest['metadata'];
    const status = input['status'];
    if (status === undefined) delete rest['status'];
    else rest['status'] = status;
  } else {
    labels = checkedLabels(def, opts.name, metadata);
    meta = { ...metadata };
    for (const k of ['uid', 'creationTimestamp', 'generation']) {
      const v = oldMeta[k];
      if (v !== undefined) meta[k] = v;
    }
    rest = content(def, opts.name, input);
    if (!def.custom) checkSecretUpdate(def, old, rest);
    if (def.custom && opts.mode === 'main') {
      if (old.body['status'] !== undefined) rest['status'] = old.body['status'];
      else delete rest['status'];
    }
    if (def.custom) {
      const oldRest: JsonObject = { ...old.body };
      delete oldRest['metadata'];
      const generation = typeof oldMeta['generation'] === 'number' ? oldMeta['generation'] : 1;
      if (!jsonEqual(oldRest, rest)) meta['generation'] = generation + 1;
    }
  }
  const candidate = build(def, id, old.rv, labels, meta, rest);
  if (opts.mode !== 'all' && jsonEqual(candidate.body, old.body)) return undefined;
  return build(def, id, rv, labels, meta, rest);
}

function checkSecretUpdate(def: ResourceDef, old: StoredRecord, rest: JsonObject): void {
  if (rest['type'] !== old.body['type']) throw invalid(def, old.name, 'type', 'field is immutable');
  if (old.body['immutable'] === true && (!jsonEqual(rest['data'], old.body['data']) || rest['immutable'] !== true)) {
    throw invalid(def, old.name, 'data', 'field is immutable when `immutable` is set');
  }
}

/** The DELETED event's object: the last stored content at the deletion's resourceVersion. */
export function deletedRecord(old: StoredRecord, rv: number): StoredRecord {
  return withResourceVersion(old, rv);
}

export function withResourceVersion(record: StoredRecord, rv: number): StoredRecord {
  const meta: JsonObject = { ...(record.body['metadata'] as JsonObject), resourceVersion: String(rv) };
  return new StoredRecord(record.def, record.namespace, record.name, rv, record.labels, { ...record.body, metadata: meta });
}
