// The decision for one request: route -> endpoints -> skip -> authentication -> authorization ->
// response. Pure: everything it touches arrives as arguments. Synchronous methods stay synchronous,
// so an API-key Check allocates no promise.
import type { AllowHook, AuthnResult, Authenticator, RequestContext } from '../authn/authenticator.js';
import type { CompiledPolicy } from '../policy/compiled.js';
import type { PolicyIndex } from '../policy/index.js';
import type { Decision } from './decision.js';
import { EMPTY_PAIRS } from './decision.js';
import { asGatehouseError, type Challenge, GatehouseError } from './errors.js';
import type { HeaderPair, Identity } from './identity.js';
import { NO_CLAIMS, NO_HEADERS } from './identity.js';
import type { CheckInput } from './input.js';
import { allowFor, denyFor, type Mutations } from './respond.js';

export interface PipelineOptions {
  /** Answer for requests no policy selects. */
  readonly onNoPolicy: 'deny' | 'allow';
}

/** What authentication settled on. */
type Outcome =
  | { readonly kind: 'identity'; readonly identity: Identity; readonly mutations: Mutations | undefined; readonly responseHeaders: readonly HeaderPair[] }
  | { readonly kind: 'decided'; readonly decision: Decision }
  | {
      readonly kind: 'unauthenticated';
      readonly failure: GatehouseError | undefined;
      readonly method: string | undefined;
      /** Some credential was presented (mode all, partly): never fall back to anonymous. */
      readonly presented: boolean;
    };

type Maybe<T> = T | Promise<T>;

function isPromise<T>(v: Maybe<T>): v is Promise<T> {
  return typeof (v as { then?: unknown } | null)?.then === 'function';
}

export class Pipeline {
  readonly #options: PipelineOptions;

  constructor(options: PipelineOptions) {
    this.#options = options;
  }

