// What `gatehouse validate` reports: manifests parsed and compiled exactly as serve does, offline, each
// problem at its file, line and column; then the warnings only validate gives (validate-lint.ts).
import { createJwtServices } from '../authn/jwt/services.js';
import type { CompileEnv } from '../policy/compile-context.js';
import { createSessionServices } from '../session/services.js';
import { compilePolicy } from '../policy/compile.js';
import { findFallThroughs } from '../policy/fall-through.js';
import { type IndexEntry, PolicyIndex } from '../policy/index.js';
import { SecretIndex } from '../config/secrets.js';
import type { Problem } from '../config/problems.js';
import { listManifestFiles, loadFiles } from '../sources/files.js';
import type { Position } from '../sources/manifests.js';
import { type Compiled, lint } from './validate-lint.js';

export interface ValidateReport {
  /** `file:line:column: field: [warning: ]message`, in the order found. */
  readonly lines: string[];
  /** Errors and warnings. */
  readonly problems: number;
  readonly errors: number;
  readonly warnings: number;
  readonly policies: number;
  readonly secrets: number;
}

export async function validatePaths(paths: readonly string[], clock: () => number = Date.now): Promise<ValidateReport> {
  // Offline: remote key sets are not fetched and Redis is not contacted while validating.
  const jwt = createJwtServices({ jwks: { offline: true } });
  const sessions = createSessionServices({ offline: true });
  try {
    return validateWith(paths, { clock, jwt, sessions });
  } finally {
    await jwt.close();
    await sessions.close();
  }
}

type Severity = Problem['severity'];

function validateWith(paths: readonly string[], env: CompileEnv): ValidateReport {
  const found: { file: string; line: number; text: string }[] = [];
  const counts: Record<Severity, number> = { error: 0, warning: 0 };
  const report = (file: string, position: Position | undefined, path: string, severity: Severity, message: string): void => {
    counts[severity]++;
    const where = position === undefined ? file : `${file}:${position.line}:${position.column}`;
    found.push({ file, line: position?.line ?? 0, text: `${where}: ${path === '' ? '' : `${path}: `}${severity === 'warning' ? 'warning: ' : ''}${message}` });
  };
  let files: string[];
  try {
    files = listManifestFiles(paths);
  } catch (e) {
    return { lines: [`gatehouse validate: ${(e as Error).message}`], problems: 1, errors: 1, warnings: 0, policies: 0, secrets: 0 };
  }
  const loaded = loadFiles(files, { locate: true });
  const at = (origin: string, path: string, severity: Severity, message: string): void =>
    report(origin.slice(0, origin.lastIndexOf('#')), loaded.locate?.(origin, path), path, severity, message);
  for (const p of loaded.problems) report(p.file, p.position, p.path, 'error', p.message);
  const secrets = new SecretIndex();
  for (const s of loaded.secrets) secrets.put(s);
  const entries: IndexEntry[] = [];
  const compiled: Compiled[] = [];
  const origins = new Map<string, string>();
  for (const policy of loaded.policies) {
    origins.set(`${policy.namespace}/${policy.name}`, policy.origin);
    const result = compilePolicy(policy, secrets, env);
    for (const p of result.problems) at(policy.origin, p.path, p.severity, p.message);
    compiled.push({ policy, deps: result.deps });
    if (result.ok) entries.push({ policy: result.policy, createdAt: policy.creationTimestamp });
  }
  const index = new PolicyIndex(entries);
  // Both come from compiled policies, so their origins are known.
  for (const c of index.conflicts) {
    at(origins.get(c.loser) ?? '', 'spec.hosts', 'error', `host ${c.host} path ${c.path} is already served by ${c.winner} (${origins.get(c.winner) ?? ''})`);
  }
  for (const f of findFallThroughs(index)) at(origins.get(f.policy) ?? '', f.problem.path, 'warning', f.problem.message);
  for (const w of lint(compiled, loaded.secrets, secrets)) {
    const path = w.paths.find((p) => loaded.locate?.(w.origin, p)?.exact === true) ?? w.paths[0] ?? '';
    at(w.origin, path, 'warning', w.message);
  }
  // By file (in the order listed), then line; problems of one line keep the order they were found in.
  const order = new Map(files.map((f, i) => [f, i]));
  found.sort((a, b) => (order.get(a.file) ?? files.length) - (order.get(b.file) ?? files.length) || a.line - b.line);
  return {
    lines: found.map((f) => f.text),
    problems: counts.error + counts.warning,
    errors: counts.error,
    warnings: counts.warning,
    policies: loaded.policies.length,
    secrets: loaded.secrets.length,
  };
}
