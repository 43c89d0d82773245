// What `gatehouse validate` reports: manifests parsed and compiled exactly as serve does, offline.
import { createJwtServices } from '../authn/jwt/services.js';
import type { CompileEnv } from '../policy/compile-context.js';
import { createSessionServices } from '../session/services.js';
import { compilePolicy } from '../policy/compile.js';
import { findFallThroughs } from '../policy/fall-through.js';
import { type IndexEntry, PolicyIndex } from '../policy/index.js';
import { SecretIndex } from '../config/secrets.js';
import { listManifestFiles, loadFiles } from '../sources/files.js';

export interface ValidateReport {
  readonly lines: string[];
  readonly problems: number;
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

function validateWith(paths: readonly string[], env: CompileEnv): ValidateReport {
  const lines: string[] = [];
  let files: string[];
  try {
    files = listManifestFiles(paths);
  } catch (e) {
    return { lines: [`${(e as Error).message}`], problems: 1, policies: 0, secrets: 0 };
  }
  const loaded = loadFiles(files);
  for (const p of loaded.problems) lines.push(`${p.file}#${p.doc}: ${p.path === '' ? '' : `${p.path}: `}${p.message}`);
  const secrets = new SecretIndex();
  for (const s of loaded.secrets) secrets.put(s);
  const entries: IndexEntry[] = [];
  const origins = new Map<string, string>();
  for (const policy of loaded.policies) {
    origins.set(`${policy.namespace}/${policy.name}`, policy.origin);
    const result = compilePolicy(policy, secrets, env);
    for (const p of result.problems) lines.push(`${policy.origin}: ${p.path}: ${p.severity === 'warning' ? 'warning: ' : ''}${p.message}`);
    if (result.ok) entries.push({ policy: result.policy, createdAt: policy.creationTimestamp });
  }
  const index = new PolicyIndex(entries);
  for (const c of index.conflicts) {
    lines.push(`${origins.get(c.loser) ?? c.loser}: spec.hosts: host ${c.host} path ${c.path} is already served by ${c.winner} (${origins.get(c.winner) ?? ''})`);
  }
  for (const f of findFallThroughs(index)) lines.push(`${origins.get(f.policy) ?? f.policy}: ${f.problem.path}: warning: ${f.problem.message}`);
  return { lines, problems: lines.length, policies: loaded.policies.length, secrets: loaded.secrets.length };
}
