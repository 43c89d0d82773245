// Schema validation of a raw spec: defaults applied, unknown fields refused, every problem with its
// field path. Semantic checks the schema cannot express live in compile.ts.
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { Value, ValueErrorType } from '@sinclair/typebox/value';
import { closest } from '../core/did-you-mean.js';
import { ProblemList, pointerToPath } from '../config/problems.js';
import { AuthPolicySpec } from './schema.js';

const checker = TypeCompiler.Compile(AuthPolicySpec);

export type SpecResult =
  | { readonly ok: true; readonly spec: AuthPolicySpec }
  | { readonly ok: false; readonly problems: ProblemList };

export function validateSpec(raw: unknown): SpecResult {
  const problems = new ProblemList();
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    problems.error('spec', 'must be an object');
    return { ok: false, problems };
  }
  const withDefaults: unknown = Value.Default(AuthPolicySpec, Value.Clone(raw));
  if (checker.Check(withDefaults)) return { ok: true, spec: withDefaults };
  const seen = new Set<string>();
  for (const e of checker.Errors(withDefaults)) {
    const path = pointerToPath(`/spec${e.path}`);
    const message = e.type === ValueErrorType.ObjectAdditionalProperties ? unknownProperty(e.path, e.schema) : describe(e.message, e.schema);
    const key = `${path}\0${message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    problems.error(path, message);
    if (problems.items.length >= 20) break;
  }
  return { ok: false, problems };
}

/** `unknown property; did you mean apiKey?`, or the properties allowed there when none is near. */
function unknownProperty(pointer: string, schema: unknown): string {
  const properties = typeof schema === 'object' && schema !== null && 'properties' in schema ? schema.properties : undefined;
  const allowed = typeof properties === 'object' && properties !== null ? Object.keys(properties) : [];
  const written = (pointer.split('/').pop() ?? '').replace(/~1/g, '/').replace(/~0/g, '~');
  const near = closest(written, allowed);
  if (near !== undefined) return `unknown property; did you mean ${near}?`;
  return allowed.length === 0 ? 'unknown property' : `unknown property; expected one of ${allowed.join(', ')}`;
}

function describe(message: string, schema: unknown): string {
  if (typeof schema === 'object' && schema !== null) {
    const s = schema as { anyOf?: unknown; pattern?: unknown };
    if (Array.isArray(s.anyOf)) {
      const values = s.anyOf.map((b: unknown) => (typeof b === 'object' && b !== null ? (b as { const?: unknown }).const : undefined));
      if (values.every((v) => typeof v === 'string')) return `must be one of ${values.map((v) => JSON.stringify(v)).join(', ')}`;
    }
    if (typeof s.pattern === 'string') return `${message} (${s.pattern})`;
  }
  return message;
}
