// Routing as the pipeline sees it: a request asks a lookup for its policy and gets the policy, a
// method refusal (the most specific path does not cover the method) or nothing.
import type { Deny } from './decision.js';
import { GatehouseError } from './errors.js';
import type { CompiledPolicy } from './ports.js';
import { denyFor } from './respond.js';
import type { RouteTrace } from './trace.js';

/** What routing needs of a request; CheckInput provides it. */
export interface RouteQuery {
  readonly host: string;
  readonly method: string;
  /** The normalized path as a policy with these matching options compares it (see CheckInput). */
  pathVariant(options: number): string;
}

/** The most specific route matched but none of its policies covers the method. */
export class MethodNotAllowed {
  readonly policy: CompiledPolicy;
  readonly deny: Deny;

  constructor(policies: readonly CompiledPolicy[], methods: ReadonlySet<string>) {
    const first = policies[0];
    if (first === undefined) throw new Error('MethodNotAllowed of no policy');
    this.policy = first;
    const allow = [...methods].sort().join(', ');
    const d = denyFor(new GatehouseError('method_not_allowed', `no policy at this path covers the method (allowed: ${allow})`), first, undefined);
    this.deny = Object.freeze({ ...d, headers: Object.freeze([...d.headers, { name: 'allow', value: allow }]) });
  }
}

export type Route = CompiledPolicy | MethodNotAllowed | undefined;

/** What the pipeline routes with; policy/index.ts implements it. */
export interface PolicyLookup {
  /** The enforced policy that decides; `trace` hears every slot looked at (and, then, less specific ones too). */
  lookup(q: RouteQuery, trace?: RouteTrace): Route;
  /** The shadow policies that select the request, routed among themselves; undefined when none does. */
  shadows(q: RouteQuery, trace?: RouteTrace): readonly CompiledPolicy[] | undefined;
  /** Every identity header any policy may set: stripped from every allowed request. */
  readonly identityHeaders: readonly string[];
  /** The same names folded as `lookAlike` folds them. */
  readonly identityLookAlikes: ReadonlySet<string>;
}
