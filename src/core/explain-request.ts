// A request described in data (the admin endpoint's JSON, a test file's YAML, explain's flags) -> what a
// transport would hand the core. Every problem names its field; nothing is guessed.
import type { CheckInputInit } from './input.js';

export interface DescribedRequest {
  readonly method?: unknown;
  readonly scheme?: unknown;
  readonly host?: unknown;
  readonly path?: unknown;
  /** `{name: value}`; a list value is a repeated header. */
  readonly headers?: unknown;
  /** `{name: value}`, sent as one `Cookie` header after any in `headers`. */
  readonly cookies?: unknown;
  /** A form body (logout by `postArg`). */
  readonly body?: unknown;
}

export type ReadRequest = { readonly ok: true; readonly init: CheckInputInit } | { readonly ok: false; readonly problems: readonly string[] };

export const REQUEST_FIELDS: readonly string[] = ['method', 'scheme', 'host', 'path', 'headers', 'cookies', 'body'];

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const BAD_VALUE = /[\u0000\r\n]/;
const MAX_TEXT = 65536;

/** Reads `raw` (an object of REQUEST_FIELDS); `at` prefixes field names in problems (`tests[2].request.`). */
export function readRequest(raw: unknown, at = ''): ReadRequest {
  const problems: string[] = [];
  const problem = (field: string, message: string): void => void problems.push(`${at}${field}: ${message}`);
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { ok: false, problems: [`${at === '' ? 'request' : at.replace(/\.$/, '')}: must be an object`] };
  for (const key of Object.keys(raw)) if (!REQUEST_FIELDS.includes(key)) problem(key, `unknown field (one of ${REQUEST_FIELDS.join(', ')})`);
  const r = raw as DescribedRequest;
  const method = text(r.method, 'GET', 'method', problem);
  if (method !== undefined && !TOKEN.test(method)) problem('method', `"${method}" is not an HTTP method`);
  const scheme = text(r.scheme, 'https', 'scheme', problem);
  if (scheme !== undefined && scheme !== 'http' && scheme !== 'https') problem('scheme', 'must be http or https');
  const host = text(r.host, undefined, 'host', problem);
  if (host === '') problem('host', 'must not be empty');
  const path = text(r.path, '/', 'path', problem);
  const body = r.body === undefined ? undefined : text(r.body, undefined, 'body', problem);
  const headers = new Map<string, string>();
  const add = (name: string, value: string): void => {
    const prev = headers.get(name);
    headers.set(name, prev === undefined ? value : prev + (name === 'cookie' ? '; ' : ',') + value);
  };
  for (const [name, value] of entries(r.headers, 'headers', problem)) {
    const lower = name.toLowerCase();
    if (!TOKEN.test(name)) problem(`headers.${name}`, 'is not a header name');
    for (const v of Array.isArray(value) ? value : [value]) {
      if (typeof v !== 'string') problem(`headers.${name}`, 'must be a string or a list of strings');
      else if (BAD_VALUE.test(v) || v.length > MAX_TEXT) problem(`headers.${name}`, 'must be one line of at most 64 KiB');
      else add(lower, v);
    }
  }
  for (const [name, value] of entries(r.cookies, 'cookies', problem)) {
    if (!TOKEN.test(name)) problem(`cookies.${name}`, 'is not a cookie name');
    else if (typeof value !== 'string' || /[\u0000-\u001f;\u007f]/.test(value)) problem(`cookies.${name}`, 'must be a string without ; or control characters');
    else add('cookie', `${name}=${value}`);
  }
  if (problems.length > 0 || method === undefined || scheme === undefined || host === undefined || path === undefined) return { ok: false, problems };
  return { ok: true, init: { method: method.toUpperCase(), scheme, host, path, headers, peer: '127.0.0.1', body } };
}

function text(v: unknown, fallback: string | undefined, field: string, problem: (field: string, message: string) => void): string | undefined {
  if (v === undefined) {
    if (fallback === undefined) problem(field, 'is required');
    return fallback;
  }
  if (typeof v !== 'string' || BAD_VALUE.test(v) || v.length > MAX_TEXT) {
    problem(field, 'must be one line of text');
    return undefined;
  }
  return v;
}

function entries(v: unknown, field: string, problem: (field: string, message: string) => void): [string, unknown][] {
  if (v === undefined) return [];
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    problem(field, 'must be a mapping of name to value');
    return [];
  }
  return Object.entries(v);
}
