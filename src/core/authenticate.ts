// The authentication phase: every method of the policy, in order, until the mode can conclude.
// Two rules keep a partial or bad credential from ever passing:
// - a credential that is presented must be accepted: a method that rejects it makes the request a
//   401, unless another method reading the same place accepted it (two issuers' tokens in one
//   `Authorization` header), even when another credential already succeeded (`mode: any`);
// - "nothing presented" (the anonymous consumer, a login redirect) is concluded only after every
//   method has looked for its credential.
// Synchronous methods keep the phase synchronous, so an API-key Check allocates no promise.
import type { AuthnResult, Authenticator, RequestContext } from './ports.js';
import type { CompiledPolicy } from './ports.js';
import type { Decision } from './decision.js';
import { EMPTY_PAIRS } from './decision.js';
import type { GatehouseError } from './errors.js';
import type { HeaderPair, Identity } from './identity.js';
import type { CheckInput } from './input.js';
import type { Mutations } from './respond.js';
import type { TraceSink } from './trace.js';

export type Maybe<T> = T | Promise<T>;

export function isPromise<T>(v: Maybe<T>): v is Promise<T> {
  return typeof (v as { then?: unknown } | null)?.then === 'function';
}

interface Accepted {
  readonly identity: Identity;
  readonly mutations: Mutations;
  readonly responseHeaders: readonly HeaderPair[];
}

/** What authentication settled on. */
export type Outcome =
  | ({ readonly kind: 'identity' } & Accepted)
  | { readonly kind: 'decided'; readonly decision: Decision }
  | {
      readonly kind: 'unauthenticated';
      readonly failure: GatehouseError | undefined;
      readonly method: string | undefined;
      /** Some credential was presented: never the anonymous consumer, never a login redirect. */
      readonly presented: boolean;
    };

const NOTHING_PRESENTED: Outcome = Object.freeze({ kind: 'unauthenticated', failure: undefined, method: undefined, presented: false });

/** Feeds method results one by one; settles as soon as the mode allows. */
class AuthState {
  readonly #policy: CompiledPolicy;
  readonly #input: CheckInput;
  /** Successes, in method order. */
  readonly #accepted: Accepted[] = [];
  /** Locations whose credential some method accepted (a list: one or two, never worth a Set per Check). */
  #acceptedAt: string[] | undefined;
  /** Rejections not yet forgiven by another method accepting the same location. */
  #rejected: { error: GatehouseError; method: string; at: string | undefined }[] | undefined;
  /** `mode: all`: the first method that found no credential. */
  #missing: string | undefined;

  constructor(policy: CompiledPolicy, input: CheckInput) {
    this.#policy = policy;
    this.#input = input;
  }

