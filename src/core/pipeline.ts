// The decision for one request: route -> endpoints -> skip -> authentication -> authorization ->
// response. Pure: everything it touches arrives as arguments. Synchronous methods stay synchronous,
// so an API-key Check allocates no promise.
import type { AllowHook, RequestContext } from './ports.js';
import type { CompiledPolicy } from './ports.js';
import { MethodNotAllowed, type PolicyLookup } from './route.js';
import { authenticate, isPromise, type Maybe, type Outcome } from './authenticate.js';
import type { Decision } from './decision.js';
import { EMPTY_PAIRS } from './decision.js';
import { asGatehouseError, type Challenge, GatehouseError } from './errors.js';
import type { HeaderPair, Identity } from './identity.js';
import { NO_CLAIMS, NO_HEADERS } from './identity.js';
import type { CheckInput } from './input.js';
import { matchesPrefix } from './path.js';
import { allowFor, denyFor, type Mutations } from './respond.js';

export interface PipelineOptions {
  /** Answer for requests no policy selects. */
  readonly onNoPolicy: 'deny' | 'allow';
}

const NOT_READY = new GatehouseError('not_ready', 'policies not loaded yet');
const ENCODED_SLASH = new GatehouseError('path_encoded_slash', 'path contains an encoded / or \\');

export class Pipeline {
  readonly #options: PipelineOptions;

  constructor(options: PipelineOptions) {
    this.#options = options;
  }