  /** `index` undefined means the sources have not synced yet: fail closed. */
  decide(index: PolicyIndex | undefined, input: CheckInput, now: number): Maybe<Decision> {
    if (index === undefined) return denyFor(new GatehouseError('not_ready', 'unavailable', 'policies not loaded yet'), undefined, undefined);
    const policy = index.lookup(input.host, input.path, input.method);
    if (policy === undefined) {
      if (this.#options.onNoPolicy === 'allow') return must(allowFor('default_allow', undefined, undefined, index.identityHeaders, undefined, EMPTY_PAIRS));
      return denyFor(new GatehouseError('no_policy', 'forbidden', `no policy for ${input.host}${input.path}`), undefined, undefined);
    }
    if (policy.broken !== undefined) {
      return denyFor(new GatehouseError('policy_invalid', 'unavailable', `policy ${policy.id} is invalid: ${policy.broken}`), policy, undefined);
    }
    const ctx: RequestContext = { now, policy: policy.id };
    try {
      for (const endpoint of policy.endpoints) {
        const handled = endpoint.handle(input, ctx);
        if (handled !== undefined) return isPromise(handled) ? handled.catch((e: unknown) => this.#failed(e, policy, index)) : handled;
      }
      if (skipped(policy, input)) return must(allowFor('skipped', policy, undefined, index.identityHeaders, undefined, EMPTY_PAIRS));
      const outcome = authenticate(policy, input, ctx);
      if (isPromise(outcome)) {
        return outcome.then((o) => this.#afterAuthn(o, policy, index, input, ctx)).catch((e: unknown) => this.#failed(e, policy, index));
      }
      const decision = this.#afterAuthn(outcome, policy, index, input, ctx);
      return isPromise(decision) ? decision.catch((e: unknown) => this.#failed(e, policy, index)) : decision;
    } catch (e) {
      return this.#failed(e, policy, index);
    }
  }

  #afterAuthn(outcome: Outcome, policy: CompiledPolicy, index: PolicyIndex, input: CheckInput, ctx: RequestContext): Maybe<Decision> {
    switch (outcome.kind) {
      case 'decided':
        return outcome.decision;
      case 'unauthenticated':
        return unauthenticated(outcome, policy, index, input, ctx);
      case 'identity':
        return authorize(outcome.identity, outcome.mutations, outcome.responseHeaders, policy, index, input, ctx);
      default: {
        const never: never = outcome;
        throw new Error(`unknown outcome ${JSON.stringify(never)}`);
      }
    }
  }

  #failed(e: unknown, policy: CompiledPolicy, index: PolicyIndex): Decision {
    const error = asGatehouseError(e);
    if (policy.failOpen && (error.kind === 'unavailable' || error.kind === 'internal')) {
      return must(allowFor('fail_open', policy, undefined, index.identityHeaders, undefined, EMPTY_PAIRS));
    }
    return denyFor(error, policy, undefined);
  }
}

const CREDENTIAL_MISSING = new GatehouseError('credential_missing', 'unauthenticated', 'no credential presented', {
  publicMessage: 'No credentials found in request',
});

function must<T>(v: T | undefined): T {
  if (v === undefined) throw new GatehouseError('identity_header_invalid', 'internal', 'unexpected invalid header');
  return v;
}

function skipped(policy: CompiledPolicy, input: CheckInput): boolean {
  for (const rule of policy.skip) {
    if (rule.methods !== undefined && !rule.methods.has(input.method)) continue;
    if (rule.paths !== undefined && !rule.paths.some((p) => input.path.startsWith(p))) continue;
    return true;
  }
  return false;
}

/** Feeds method results one by one; settles as soon as the mode allows. */
class AuthState {
  readonly #policy: CompiledPolicy;
  #firstFailure: { error: GatehouseError; method: string } | undefined;
  #missing: string | undefined;
  readonly #identities: { identity: Identity; mutations: Mutations; responseHeaders: readonly HeaderPair[] }[] = [];

  constructor(policy: CompiledPolicy) {
    this.#policy = policy;
  }

  feed(a: Authenticator, r: AuthnResult): Outcome | undefined {
    switch (r.kind) {
      case 'respond':
        return { kind: 'decided', decision: r.decision };
      case 'success': {
        const entry = { identity: r.identity, mutations: r, responseHeaders: r.responseHeaders ?? EMPTY_PAIRS };
        if (this.#policy.mode === 'any') return { kind: 'identity', ...entry };
        this.#identities.push(entry);
        return undefined;
      }
      case 'failure':
        this.#firstFailure ??= { error: r.error, method: a.name };
        return this.#policy.mode === 'all' ? this.end() : undefined;
      case 'none':
        this.#missing ??= a.name;
        return this.#policy.mode === 'all' ? this.end() : undefined;
      default: {
        const never: never = r;
        throw new Error(`unknown result ${JSON.stringify(never)}`);
      }
    }
  }

  end(): Outcome {
    const ids = this.#identities;
    if (this.#policy.mode === 'all' && this.#firstFailure === undefined && this.#missing === undefined && ids.length > 0) {
      return merge(ids);
    }
    return {
      kind: 'unauthenticated',
      failure: this.#firstFailure?.error,
      method: this.#firstFailure?.method ?? this.#missing,
      presented: this.#firstFailure !== undefined || ids.length > 0,
    };
  }
}

function authenticate(policy: CompiledPolicy, input: CheckInput, ctx: RequestContext): Maybe<Outcome> {
  const state = new AuthState(policy);
  const list = policy.authenticators;
  for (let i = 0; i < list.length; i++) {
    const a = list[i] as Authenticator;
    const r = a.authenticate(input, ctx);
    if (isPromise(r)) return continueAsync(state, list, i, r, input, ctx);
    const done = state.feed(a, r);
    if (done !== undefined) return done;
  }
  return state.end();
}

async function continueAsync(
  state: AuthState,
  list: readonly Authenticator[],
  start: number,
  pending: Promise<AuthnResult>,
  input: CheckInput,
  ctx: RequestContext,
): Promise<Outcome> {
  let r = await pending;
  for (let i = start; i < list.length; i++) {
    const a = list[i] as Authenticator;
    if (i > start) r = await a.authenticate(input, ctx);
    const done = state.feed(a, r);
    if (done !== undefined) return done;
  }
  return state.end();
}

/** `mode: all`: the first identity is the consumer; groups and headers of all are combined. */
function merge(ids: readonly { identity: Identity; mutations: Mutations; responseHeaders: readonly HeaderPair[] }[]): Outcome {
  const first = ids[0];
  if (first === undefined) throw new Error('merge of no identity');
  const groups = new Set<string>();
  const headers: HeaderPair[] = [];
  const removeHeaders: string[] = [];
  const removeQuery: string[] = [];
  const setHeaders: HeaderPair[] = [];
  const responseHeaders: HeaderPair[] = [];
  for (const { identity, mutations, responseHeaders: rh } of ids) {
    for (const g of identity.groups) groups.add(g);
    headers.push(...identity.headers);
    removeHeaders.push(...(mutations.removeHeaders ?? []));
    removeQuery.push(...(mutations.removeQuery ?? []));
    setHeaders.push(...(mutations.setHeaders ?? []));
    responseHeaders.push(...rh);
  }
  return {
    kind: 'identity',
    identity: { ...first.identity, groups: [...groups], headers },
    mutations: { removeHeaders, removeQuery, setHeaders },
    responseHeaders,
  };
}

function unauthenticated(
  outcome: Extract<Outcome, { kind: 'unauthenticated' }>,
  policy: CompiledPolicy,
  index: PolicyIndex,
  input: CheckInput,
  ctx: RequestContext,
): Maybe<Decision> {
  const challenges: Challenge[] = [];
  for (const a of policy.authenticators) if (a.challenge !== undefined) challenges.push({ scheme: a.challenge });
  if (outcome.failure !== undefined) return denyFor(outcome.failure, policy, outcome.method, challenges);
  const anon = policy.anonymous;
  if (anon !== undefined && !outcome.presented) {
    const identity: Identity = {
      method: 'anonymous',
      consumerId: anon.id,
      username: anon.username,
      customId: anon.customId,
      credential: undefined,
      groups: anon.groups,
      anonymous: true,
      claims: NO_CLAIMS,
      headers: NO_HEADERS,
    };
    return authorize(identity, undefined, EMPTY_PAIRS, policy, index, input, ctx);
  }
  if (!outcome.presented) {
    for (const a of policy.authenticators) {
      const answer = a.unauthenticated?.(input, ctx);
      if (answer !== undefined) return answer;
    }
  }
  return denyFor(
    CREDENTIAL_MISSING,
    policy,
    outcome.presented ? outcome.method : undefined,
    challenges,
  );
}

function authorize(
  identity: Identity,
  mutations: Mutations | undefined,
  responseHeaders: readonly HeaderPair[],
  policy: CompiledPolicy,
  index: PolicyIndex,
  input: CheckInput,
  ctx: RequestContext,
): Maybe<Decision> {
  for (const rule of policy.rules) {
    const error = rule.check(identity);
    if (error !== undefined) return denyFor(error, policy, identity.method);
  }
  const code = identity.anonymous ? 'anonymous' : 'authenticated';
  if (policy.hooks.length === 0 || identity.anonymous) return finish(code, policy, identity, index, mutations, responseHeaders);
  return runHooks(code, policy, identity, index, input, ctx, mutations, responseHeaders);
}

/** Allow hooks (session creation); stays synchronous while every hook answers synchronously. */
function runHooks(
  code: string,
  policy: CompiledPolicy,
  identity: Identity,
  index: PolicyIndex,
  input: CheckInput,
  ctx: RequestContext,
  mutations: Mutations | undefined,
  responseHeaders: readonly HeaderPair[],
): Maybe<Decision> {
  let all: HeaderPair[] | undefined;
  const hooks = policy.hooks;
  for (let i = 0; i < hooks.length; i++) {
    const r = (hooks[i] as AllowHook).onAllow(input, identity, ctx);
    if (isPromise(r)) return hooksAsync(code, policy, identity, index, input, ctx, mutations, [...(all ?? responseHeaders)], i, r);
    if (r.length > 0) (all ??= [...responseHeaders]).push(...r);
  }
  return finish(code, policy, identity, index, mutations, all ?? responseHeaders);
}

async function hooksAsync(
  code: string,
  policy: CompiledPolicy,
  identity: Identity,
  index: PolicyIndex,
  input: CheckInput,
  ctx: RequestContext,
  mutations: Mutations | undefined,
  all: HeaderPair[],
  start: number,
  pending: Promise<readonly HeaderPair[]>,
): Promise<Decision> {
  all.push(...(await pending));
  for (let i = start + 1; i < policy.hooks.length; i++) all.push(...(await (policy.hooks[i] as AllowHook).onAllow(input, identity, ctx)));
  return finish(code, policy, identity, index, mutations, all);
}

function finish(
  code: string,
  policy: CompiledPolicy,
  identity: Identity,
  index: PolicyIndex,
  mutations: Mutations | undefined,
  responseHeaders: readonly HeaderPair[],
): Decision {
  const allow = allowFor(code, policy, identity, index.identityHeaders, mutations, responseHeaders);
  if (allow !== undefined) return allow;
  return denyFor(
    new GatehouseError('identity_header_invalid', 'internal', `identity of ${identity.consumerId} cannot be sent as a header`),
    policy,
    identity.method,
  );
}
