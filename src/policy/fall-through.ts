// Where a request could fall through to a more permissive policy than the one its host or path
// names: a policy whose unlisted methods fall through (`otherMethods: fallThrough`), or a host whose
// policies leave paths uncovered so that a wildcard or catch-all policy answers them. Reported as
// warnings (status message, `gatehouse validate`), never changed: both can be what the author wants.
import { HTTP_METHODS } from '../config/schema-common.js';
import type { CompiledPolicy } from '../core/ports.js';
import type { PolicyIndex, RouteQuery } from './index.js';
import type { Problem } from '../config/problems.js';

export interface FallThrough {
  /** The policy whose requests can fall through. */
  readonly policy: string;
  readonly problem: Problem;
}

/** Admits a request without a credential: an anonymous consumer it does not refuse, or skip rules. */
export function permissive(p: CompiledPolicy): boolean {
  return (p.anonymous !== undefined && !p.rules.some((r) => r.name === 'allowAnonymous')) || p.skip.length > 0;
}

function probe(host: string, path: string, method: string): RouteQuery {
  return { host, method, pathVariant: () => path };
}

/** A host name the table answers for: itself, one label under a wildcard, anything for `*`. */
function sampleHost(key: string): string {
  if (key === '*') return 'unlisted.invalid';
  return key.startsWith('*.') ? `any${key.slice(1)}` : key;
}

export function findFallThroughs(index: PolicyIndex): FallThrough[] {
  const out: FallThrough[] = [];
  for (const [key, table] of index.hostTables()) {
    const host = sampleHost(key);
    let coversRoot = false;
    for (const [prefix, slot] of table.slots()) {
      if (prefix === '/') coversRoot = true;
      if (!slot.fallThrough || slot.methods === undefined) continue;
      const covered = slot.methods;
      const method = HTTP_METHODS.find((m) => !covered.has(m)) ?? 'PROPFIND';
      const target = index.lookup(probe(host, prefix, method));
      if (target === undefined || !('id' in target) || !permissive(target)) continue;
      for (const p of slot.policies) {
        if (permissive(p)) continue;
        out.push({
          policy: p.id,
          problem: {
            path: 'spec.otherMethods',
            severity: 'warning',
            reason: 'FallThrough',
            message: `${method} ${key}${prefix} falls through to ${target.id}, which admits requests without credentials`,
          },
        });
      }
    }
    if (coversRoot || key === '*') continue;
    const target = index.lookup(probe(host, '/', 'GET'));
    if (target === undefined || !('id' in target) || !permissive(target)) continue;
    const seen = new Set<string>();
    for (const [, slot] of table.slots()) {
      for (const p of slot.policies) {
        if (permissive(p) || seen.has(p.id)) continue;
        seen.add(p.id);
        out.push({
          policy: p.id,
          problem: {
            path: 'spec.paths',
            severity: 'warning',
            reason: 'FallThrough',
            message: `requests to ${key} outside ${p.paths.join(', ')} go to ${target.id}, which admits requests without credentials`,
          },
        });
      }
    }
  }
  return out;
}
