// The decision for one request: route -> endpoints -> skip -> authentication -> authorization ->
// response. Pure: everything it touches arrives as arguments. Synchronous methods stay synchronous,
// so an API-key Check allocates no promise. An explain passes a probe: the same code, traced, in a dry run.
import type { AllowHook, CompiledPolicy, RequestContext, SkipRule } from './ports.js';
import { MethodNotAllowed, type PolicyLookup } from './route.js';
import { authenticate, isPromise, type Maybe, type Outcome } from './authenticate.js';
import type { Decision, Deny } from './decision.js';
import { EMPTY_PAIRS } from './decision.js';
import { asGatehouseError, type Challenge, GatehouseError } from './errors.js';
import type { HeaderPair, Identity } from './identity.js';
import { NO_CLAIMS, NO_HEADERS } from './identity.js';
import type { CheckInput } from './input.js';
import { matchesPrefix } from './path.js';
import { allowFor, denyFor, type Mutations } from './respond.js';
import type { Probe, TraceSink } from './trace.js';

export interface PipelineOptions {
  /** Answer for requests no policy selects. */
  readonly onNoPolicy: 'deny' | 'allow';
  /**
   * Hears what a shadow policy that decided alone would have answered, and what was answered (the
   * request let through). Not called in a dry run.
   */
  readonly onShadow?: ((policy: CompiledPolicy, wouldBe: Decision, answer: Decision, input: CheckInput) => void) | undefined;
}

const NOT_READY = new GatehouseError('not_ready', 'policies not loaded yet');
const ENCODED_SLASH = new GatehouseError('path_encoded_slash', 'path contains an encoded / or \\');

export class Pipeline {
  readonly #options: PipelineOptions;

  constructor(options: PipelineOptions) {
    this.#options = options;
  }