  /** `mode: any` once something succeeded: a method whose credential is absent or already accepted has nothing to add. */
  skip(a: Authenticator): boolean {
    if (this.#policy.mode !== 'any' || this.#accepted.length === 0) return false;
    const at = a.presented(this.#input);
    return at === undefined || this.#acceptedAt?.includes(at) === true;
  }

  feed(a: Authenticator, r: AuthnResult): Outcome | undefined {
    switch (r.kind) {
      case 'respond':
        return { kind: 'decided', decision: r.decision };
      case 'success': {
        this.#accepted.push({ identity: r.identity, mutations: r, responseHeaders: r.responseHeaders ?? EMPTY_PAIRS });
        const at = a.presented(this.#input);
        if (at !== undefined && this.#acceptedAt?.includes(at) !== true) (this.#acceptedAt ??= []).push(at);
        return undefined;
      }
      case 'failure':
        if (this.#policy.mode === 'all') return { kind: 'unauthenticated', failure: r.error, method: a.name, presented: true };
        (this.#rejected ??= []).push({ error: r.error, method: a.name, at: a.presented(this.#input) });
        return undefined;
      case 'none':
        if (this.#policy.mode === 'all') this.#missing ??= a.name;
        return undefined;
      default: {
        const never: never = r;
        throw new Error(`unknown result ${JSON.stringify(never)}`);
      }
    }
  }

  /** `mode: all` after a method found nothing: the request is refused; was anything presented? */
  get settledMissing(): boolean {
    return this.#missing !== undefined;
  }

  end(rest: readonly Authenticator[]): Outcome {
    const accepted = this.#accepted;
    if (this.#policy.mode === 'all') {
      if (this.#missing === undefined) return accepted.length === 0 ? NOTHING_PRESENTED : merge(accepted);
      const presented = accepted.length > 0 || rest.some((a) => a.presented(this.#input) !== undefined);
      return presented ? { kind: 'unauthenticated', failure: undefined, method: this.#missing, presented } : NOTHING_PRESENTED;
    }
    const open = this.#rejected?.find((r) => r.at === undefined || this.#acceptedAt?.includes(r.at) !== true);
    if (open !== undefined) return { kind: 'unauthenticated', failure: open.error, method: open.method, presented: true };
    const first = accepted[0];
    if (first === undefined) return NOTHING_PRESENTED;
    // Every accepted credential is hidden as its method says; the first method's consumer is the one.
    return accepted.length === 1 ? { kind: 'identity', ...first } : combine(accepted, first.identity);
  }
}

export function authenticate(policy: CompiledPolicy, input: CheckInput, ctx: RequestContext, trace?: TraceSink): Maybe<Outcome> {
  const list = policy.authenticators;
  // `mode: any`, untraced: while at most one method has found a credential (and accepted it), that
  // method's result is the outcome, and the bookkeeping for several (about 0.5 kB a Check) is not
  // needed. A session policy is the usual case: the session, then the method that logs in, whose
  // credential is absent. Traced Checks take the general path.
  if (policy.mode === 'any' && trace === undefined) return authenticateAny(policy, list, input, ctx);
  return authenticateFrom(new AuthState(policy, input), list, 0, input, ctx, trace);
}

/** Every method from `start` on, fed into `state`. */
function authenticateFrom(state: AuthState, list: readonly Authenticator[], start: number, input: CheckInput, ctx: RequestContext, trace: TraceSink | undefined): Maybe<Outcome> {
  for (let i = start; i < list.length; i++) {
    const a = list[i] as Authenticator;
    if (state.skip(a)) {
      trace?.method(a, a.presented(input), 'skipped');
      continue;
    }
    const r = a.authenticate(input, ctx);
    if (isPromise(r)) return continueAsync(state, list, i, r, input, ctx, trace);
    trace?.method(a, a.presented(input), r);
    const done = state.feed(a, r);
    if (done !== undefined) return notRun(done, list, i + 1, input, trace);
    // `mode: all` is refused once a method finds nothing; the rest only tell whether anything was sent.
    if (state.settledMissing) return notRun(state.end(list.slice(i + 1)), list, i + 1, input, trace);
  }
  return state.end([]);
}

/**
 * `mode: any` without a trace. Methods that find nothing add nothing to the outcome, and after one
 * success a method whose credential is absent, or in the place already accepted, is skipped (as
 * AuthState.skip does). Anything else (a rejection, a second credential elsewhere, a method that
 * answers later) hands what was seen so far to the general path.
 */
function authenticateAny(policy: CompiledPolicy, list: readonly Authenticator[], input: CheckInput, ctx: RequestContext): Maybe<Outcome> {
  let found: Authenticator | undefined;
  let success: AuthnResult | undefined;
  let foundAt: string | undefined;
  let located = false;
  for (let i = 0; i < list.length; i++) {
    const a = list[i] as Authenticator;
    if (found !== undefined) {
      const at = a.presented(input);
      if (at === undefined) continue;
      // Where the accepted credential was: asked only now, as a method alone never needs it.
      if (!located) {
        foundAt = found.presented(input);
        located = true;
      }
      if (at === foundAt) continue;
      const state = new AuthState(policy, input);
      if (success !== undefined) state.feed(found, success);
      return authenticateFrom(state, list, i, input, ctx, undefined);
    }
    // Nothing accepted yet: the methods before this one found nothing.
    const r = a.authenticate(input, ctx);
    if (isPromise(r)) {
      // One method alone settles on its result, as below.
      if (list.length === 1) return r.then((settled) => onlyOutcome(a, settled));
      return continueAsync(new AuthState(policy, input), list, i, r, input, ctx, undefined);
    }
    if (r.kind === 'none') continue;
    if (r.kind !== 'success') {
      if (r.kind === 'respond' || list.length === 1) return onlyOutcome(a, r);
      const state = new AuthState(policy, input);
      const done = state.feed(a, r);
      return done ?? authenticateFrom(state, list, i + 1, input, ctx, undefined);
    }
    found = a;
    success = r;
  }
  return found === undefined || success === undefined ? NOTHING_PRESENTED : onlyOutcome(found, success);
}

async function continueAsync(
  state: AuthState,
  list: readonly Authenticator[],
  start: number,
  pending: Promise<AuthnResult>,
  input: CheckInput,
  ctx: RequestContext,
  trace: TraceSink | undefined,
): Promise<Outcome> {
  const first = list[start] as Authenticator;
  const r = await pending;
  trace?.method(first, first.presented(input), r);
  const done = state.feed(first, r);
  if (done !== undefined) return notRun(done, list, start + 1, input, trace);
  if (state.settledMissing) return notRun(state.end(list.slice(start + 1)), list, start + 1, input, trace);
  for (let i = start + 1; i < list.length; i++) {
    const a = list[i] as Authenticator;
    if (state.skip(a)) {
      trace?.method(a, a.presented(input), 'skipped');
      continue;
    }
    const next = await a.authenticate(input, ctx);
    trace?.method(a, a.presented(input), next);
    const settled = state.feed(a, next);
    if (settled !== undefined) return notRun(settled, list, i + 1, input, trace);
    if (state.settledMissing) return notRun(state.end(list.slice(i + 1)), list, i + 1, input, trace);
  }
  return state.end([]);
}

/** What AuthState settles on for the one method of a `mode: any` policy. */
function onlyOutcome(a: Authenticator, r: AuthnResult): Outcome {
  switch (r.kind) {
    case 'respond':
      return { kind: 'decided', decision: r.decision };
    case 'success':
      return { kind: 'identity', identity: r.identity, mutations: r, responseHeaders: r.responseHeaders ?? EMPTY_PAIRS };
    case 'failure':
      return { kind: 'unauthenticated', failure: r.error, method: a.name, presented: true };
    case 'none':
      return NOTHING_PRESENTED;
    default: {
      const never: never = r;
      throw new Error(`unknown result ${JSON.stringify(never)}`);
    }
  }
}

/** The methods after `from` were not asked: the outcome was settled before them. */
function notRun(outcome: Outcome, list: readonly Authenticator[], from: number, input: CheckInput, trace: TraceSink | undefined): Outcome {
  if (trace !== undefined) for (let i = from; i < list.length; i++) trace.method(list[i] as Authenticator, (list[i] as Authenticator).presented(input), 'not_run');
  return outcome;
}

/** `mode: all`: the first identity is the consumer; groups and headers of all are combined. */
function merge(ids: readonly Accepted[]): Outcome {
  const first = ids[0];
  if (first === undefined) throw new Error('merge of no identity');
  const groups = new Set<string>();
  const headers: HeaderPair[] = [];
  for (const { identity } of ids) {
    for (const g of identity.groups) groups.add(g);
    headers.push(...identity.headers);
  }
  // Field by field: an identity may be a class reading its fields through getters (API keys).
  const { method, consumerId, username, customId, credential, anonymous, claims } = first.identity;
  // Made for this Check alone: transient, so nothing derived from it is kept past the Check.
  return combine(ids, { method, consumerId, username, customId, credential, anonymous, claims, groups: [...groups], headers, transient: true });
}

/** One identity with the credential hiding and response headers of every accepted method. */
function combine(ids: readonly Accepted[], identity: Identity): Outcome {
  const removeHeaders: string[] = [];
  const removeQuery: string[] = [];
  const removeCookies: string[] = [];
  const responseHeaders: HeaderPair[] = [];
  for (const { mutations, responseHeaders: rh } of ids) {
    removeHeaders.push(...(mutations.removeHeaders ?? []));
    removeQuery.push(...(mutations.removeQuery ?? []));
    removeCookies.push(...(mutations.removeCookies ?? []));
    responseHeaders.push(...rh);
  }
  return { kind: 'identity', identity, mutations: { removeHeaders, removeQuery, removeCookies }, responseHeaders };
}