  /** `index` undefined means the sources have not synced yet: fail closed. */
  decide(index: PolicyLookup | undefined, input: CheckInput, now: number): Maybe<Decision> {
    if (index === undefined) return denyFor(NOT_READY, undefined, undefined);
    const route = index.lookup(input);
    if (route === undefined) {
      if (input.encodedSlash) return denyFor(ENCODED_SLASH, undefined, undefined);
      if (this.#options.onNoPolicy === 'allow') return must(allowFor('default_allow', undefined, undefined, index, input, undefined, EMPTY_PAIRS));
      return denyFor(new GatehouseError('no_policy', `no policy for ${input.host}${input.path}`), undefined, undefined);
    }
    if (route instanceof MethodNotAllowed) return route.deny;
    const policy = route;
    if (policy.broken !== undefined) {
      return denyFor(new GatehouseError('policy_invalid', `policy ${policy.id} is invalid: ${policy.broken}`), policy, undefined);
    }
    if (input.encodedSlash && !policy.allowEncodedSlashes) return denyFor(ENCODED_SLASH, policy, undefined);
    const ctx: RequestContext = { now, policy: policy.id, path: input.pathVariant(policy.pathOptions) };
    try {
      for (const endpoint of policy.endpoints) {
        const handled = endpoint.handle(input, ctx);
        if (handled !== undefined) return isPromise(handled) ? handled.catch((e: unknown) => this.#failed(e, policy, index, input)) : handled;
      }
      if (skipped(policy, input, ctx.path)) return must(allowFor('skipped', policy, undefined, index, input, undefined, EMPTY_PAIRS));
      const outcome = authenticate(policy, input, ctx);
      if (isPromise(outcome)) {
        return outcome.then((o) => this.#afterAuthn(o, policy, index, input, ctx)).catch((e: unknown) => this.#failed(e, policy, index, input));
      }
      const decision = this.#afterAuthn(outcome, policy, index, input, ctx);
      return isPromise(decision) ? decision.catch((e: unknown) => this.#failed(e, policy, index, input)) : decision;
    } catch (e) {
      return this.#failed(e, policy, index, input);
    }
  }

  #afterAuthn(outcome: Outcome, policy: CompiledPolicy, index: PolicyLookup, input: CheckInput, ctx: RequestContext): Maybe<Decision> {
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

  #failed(e: unknown, policy: CompiledPolicy, index: PolicyLookup, input: CheckInput): Decision {
    const error = asGatehouseError(e);
    if (policy.failOpen && (error.kind === 'unavailable' || error.kind === 'internal')) {
      return must(allowFor('fail_open', policy, undefined, index, input, undefined, EMPTY_PAIRS));
    }
    return denyFor(error, policy, undefined);
  }
}

const CREDENTIAL_MISSING = new GatehouseError('credential_missing', 'no credential presented');
const CREDENTIAL_INCOMPLETE = new GatehouseError('credential_missing', 'mode all: a method found no credential while another was presented');

function must<T>(v: T | undefined): T {
  if (v === undefined) throw new GatehouseError('identity_header_invalid', 'unexpected invalid header');
  return v;
}

function skipped(policy: CompiledPolicy, input: CheckInput, path: string): boolean {
  for (const rule of policy.skip) {
    if (rule.methods !== undefined && !rule.methods.has(input.method)) continue;
    if (rule.paths !== undefined && !rule.paths.some((p) => matchesPrefix(path, p))) continue;
    return true;
  }
  return false;
}

function unauthenticated(
  outcome: Extract<Outcome, { kind: 'unauthenticated' }>,
  policy: CompiledPolicy,
  index: PolicyLookup,
  input: CheckInput,
  ctx: RequestContext,
): Maybe<Decision> {
  const challenges: Challenge[] = [];
  for (const a of policy.authenticators) if (a.challenge !== undefined) challenges.push({ scheme: a.challenge });
  if (outcome.failure !== undefined) return denyFor(outcome.failure, policy, outcome.method, challenges);
  if (outcome.presented) return denyFor(CREDENTIAL_INCOMPLETE, policy, outcome.method, challenges);
  const anon = policy.anonymous;
  if (anon !== undefined) {
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
  for (const a of policy.authenticators) {
    const answer = a.unauthenticated?.(input, ctx);
    if (answer !== undefined) return answer;
  }
  return denyFor(CREDENTIAL_MISSING, policy, undefined, challenges);
}

function authorize(
  identity: Identity,
  mutations: Mutations | undefined,
  responseHeaders: readonly HeaderPair[],
  policy: CompiledPolicy,
  index: PolicyLookup,
  input: CheckInput,
  ctx: RequestContext,
): Maybe<Decision> {
  for (const rule of policy.rules) {
    const error = rule.check(identity);
    if (error !== undefined) return denyFor(error, policy, identity.method);
  }
  const code = identity.anonymous ? 'anonymous' : 'authenticated';
  if (policy.hooks.length === 0 || identity.anonymous) return finish(code, policy, identity, index, input, mutations, responseHeaders);
  return runHooks(code, policy, identity, index, input, ctx, mutations, responseHeaders);
}

/** Allow hooks (session creation); stays synchronous while every hook answers synchronously. */
function runHooks(
  code: string,
  policy: CompiledPolicy,
  identity: Identity,
  index: PolicyLookup,
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
  return finish(code, policy, identity, index, input, mutations, all ?? responseHeaders);
}

async function hooksAsync(
  code: string,
  policy: CompiledPolicy,
  identity: Identity,
  index: PolicyLookup,
  input: CheckInput,
  ctx: RequestContext,
  mutations: Mutations | undefined,
  all: HeaderPair[],
  start: number,
  pending: Promise<readonly HeaderPair[]>,
): Promise<Decision> {
  all.push(...(await pending));
  for (let i = start + 1; i < policy.hooks.length; i++) all.push(...(await (policy.hooks[i] as AllowHook).onAllow(input, identity, ctx)));
  return finish(code, policy, identity, index, input, mutations, all);
}

function finish(
  code: string,
  policy: CompiledPolicy,
  identity: Identity,
  index: PolicyLookup,
  input: CheckInput,
  mutations: Mutations | undefined,
  responseHeaders: readonly HeaderPair[],
): Decision {
  const allow = allowFor(code, policy, identity, index, input, mutations, responseHeaders);
  if (allow !== undefined) return allow;
  return denyFor(
    new GatehouseError('identity_header_invalid', `identity of ${identity.consumerId} cannot be sent as a header`),
    policy,
    identity.method,
  );
}
