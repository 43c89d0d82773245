// `authorization.claims`: rules on a verified claim or a consumer field, compiled once. Values keep
// their JSON type: `"true"` never equals `true`. A rule's refusal names the rule and its subject but
// never the value, which may be personal data.
import { claimAt, type ClaimValue } from '../core/claims.js';
import { GatehouseError } from '../core/errors.js';
import type { Identity } from '../core/identity.js';
import type { ProblemList } from '../config/problems.js';
import { CLAIM_OPERATORS, type ClaimRuleSpec, type ConsumerField } from './claims-schema.js';
import { compilePattern, matches } from './pattern.js';
import type { Rule } from '../core/ports.js';

/** What an operator says about a present value. */
type Verdict = 'pass' | 'mismatch' | 'type';

interface Operator {
  readonly name: string;
  /** Only ever called with a present value (neither undefined nor null). */
  test(value: unknown): Verdict;
}

export function compileClaimRules(specs: readonly ClaimRuleSpec[], problems: ProblemList, path: string): Rule[] {
  const rules: Rule[] = [];
  specs.forEach((spec, i) => {
    const at = `${path}[${i}]`;
    const subject = subjectOf(spec, at, problems);
    const operator = operatorOf(spec, at, problems);
    if (subject !== undefined && operator !== undefined) rules.push(claimRule(at, subject, operator));
  });
  return rules;
}

interface Subject {
  /** `claim "email"`, `consumer username`: for logs. */
  readonly label: string;
  read(identity: Identity): unknown;
}

function subjectOf(spec: ClaimRuleSpec, at: string, problems: ProblemList): Subject | undefined {
  const { claim, consumer } = spec;
  if (claim !== undefined && consumer !== undefined) {
    problems.error(at, 'set either claim or consumer, not both');
    return undefined;
  }
  if (claim !== undefined) return { label: `claim ${JSON.stringify(claim)}`, read: (id) => claimAt(id.claims, claim) };
  if (consumer !== undefined) return { label: `consumer ${consumer}`, read: consumerReader(consumer) };
  problems.error(at, 'set claim or consumer: what the rule tests');
  return undefined;
}

function consumerReader(field: ConsumerField): (id: Identity) => unknown {
  switch (field) {
    case 'id':
      return (id) => id.consumerId;
    case 'username':
      return (id) => id.username;
    case 'customId':
      return (id) => id.customId;
    case 'credential':
      return (id) => id.credential;
    case 'groups':
      return (id) => id.groups;
    case 'method':
      return (id) => id.method;
    default: {
      const never: never = field;
      throw new Error(`unknown consumer field ${String(never)}`);
    }
  }
}

function operatorOf(spec: ClaimRuleSpec, at: string, problems: ProblemList): Operator | 'present' | 'absent' | undefined {
  const set = CLAIM_OPERATORS.filter((op) => spec[op] !== undefined);
  if (set.length !== 1) {
    problems.error(at, set.length === 0 ? `set one operator: ${CLAIM_OPERATORS.join(', ')}` : `only one operator may be set, found ${set.join(', ')}`);
    return undefined;
  }
  if (spec.present !== undefined) return spec.present ? 'present' : 'absent';
  if (spec.pattern !== undefined) {
    const compiled = compilePattern(spec.pattern);
    if (!compiled.ok) {
      problems.error(`${at}.pattern`, compiled.problem);
      return undefined;
    }
    const { regex } = compiled;
    return { name: 'pattern', test: (v) => (typeof v !== 'string' ? 'type' : matches(regex, v) ? 'pass' : 'mismatch') };
  }
  if (spec.oneOf !== undefined) {
    const values = scalars(spec.oneOf, (i) => `${at}.oneOf[${i}]`, problems);
    return values === undefined ? undefined : oneOf(values);
  }
  if (spec.contains !== undefined) {
    const list: readonly unknown[] | undefined = Array.isArray(spec.contains) ? spec.contains : undefined;
    if (list !== undefined && (list.length === 0 || list.length > 64)) {
      problems.error(`${at}.contains`, 'give one value or a list of 1 to 64 values');
      return undefined;
    }
    const values = list === undefined ? scalars([spec.contains], () => `${at}.contains`, problems) : scalars(list, (i) => `${at}.contains[${i}]`, problems);
    return values === undefined ? undefined : contains(values);
  }
  const wanted = scalars([spec.equals], () => `${at}.equals`, problems)?.[0];
  return wanted === undefined ? undefined : { name: 'equals', test: (v) => (v === wanted ? 'pass' : typeof v === typeof wanted ? 'mismatch' : 'type') };
}

/** The values as scalars, or undefined after one problem per value that is not one. */
function scalars(values: readonly unknown[], pathOf: (i: number) => string, problems: ProblemList): ClaimValue[] | undefined {
  const out: ClaimValue[] = [];
  values.forEach((v, i) => {
    if (isClaimValue(v)) out.push(v);
    else problems.error(pathOf(i), 'must be a string, number or boolean');
  });
  return out.length === values.length ? out : undefined;
}

function isClaimValue(v: unknown): v is ClaimValue {
  return typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v));
}

function oneOf(values: readonly ClaimValue[]): Operator {
  const allowed = new Set<unknown>(values);
  const types = new Set<string>(values.map((v) => typeof v));
  return { name: 'oneOf', test: (v) => (allowed.has(v) ? 'pass' : types.has(typeof v) ? 'mismatch' : 'type') };
}

// An array must hold every value; a string is read as space-separated words (OAuth `scope`).
function contains(values: readonly ClaimValue[]): Operator {
  return {
    name: 'contains',
    test: (v) => {
      if (Array.isArray(v)) return values.every((w) => v.includes(w)) ? 'pass' : 'mismatch';
      if (typeof v !== 'string') return 'type';
      const words = v.split(/\s+/);
      return values.every((w) => typeof w === 'string' && words.includes(w)) ? 'pass' : 'mismatch';
    },
  };
}

// Refusals are built once per rule: a denied request allocates nothing, and the detail is fixed text.
function claimRule(at: string, subject: Subject, operator: Operator | 'present' | 'absent'): Rule {
  const refuse = (why: string) => new GatehouseError('claim_forbidden', `${at}: ${subject.label} ${why}`);
  const missing = refuse('is missing');
  const read = subject.read;
  if (operator === 'present') return { name: at, check: (id) => (isAbsent(read(id)) ? missing : undefined) };
  if (operator === 'absent') {
    const present = refuse('is present but must be absent');
    return { name: at, check: (id) => (isAbsent(read(id)) ? undefined : present) };
  }
  const mismatch = refuse(`does not satisfy ${operator.name}`);
  const wrongType = refuse(`has the wrong type for ${operator.name}`);
  return {
    name: at,
    check: (id) => {
      const v = read(id);
      if (isAbsent(v)) return missing;
      const verdict = operator.test(v);
      return verdict === 'pass' ? undefined : verdict === 'mismatch' ? mismatch : wrongType;
    },
  };
}

// A null claim counts as absent, as OpenID Connect asks providers to omit claims without a value.
function isAbsent(v: unknown): boolean {
  return v === undefined || v === null;
}
