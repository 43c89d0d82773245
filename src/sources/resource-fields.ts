// Field decoding shared by every source that reads Kubernetes-shaped objects (YAML files, the API):
// string maps (labels, annotations) and a Secret's `data`/`stringData`. Every problem names the field.

import { compactSecretData } from '../config/secret-data.js';

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

export type ProblemSink = (path: string, message: string) => void;

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A mapping of strings (absent or null is empty), or undefined after a problem. */
export function stringMap(v: unknown, path: string, problem: ProblemSink): Record<string, string> | undefined {
  if (v === undefined || v === null) return {};
  if (!isObject(v)) return problem(path, 'must be a mapping of strings'), undefined;
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v)) {
    if (typeof val !== 'string') return problem(`${path}.${k}`, 'must be a string'), undefined;
    out[k] = val;
  }
  return out;
}

/** Decoded values of `data` (base64) and `stringData` (plain, wins as on the API server), or undefined after a problem. */
export function decodeSecretData(value: Readonly<Record<string, unknown>>, problem: ProblemSink): ReadonlyMap<string, Buffer> | undefined {
  const data = new Map<string, Buffer>();
  const raw = value.data;
  if (raw !== undefined && raw !== null) {
    if (!isObject(raw)) return problem('data', 'must be a mapping of base64 strings'), undefined;
    for (const [k, v] of Object.entries(raw)) {
      const compact = typeof v === 'string' ? v.replace(/\s/g, '') : undefined;
      if (compact === undefined || !BASE64.test(compact) || compact.length % 4 !== 0) {
        return problem(`data.${k}`, 'must be base64 (use stringData for plain text)'), undefined;
      }
      data.set(k, Buffer.from(compact, 'base64'));
    }
  }
  const str = value.stringData;
  if (str !== undefined && str !== null) {
    if (!isObject(str)) return problem('stringData', 'must be a mapping of strings'), undefined;
    for (const [k, v] of Object.entries(str)) {
      if (typeof v !== 'string') return problem(`stringData.${k}`, 'must be a string'), undefined;
      data.set(k, Buffer.from(v, 'utf8'));
    }
  }
  return compactSecretData(data);
}
