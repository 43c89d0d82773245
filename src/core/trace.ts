// What the pipeline tells a trace, phase by phase, and the explanation a trace becomes. On real traffic
// the trace is undefined and nothing is recorded: every call site is a bare `trace?.x()` or
// `if (trace !== undefined)`. The same pipeline code decides and explains; there is no second evaluator.
import type { Decision } from './decision.js';
import type { GatehouseError } from './errors.js';
import type { HeaderPair } from './identity.js';
import type { AnonymousConsumer, AuthnResult, Authenticator, CompiledPolicy, Rule, SkipRule } from './ports.js';

/** One prefix slot routing looked at: the policies sharing it, and what it chose. */
export interface SlotVisit {
  /** The host table: an exact host, `*.suffix` or `*`. */
  readonly host: string;
  readonly prefix: string;
  readonly method: string;
  readonly policies: readonly CompiledPolicy[];
  /** The policy that decides (an enforced slot) or every policy evaluated (a shadow slot). */
  readonly chosen: readonly CompiledPolicy[];
  /** No policy here covers the method and they do not fall through: 405. */
  readonly refused: boolean;
  /** A more specific host or prefix decided already; this slot is only listed. */
  readonly after: boolean;
  /** RFC 3339 creation time of each policy (older wins a shared route). */
  readonly createdAt: ReadonlyMap<CompiledPolicy, string | undefined>;
}

/** What routing reports to a trace. */
export interface RouteTrace {
  slot(visit: SlotVisit): void;
}

/** What the pipeline reports to a trace. */
export interface TraceSink extends RouteTrace {
  /** The policy being applied, with the request path as it compares paths. */
  policy(policy: CompiledPolicy, comparedPath: string): void;
  /** An endpoint (logout, callback, login path) answered the request. */
  endpoint(name: string): void;
  skip(index: number, rule: SkipRule, matched: boolean): void;
  method(a: Authenticator, presented: string | undefined, result: AuthnResult | 'skipped' | 'not_run'): void;
  anonymous(consumer: AnonymousConsumer, used: boolean): void;
  /** A method answered the unauthenticated request itself (a login redirect). */
  responded(method: string): void;
  rule(rule: Rule, error: GatehouseError | undefined): void;
  hook(name: string, ran: boolean): void;
  /** A shadow policy decided alone: what it would have answered, before the request was let through. */
  wouldBe(decision: Decision): void;
}

/** What an explain asks of the pipeline besides the decision. */
export interface Probe {
  /** No side effects: no session created or renewed, no logout recorded, no token refreshed, nothing counted. */
  readonly dryRun: boolean;
  readonly trace: TraceSink | undefined;
}

export type CandidateResult = 'chosen' | 'evaluated' | 'method_not_covered' | 'older_policy_wins' | 'less_specific';

/** A policy routing considered: its host table, prefix, methods and age say why it won or lost. */
export interface RouteCandidate {
  readonly policy: string;
  readonly host: string;
  readonly hostMatch: 'exact' | 'wildcard' | 'any';
  readonly prefix: string;
  /** Absent: every method. */
  readonly methods?: readonly string[];
  readonly createdAt?: string;
  readonly enforcement: 'enforce' | 'shadow';
  readonly result: CandidateResult;
}

export interface TracedRequest {
  readonly method: string;
  readonly host: string;
  /** As sent, without the query. */
  readonly rawPath: string;
  /** What routing, skip rules and endpoints compare. */
  readonly path: string;
  /** Credentials redacted. */
  readonly query: string;
  /** Credentials redacted. */
  readonly headers: readonly HeaderPair[];
}

export interface TracedRoute {
  /** `request_refused`: the request itself cannot be read (a path that needs guessing); no policy sees it. */
  readonly outcome: 'policy' | 'method_not_allowed' | 'no_policy' | 'not_ready' | 'request_refused';
  readonly policy?: string;
  readonly candidates: readonly RouteCandidate[];
}

export interface TracedPolicy {
  readonly id: string;
  readonly generation: number;
  readonly enforcement: 'enforce' | 'shadow';
  readonly mode: 'any' | 'all';
  /** The request path as this policy compares paths (its pathMatching applied). */
  readonly comparedPath: string;
  /** Set when the policy could not be compiled: it only denies. */
  readonly broken?: string;
}

export interface SkipStep {
  readonly rule: number;
  readonly paths?: readonly string[];
  readonly methods?: readonly string[];
  readonly matched: boolean;
}

export interface TracedIdentity {
  readonly consumer: string;
  readonly username?: string;
  readonly customId?: string;
  readonly credential?: string;
  readonly groups: readonly string[];
  readonly anonymous: boolean;
}

export interface MethodStep {
  readonly name: string;
  readonly type: string;
  /** Where the request carries this method's credential (`header:apikey`), if it does. */
  readonly presented?: string;
  readonly result: 'none' | 'success' | 'failure' | 'respond' | 'skipped' | 'not_run';
  readonly identity?: TracedIdentity;
  readonly code?: string;
  /** For operators: why (never a credential). */
  readonly detail?: string;
}

export interface TracedAuthentication {
  readonly mode: 'any' | 'all';
  readonly methods: readonly MethodStep[];
  readonly anonymous?: { readonly consumer: string; readonly used: boolean };
  /** The method that answered an unauthenticated request itself (a login redirect). */
  readonly respondedBy?: string;
}

export interface RuleStep {
  readonly rule: string;
  readonly passed: boolean;
  readonly code?: string;
  readonly detail?: string;
}

export interface HookStep {
  readonly name: string;
  /** False in a dry run: no session was created. */
  readonly ran: boolean;
}

export interface TracedAnswer {
  readonly decision: 'allow' | 'deny';
  /** The status sent to the client; absent for an allow (the upstream answers). */
  readonly status?: number;
  readonly code: string;
  readonly policy?: string;
  readonly method?: string;
  readonly consumer?: string;
  readonly detail?: string;
  /** Upstream request headers set (allow). */
  readonly setHeaders: readonly HeaderPair[];
  /** Upstream request headers removed (allow). */
  readonly removeHeaders: readonly string[];
  /** Headers sent to the client: Set-Cookie of an allow, every header of a deny. */
  readonly responseHeaders: readonly HeaderPair[];
  readonly removeQuery: readonly string[];
  readonly body?: string;
}

/** The whole story of one decision; `gatehouse explain --json` prints it. */
export interface Explanation {
  readonly request: TracedRequest;
  readonly dryRun: boolean;
  readonly route: TracedRoute;
  readonly policy?: TracedPolicy;
  readonly endpoint?: string;
  readonly skip: readonly SkipStep[];
  readonly authentication?: TracedAuthentication;
  readonly authorization: readonly RuleStep[];
  readonly hooks: readonly HookStep[];
  /** A shadow policy that decided alone: what it would have answered had it been enforced. */
  readonly wouldBe?: TracedAnswer;
  readonly answer: TracedAnswer;
  /** Shadow policies evaluated beside the one that decided, without side effects. */
  readonly shadows: readonly ShadowExplanation[];
}

export type ShadowExplanation = Omit<Explanation, 'request' | 'shadows' | 'dryRun'>;
