// JSON values as the fake API server stores them, plus the two patch formats the real server applies
// to custom resources: JSON merge patch (RFC 7386) and JSON patch (RFC 6902).
import { ApiError } from './status.js';

export type JsonPrimitive = null | boolean | number | string;
export type JsonValue = JsonPrimitive | JsonValue[] | JsonObject;
export interface JsonObject {
  [key: string]: JsonValue;
}

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Reads a nested member of a decoded JSON value (an answer, a stored object), or undefined. */
export function at(value: unknown, ...path: string[]): unknown {
  let node = value;
  for (const key of path) {
    if (!isJsonObject(node)) return undefined;
    node = node[key];
  }
  return node;
}

/** Parses a request body; a body that is not JSON is the client's fault (400), as on the real server. */
export function parseJsonBody(text: string): JsonValue {
  try {
    const parsed: unknown = JSON.parse(text);
    return parsed as JsonValue;
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new ApiError(400, 'BadRequest', `the request body is not valid JSON: ${why}`);
  }
}

export function cloneJson<T extends JsonValue>(value: T): T {
  return structuredClone(value);
}

export function jsonEqual(a: JsonValue | undefined, b: JsonValue | undefined): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    return a.every((item, i) => jsonEqual(item, b[i]));
  }
  if (isJsonObject(a)) {
    if (!isJsonObject(b)) return false;
    const keys = Object.keys(a);
    if (keys.length !== Object.keys(b).length) return false;
    return keys.every((k) => Object.hasOwn(b, k) && jsonEqual(a[k], b[k]));
  }
  return false;
}

/** RFC 7386: objects merge recursively, null removes, anything else replaces. */
export function applyMergePatch(target: JsonValue | undefined, patch: JsonValue): JsonValue {
  if (!isJsonObject(patch)) return cloneJson(patch);
  const result: JsonObject = isJsonObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) {
      delete result[key];
    } else {
      result[key] = applyMergePatch(result[key], value);
    }
  }
  return result;
}

type PatchOp =
  | { op: 'add' | 'replace' | 'test'; path: string[]; value: JsonValue }
  | { op: 'remove'; path: string[] }
  | { op: 'move' | 'copy'; path: string[]; from: string[] };

function badPatch(message: string): ApiError {
  return new ApiError(400, 'BadRequest', `invalid JSON patch: ${message}`);
}

function notApplicable(message: string): ApiError {
  return new ApiError(422, 'Invalid', `the JSON patch does not apply: ${message}`);
}

function parsePointer(pointer: JsonValue | undefined, field: string): string[] {
  if (typeof pointer !== 'string') throw badPatch(`"${field}" must be a string`);
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw badPatch(`"${field}" must start with "/": ${pointer}`);
  return pointer
    .slice(1)
    .split('/')
    .map((token) => token.replaceAll('~1', '/').replaceAll('~0', '~'));
}

function parseOps(ops: JsonValue): PatchOp[] {
  if (!Array.isArray(ops)) {
    throw badPatch('the body must be an array of operations (application/json-patch+json)');
  }
  return ops.map((raw, i): PatchOp => {
    if (!isJsonObject(raw)) throw badPatch(`operation ${i} is not an object`);
    const path = parsePointer(raw['path'], 'path');
    const op = raw['op'];
    switch (op) {
      case 'add':
      case 'replace':
      case 'test': {
        const value = raw['value'];
        if (value === undefined) throw badPatch(`operation ${i} (${op}) has no "value"`);
        return { op, path, value };
      }
      case 'remove':
        return { op, path };
      case 'move':
      case 'copy':
        return { op, path, from: parsePointer(raw['from'], 'from') };
      default:
        throw badPatch(`operation ${i} has unknown op ${JSON.stringify(op ?? null)}`);
    }
  });
}

function arrayIndex(arr: JsonValue[], token: string, forInsert: boolean): number {
  if (forInsert && token === '-') return arr.length;
  if (!/^(0|[1-9][0-9]*)$/.test(token)) throw notApplicable(`"${token}" is not an array index`);
  const index = Number(token);
  const max = forInsert ? arr.length : arr.length - 1;
  if (index > max) throw notApplicable(`array index ${index} is out of bounds`);
  return index;
}

function getAt(doc: JsonValue, path: string[]): JsonValue {
  let node = doc;
  for (const token of path) {
    if (Array.isArray(node)) {
      node = node[arrayIndex(node, token, false)] as JsonValue;
    } else if (isJsonObject(node) && Object.hasOwn(node, token)) {
      node = node[token] as JsonValue;
    } else {
      throw notApplicable(`path /${path.join('/')} does not exist`);
    }
  }
  return node;
}

/** Returns the new document: a change at the root replaces the whole value. */
function setAt(doc: JsonValue, path: string[], value: JsonValue, mode: 'add' | 'replace'): JsonValue {
  if (path.length === 0) return value;
  const parent = getAt(doc, path.slice(0, -1));
  const last = path[path.length - 1] as string;
  if (Array.isArray(parent)) {
    const index = arrayIndex(parent, last, mode === 'add');
    if (mode === 'add') parent.splice(index, 0, value);
    else parent[index] = value;
  } else if (isJsonObject(parent)) {
    if (mode === 'replace' && !Object.hasOwn(parent, last)) {
      throw notApplicable(`path /${path.join('/')} does not exist`);
    }
    parent[last] = value;
  } else {
    throw notApplicable(`the parent of /${path.join('/')} is not a container`);
  }
  return doc;
}

function removeAt(doc: JsonValue, path: string[]): JsonValue {
  if (path.length === 0) throw notApplicable('cannot remove the whole document');
  const parent = getAt(doc, path.slice(0, -1));
  const last = path[path.length - 1] as string;
  if (Array.isArray(parent)) {
    parent.splice(arrayIndex(parent, last, false), 1);
  } else if (isJsonObject(parent) && Object.hasOwn(parent, last)) {
    delete parent[last];
  } else {
    throw notApplicable(`path /${path.join('/')} does not exist`);
  }
  return doc;
}

/** RFC 6902, applied to a copy; a malformed patch is 400, one that does not apply is 422. */
export function applyJsonPatch(document: JsonValue, patch: JsonValue): JsonValue {
  let doc = cloneJson(document);
  for (const op of parseOps(patch)) {
    switch (op.op) {
      case 'add':
        doc = setAt(doc, op.path, cloneJson(op.value), 'add');
        break;
      case 'replace':
        doc = setAt(doc, op.path, cloneJson(op.value), 'replace');
        break;
      case 'remove':
        doc = removeAt(doc, op.path);
        break;
      case 'test':
        if (!jsonEqual(getAt(doc, op.path), op.value)) {
          throw notApplicable(`test failed at /${op.path.join('/')}`);
        }
        break;
      case 'move': {
        const from = op.from.join('/');
        if (op.path.join('/').startsWith(`${from}/`)) throw notApplicable('cannot move a value into itself');
        const value = getAt(doc, op.from);
        doc = setAt(removeAt(doc, op.from), op.path, value, 'add');
        break;
      }
      case 'copy':
        doc = setAt(doc, op.path, cloneJson(getAt(doc, op.from)), 'add');
        break;
      default: {
        const never: never = op;
        throw badPatch(`unknown operation ${JSON.stringify(never)}`);
      }
    }
  }
  return doc;
}
