// Policy test files (docs/policy-tests.md): YAML documents of kind AuthPolicyTest, each a list of
// requests with the answer expected. Documents of other kinds are skipped (a test file may sit beside
// the policies, and serve skips test documents the same way). Every problem names file, document and field.
import { readFileSync, statSync } from 'node:fs';
import { isAbsolute, relative } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { API_GROUP, API_VERSION } from '../policy/schema.js';
import { listManifestFiles } from '../sources/files.js';

export const TEST_KIND = 'AuthPolicyTest';

export type Expectation =
  | { readonly kind: 'allow'; readonly consumer?: string | null; readonly code?: string; readonly policy?: string; readonly headers: Readonly<Record<string, string | null>> }
  | { readonly kind: 'deny'; readonly status?: number; readonly code?: string; readonly policy?: string; readonly headers: Readonly<Record<string, string | null>>; readonly body?: string };

export interface TestCase {
  /** `file#doc`: where the test is. */
  readonly origin: string;
  readonly file: string;
  readonly suite: string;
  readonly name: string;
  /** The request as written, credential references in place (resolved by the runner). */
  readonly request: Readonly<Record<string, unknown>>;
  readonly expect: Expectation;
}

export interface TestFileProblem {
  /** `file#doc`, or the path given when it cannot be read. */
  readonly origin: string;
  /** `field: message`. */
  readonly message: string;
}

export interface TestFiles {
  readonly cases: TestCase[];
  readonly problems: TestFileProblem[];
}

const TEST_FIELDS = ['name', 'request', 'expect'];
const ALLOW_FIELDS = ['consumer', 'code', 'policy', 'headers'];
const DENY_FIELDS = ['status', 'code', 'policy', 'headers', 'body'];

/** Every test under the given files and directories (a file named explicitly must hold one). */
export function readTestFiles(paths: readonly string[]): TestFiles {
  const out: TestFiles = { cases: [], problems: [] };
  for (const path of paths) {
    let files: string[];
    try {
      files = listManifestFiles([path]);
    } catch (e) {
      out.problems.push({ origin: path, message: (e as Error).message });
      continue;
    }
    const before = { cases: out.cases.length, problems: out.problems.length };
    for (const file of files) readFile(file, out);
    if (out.cases.length === before.cases && out.problems.length === before.problems) {
      out.problems.push({ origin: path, message: `no ${TEST_KIND} document${statSync(path).isDirectory() ? ' in any file' : ''}` });
    }
  }
  return out;
}

/** A path as the user would write it: relative to the working directory when below it. */
function shown(file: string): string {
  const rel = relative(process.cwd(), file);
  return rel === '' || rel.startsWith('..') || isAbsolute(rel) ? file : rel;
}

function readFile(absolute: string, out: TestFiles): void {
  const file = shown(absolute);
  let text: string;
  try {
    text = readFileSync(absolute, 'utf8');
  } catch (e) {
    out.problems.push({ origin: file, message: `cannot read: ${(e as Error).message}` });
    return;
  }
  parseAllDocuments(text, { uniqueKeys: true }).forEach((doc, i) => {
    const origin = `${file}#${i + 1}`;
    if (doc.errors.length > 0) {
      for (const e of doc.errors) out.problems.push({ origin, message: `YAML: ${e.message.split('\n')[0] ?? e.message}` });
      return;
    }
    const value: unknown = doc.toJS({ maxAliasCount: 100 });
    if (!isObject(value) || value.kind !== TEST_KIND) return;
    const problem = (field: string, message: string): void => void out.problems.push({ origin, message: `${field}: ${message}` });
    if (value.apiVersion !== `${API_GROUP}/${API_VERSION}`) problem('apiVersion', `must be ${API_GROUP}/${API_VERSION}`);
    const meta = value.metadata;
    const suite = isObject(meta) && typeof meta.name === 'string' && meta.name !== '' ? meta.name : '';
    if (suite === '') problem('metadata.name', 'is required');
    if (!Array.isArray(value.tests) || value.tests.length === 0) {
      problem('tests', 'must be a non-empty list');
      return;
    }
    value.tests.forEach((t: unknown, n: number) => {
      const at = `tests[${n}]`;
      if (!isObject(t)) return problem(at, 'must be a mapping');
      for (const k of Object.keys(t)) if (!TEST_FIELDS.includes(k)) problem(`${at}.${k}`, `unknown field (one of ${TEST_FIELDS.join(', ')})`);
      const name = typeof t.name === 'string' && t.name !== '' ? t.name : undefined;
      if (name === undefined) problem(`${at}.name`, 'is required');
      if (!isObject(t.request)) problem(`${at}.request`, 'must be a mapping');
      const expect = expectation(t.expect, `${at}.expect`, problem);
      if (name === undefined || !isObject(t.request) || expect === undefined) return;
      out.cases.push({ origin, file, suite, name, request: t.request, expect });
    });
  });
}

function expectation(raw: unknown, at: string, problem: (field: string, message: string) => void): Expectation | undefined {
  if (!isObject(raw) || ('allow' in raw) === ('deny' in raw)) {
    problem(at, 'must hold exactly one of allow, deny');
    return undefined;
  }
  const kind = 'allow' in raw ? 'allow' : 'deny';
  const body = raw[kind] === true || raw[kind] === null ? {} : raw[kind];
  const field = `${at}.${kind}`;
  if (!isObject(body)) {
    problem(field, 'must be true or a mapping');
    return undefined;
  }
  const allowed = kind === 'allow' ? ALLOW_FIELDS : DENY_FIELDS;
  let ok = true;
  for (const k of Object.keys(body)) {
    if (allowed.includes(k)) continue;
    problem(`${field}.${k}`, `unknown field (one of ${allowed.join(', ')})`);
    ok = false;
  }
  const str = (k: string): string | undefined => {
    const v = body[k];
    if (v === undefined || typeof v === 'string') return v;
    problem(`${field}.${k}`, 'must be a string');
    ok = false;
    return undefined;
  };
  const headers: Record<string, string | null> = {};
  if (body.headers !== undefined) {
    if (!isObject(body.headers)) {
      problem(`${field}.headers`, 'must be a mapping of header name to value (null: not set)');
      ok = false;
    } else {
      for (const [name, v] of Object.entries(body.headers)) {
        if (typeof v === 'string' || v === null) headers[name.toLowerCase()] = v;
        else {
          problem(`${field}.headers.${name}`, 'must be a string, or null for a header that must not be set');
          ok = false;
        }
      }
    }
  }
  const code = str('code');
  const policy = str('policy');
  if (kind === 'allow') {
    const consumer = body.consumer;
    if (consumer !== undefined && consumer !== null && typeof consumer !== 'string') {
      problem(`${field}.consumer`, 'must be a consumer id, or null for no identity');
      return undefined;
    }
    return ok ? { kind, headers, ...(consumer === undefined ? {} : { consumer }), ...opt('code', code), ...opt('policy', policy) } : undefined;
  }
  const status = body.status;
  if (status !== undefined && (typeof status !== 'number' || !Number.isInteger(status) || status < 200 || status > 599)) {
    problem(`${field}.status`, 'must be an HTTP status (200-599)');
    return undefined;
  }
  const text = str('body');
  return ok ? { kind, headers, ...opt('status', status), ...opt('code', code), ...opt('policy', policy), ...opt('body', text) } : undefined;
}

function opt<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
