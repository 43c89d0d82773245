// Authorization: every rule must pass once a request is authenticated; a failing rule answers 403.
import { GatehouseError } from '../core/errors.js';
import type { Rule } from '../core/ports.js';
import type { Identity } from '../core/identity.js';
import type { ProblemList } from '../config/problems.js';
import { compileClaimRules } from './claims.js';
import type { ClaimRuleSpec } from './claims-schema.js';

export interface AuthorizationSpec {
  readonly groups?: { readonly anyOf?: readonly string[]; readonly allOf?: readonly string[] } | undefined;
  readonly consumers?: readonly string[] | undefined;
  readonly claims?: readonly ClaimRuleSpec[] | undefined;
  readonly allowAnonymous: boolean;
}

/** Every rule of the block, AND-ed; problems (a bad claim rule) are reported under `path`. */
export function compileRules(spec: AuthorizationSpec, problems: ProblemList, path: string): readonly Rule[] {
  const rules: Rule[] = [];
  if (!spec.allowAnonymous) rules.push(noAnonymous);
  const anyOf = spec.groups?.anyOf;
  if (anyOf !== undefined) {
    const wanted = new Set(anyOf);
    rules.push({
      name: 'groups.anyOf',
      check: (id) =>
        id.groups.some((g) => wanted.has(g)) ? undefined : forbidden('group_forbidden', 'no required group'),
    });
  }
  const allOf = spec.groups?.allOf;
  if (allOf !== undefined) {
    rules.push({
      name: 'groups.allOf',
      check: (id) => {
        const have = new Set(id.groups);
        return allOf.every((g) => have.has(g)) ? undefined : forbidden('group_forbidden', 'missing a required group');
      },
    });
  }
  if (spec.consumers !== undefined) {
    const allowed = new Set(spec.consumers);
    rules.push({
      name: 'consumers',
      check: (id) =>
        allowed.has(id.consumerId) || (id.username !== undefined && allowed.has(id.username))
          ? undefined
          : forbidden('consumer_forbidden', 'consumer not allowed'),
    });
  }
  if (spec.claims !== undefined) rules.push(...compileClaimRules(spec.claims, problems, `${path}.claims`));
  return Object.freeze(rules);
}

const noAnonymous: Rule = {
  name: 'allowAnonymous',
  check: (id) => (id.anonymous ? forbidden('anonymous_forbidden', 'anonymous consumer not allowed') : undefined),
};

function forbidden(code: 'anonymous_forbidden' | 'group_forbidden' | 'consumer_forbidden', detail: string): GatehouseError {
  return new GatehouseError(code, detail);
}