  /**
   * `index` undefined means the sources have not synced yet: fail closed. `probe` (explain, a shadow
   * evaluation) asks for a trace and for a dry run; real traffic passes none.
   */
  decide(index: PolicyLookup | undefined, input: CheckInput, now: number, probe?: Probe): Maybe<Decision> {
    if (index === undefined) return denyFor(NOT_READY, undefined, undefined);
    const route = index.lookup(input, probe?.trace);
    if (route === undefined) {
      if (input.encodedSlash) return denyFor(ENCODED_SLASH, undefined, undefined);
      // A shadow policy alone on this route answers, but never refuses (see #asShadow).
      const shadow = index.shadows(input)?.[0];
      if (shadow !== undefined) return this.#evaluate(shadow, index, input, now, probe, true);
      if (this.#options.onNoPolicy === 'allow') return must(allowFor('default_allow', undefined, undefined, index, input, undefined, EMPTY_PAIRS));
      return denyFor(new GatehouseError('no_policy', `no policy for ${input.host}${input.path}`), undefined, undefined);
    }
    if (route instanceof MethodNotAllowed) return route.deny;
    return this.#evaluate(route, index, input, now, probe, false);
  }

  /**
   * What `policy` answers `input`, routing aside: a shadow policy evaluated beside the enforced one
   * (with a dry-run probe), or a policy an explain names.
   */
  evaluate(policy: CompiledPolicy, index: PolicyLookup, input: CheckInput, now: number, probe?: Probe): Maybe<Decision> {
    return this.#evaluate(policy, index, input, now, probe, false);
  }

  /** `alone`: a shadow policy deciding a route no enforced policy serves; its answer goes through #asShadow. */
  #evaluate(policy: CompiledPolicy, index: PolicyLookup, input: CheckInput, now: number, probe: Probe | undefined, alone: boolean): Maybe<Decision> {
    const trace = probe?.trace;
    const path = input.pathVariant(policy.pathOptions);
    trace?.policy(policy, path);
    if (policy.broken !== undefined) {
      const broken = denyFor(new GatehouseError('policy_invalid', `policy ${policy.id} is invalid: ${policy.broken}`), policy, undefined);
      return alone ? this.#asShadow(policy, index, input, broken, probe, false) : broken;
    }
    if (input.encodedSlash && !policy.allowEncodedSlashes) return denyFor(ENCODED_SLASH, policy, undefined);
    const ctx: RequestContext = probe?.dryRun === true ? { now, policy: policy.id, path, dryRun: true } : { now, policy: policy.id, path };
    // Endpoints (logout, callback) answer as they are, a shadow policy's too: it must be testable end to end.
    try {
      for (const endpoint of policy.endpoints) {
        const handled = endpoint.handle(input, ctx);
        if (handled === undefined) continue;
        trace?.endpoint(endpoint.name);
        const answer = isPromise(handled) ? handled.catch((e: unknown) => this.#failed(e, policy, index, input)) : handled;
        return alone ? this.#asShadow(policy, index, input, answer, probe, true) : answer;
      }
    } catch (e) {
      return this.#failed(e, policy, index, input);
    }
    const decision = this.#phases(policy, index, input, ctx, trace);
    return alone ? this.#asShadow(policy, index, input, decision, probe, false) : decision;
  }

  /** Skip rules, authentication, authorization, hooks: everything after the endpoints. */
  #phases(policy: CompiledPolicy, index: PolicyLookup, input: CheckInput, ctx: RequestContext, trace: TraceSink | undefined): Maybe<Decision> {
    try {
      if (skipped(policy, input, ctx.path, trace)) return must(allowFor('skipped', policy, undefined, index, input, undefined, EMPTY_PAIRS));
      const outcome = authenticate(policy, input, ctx, trace);
      if (isPromise(outcome)) {
        return outcome.then((o) => this.#afterAuthn(o, policy, index, input, ctx, trace)).catch((e: unknown) => this.#failed(e, policy, index, input));
      }
      const decision = this.#afterAuthn(outcome, policy, index, input, ctx, trace);
      return isPromise(decision) ? decision.catch((e: unknown) => this.#failed(e, policy, index, input)) : decision;
    } catch (e) {
      return this.#failed(e, policy, index, input);
    }
  }

  #afterAuthn(outcome: Outcome, policy: CompiledPolicy, index: PolicyLookup, input: CheckInput, ctx: RequestContext, trace: TraceSink | undefined): Maybe<Decision> {
    switch (outcome.kind) {
      case 'decided':
        return outcome.decision;
      case 'unauthenticated':
        return unauthenticated(outcome, policy, index, input, ctx, trace);
      case 'identity':
        return authorize(outcome.identity, outcome.mutations, outcome.responseHeaders, policy, index, input, ctx, trace);
      default: {
        const never: never = outcome;
        throw new Error(`unknown outcome ${JSON.stringify(never)}`);
      }
    }
  }

  /**
   * A shadow policy alone lets every request through: its allow as it is (identity headers only when
   * authentication truly succeeded), anything else an allow with no identity (every identity header
   * stripped, so a client's own copy never passes). An endpoint's answer (`endpoint`) goes as it is.
   */
  #asShadow(policy: CompiledPolicy, index: PolicyLookup, input: CheckInput, d: Maybe<Decision>, probe: Probe | undefined, endpoint: boolean): Maybe<Decision> {
    if (isPromise(d)) return d.then((x) => this.#shadowAnswer(policy, index, input, x, probe, endpoint));
    return this.#shadowAnswer(policy, index, input, d, probe, endpoint);
  }

  #shadowAnswer(policy: CompiledPolicy, index: PolicyLookup, input: CheckInput, wouldBe: Decision, probe: Probe | undefined, endpoint: boolean): Decision {
    const answer = endpoint || wouldBe.kind === 'allow' ? wouldBe : must(allowFor('shadow', policy, undefined, index, input, undefined, EMPTY_PAIRS));
    if (answer !== wouldBe) probe?.trace?.wouldBe(wouldBe);
    if (probe?.dryRun !== true) this.#options.onShadow?.(policy, wouldBe, answer, input);
    return answer;
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

function skipped(policy: CompiledPolicy, input: CheckInput, path: string, trace: TraceSink | undefined): boolean {
  const rules = policy.skip;
  for (let i = 0; i < rules.length; i++) {
    const rule = rules[i] as SkipRule;
    const matched = (rule.methods === undefined || rule.methods.has(input.method)) && (rule.paths === undefined || rule.paths.some((p) => matchesPrefix(path, p)));
    trace?.skip(i, rule, matched);
    if (matched) return true;
  }
  return false;
}

/**
 * The 401s a policy has answered, by method and code. What a refusal sends (status, headers, body)
 * follows from the policy, the methods' challenges, the code and its challenge; only the operator's
 * detail differs from one error to the next. So a flood of bad keys or forged tokens reuses one
 * frozen Deny (whose encoding the transports keep), and nothing is kept per request: a Map per
 * policy, bounded by its methods times the error catalogue.
 */
type Refusals = Map<string, Map<string, { readonly challenge: Challenge | undefined; readonly deny: Deny }>>;
const refusals = new WeakMap<CompiledPolicy, Refusals>();

function refusal(error: GatehouseError, policy: CompiledPolicy, method: string | undefined): Deny {
  let byMethod = refusals.get(policy);
  if (byMethod === undefined) refusals.set(policy, (byMethod = new Map()));
  // Nested maps, not a joined key: no string is built per refusal.
  let byKey = byMethod.get(method ?? '');
  if (byKey === undefined) byMethod.set(method ?? '', (byKey = new Map()));
  const key = error.code;
  const hit = byKey.get(key);
  if (hit !== undefined && hit.challenge === error.challenge) {
    const d = hit.deny;
    if (d.detail === error.message) return d;
    return { kind: 'deny', code: d.code, policy: d.policy, method: d.method, status: d.status, headers: d.headers, body: d.body, detail: error.message };
  }
  const challenges: Challenge[] = [];
  for (const a of policy.authenticators) if (a.challenge !== undefined) challenges.push({ scheme: a.challenge });
  const d = denyFor(error, policy, method, challenges);
  // A challenge made for one request (not frozen, so not shared) would make every entry a miss: that
  // refusal is answered as built and not kept.
  if (error.challenge !== undefined && !Object.isFrozen(error.challenge)) return d;
  const deny: Deny = Object.freeze({ ...d, headers: Object.freeze(d.headers) });
  byKey.set(key, { challenge: error.challenge, deny });
  return deny;
}

function unauthenticated(
  outcome: Extract<Outcome, { kind: 'unauthenticated' }>,
  policy: CompiledPolicy,
  index: PolicyLookup,
  input: CheckInput,
  ctx: RequestContext,
  trace: TraceSink | undefined,
): Maybe<Decision> {
  const anon = policy.anonymous;
  if (anon !== undefined) trace?.anonymous(anon, outcome.failure === undefined && !outcome.presented);
  if (outcome.failure !== undefined) return refusal(outcome.failure, policy, outcome.method);
  if (outcome.presented) return refusal(CREDENTIAL_INCOMPLETE, policy, outcome.method);
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
    return authorize(identity, undefined, EMPTY_PAIRS, policy, index, input, ctx, trace);
  }
  for (const a of policy.authenticators) {
    const answer = a.unauthenticated?.(input, ctx);
    if (answer === undefined) continue;
    trace?.responded(a.name);
    return answer;
  }
  return refusal(CREDENTIAL_MISSING, policy, undefined);
}

function authorize(
  identity: Identity,
  mutations: Mutations | undefined,
  responseHeaders: readonly HeaderPair[],
  policy: CompiledPolicy,
  index: PolicyLookup,
  input: CheckInput,
  ctx: RequestContext,
  trace: TraceSink | undefined,
): Maybe<Decision> {
  for (const rule of policy.rules) {
    const error = rule.check(identity);
    trace?.rule(rule, error);
    if (error !== undefined) return denyFor(error, policy, identity.method);
  }
  const code = identity.anonymous ? 'anonymous' : 'authenticated';
  if (policy.hooks.length === 0 || identity.anonymous) return finish(code, policy, identity, index, input, mutations, responseHeaders);
  if (trace !== undefined) for (const h of policy.hooks) trace.hook(h.name, ctx.dryRun !== true);
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
