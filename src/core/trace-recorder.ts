// Collects what the pipeline reports (trace.ts) into an explanation: plain data for `--json`, the
// table, the admin endpoint, and the compact phase codes of the decision log.
import type { Decision } from './decision.js';
import type { GatehouseError } from './errors.js';
import type { Identity } from './identity.js';
import { Redactor } from './redact.js';
import type { AnonymousConsumer, AuthnResult, Authenticator, CompiledPolicy, Rule, SkipRule } from './ports.js';
import type {
  CandidateResult,
  HookStep,
  MethodStep,
  RouteCandidate,
  RuleStep,
  ShadowExplanation,
  SkipStep,
  SlotVisit,
  TracedAnswer,
  TracedAuthentication,
  TracedIdentity,
  TracedPolicy,
  TracedRoute,
  TraceSink,
} from './trace.js';

export class TraceRecorder implements TraceSink {
  readonly #candidates: RouteCandidate[] = [];
  #refused = false;
  #policy: TracedPolicy | undefined;
  #endpoint: string | undefined;
  readonly #skip: SkipStep[] = [];
  readonly #methods: MethodStep[] = [];
  #anonymous: { consumer: string; used: boolean } | undefined;
  #respondedBy: string | undefined;
  readonly #rules: RuleStep[] = [];
  readonly #hooks: HookStep[] = [];
  #wouldBe: Decision | undefined;
  /** Credential locations the methods reported: their values are redacted wherever shown. */
  readonly locations = new Set<string>();

  slot(v: SlotVisit): void {
    if (v.refused && !v.after) this.#refused = true;
    for (const p of v.policies) {
      const createdAt = v.createdAt.get(p);
      this.#candidates.push({
        policy: p.id,
        host: v.host,
        hostMatch: v.host === '*' ? 'any' : v.host.startsWith('*.') ? 'wildcard' : 'exact',
        prefix: v.prefix,
        ...(p.methods === undefined ? {} : { methods: [...p.methods].sort() }),
        ...(createdAt === undefined ? {} : { createdAt }),
        enforcement: p.enforcement,
        result: resultOf(p, v),
      });
    }
  }

  policy(policy: CompiledPolicy, comparedPath: string): void {
    this.#policy = {
      id: policy.id,
      generation: policy.generation,
      enforcement: policy.enforcement,
      mode: policy.mode,
      comparedPath,
      ...(policy.broken === undefined ? {} : { broken: policy.broken }),
    };
  }

  endpoint(name: string): void {
    this.#endpoint = name;
  }

  skip(index: number, rule: SkipRule, matched: boolean): void {
    this.#skip.push({
      rule: index,
      ...(rule.paths === undefined ? {} : { paths: rule.paths }),
      ...(rule.methods === undefined ? {} : { methods: [...rule.methods].sort() }),
      matched,
    });
  }

  method(a: Authenticator, presented: string | undefined, result: AuthnResult | 'skipped' | 'not_run'): void {
    if (presented !== undefined) this.locations.add(presented);
    const base = { name: a.name, type: a.type, ...(presented === undefined ? {} : { presented }) };
    if (typeof result === 'string') {
      this.#methods.push({ ...base, result });
      return;
    }
    switch (result.kind) {
      case 'none':
        this.#methods.push({ ...base, result: 'none' });
        return;
      case 'success':
        this.#methods.push({ ...base, result: 'success', identity: traced(result.identity) });
        return;
      case 'failure':
        this.#methods.push({ ...base, result: 'failure', code: result.error.code, detail: result.error.message });
        return;
      case 'respond':
        this.#methods.push({ ...base, result: 'respond', code: result.decision.code, detail: result.decision.detail });
        return;
      default: {
        const never: never = result;
        throw new Error(`unknown result ${JSON.stringify(never)}`);
      }
    }
  }

  anonymous(consumer: AnonymousConsumer, used: boolean): void {
    this.#anonymous = { consumer: consumer.id, used };
  }

  responded(method: string): void {
    this.#respondedBy = method;
  }

  rule(rule: Rule, error: GatehouseError | undefined): void {
    this.#rules.push(error === undefined ? { rule: rule.name, passed: true } : { rule: rule.name, passed: false, code: error.code, detail: error.message });
  }

  hook(name: string, ran: boolean): void {
    this.#hooks.push({ name, ran });
  }

  wouldBe(decision: Decision): void {
    this.#wouldBe = decision;
  }

  /** The explanation of `answer` (without the request, which the caller redacts once for all traces). */
  result(answer: Decision, redactor: Redactor): ShadowExplanation {
    const policy = this.#policy;
    const authentication: TracedAuthentication | undefined =
      policy === undefined || (this.#methods.length === 0 && this.#anonymous === undefined && this.#respondedBy === undefined)
        ? undefined
        : {
            mode: policy.mode,
            methods: this.#methods,
            ...(this.#anonymous === undefined ? {} : { anonymous: this.#anonymous }),
            ...(this.#respondedBy === undefined ? {} : { respondedBy: this.#respondedBy }),
          };
    return {
      route: this.#route(answer),
      ...(policy === undefined ? {} : { policy }),
      ...(this.#endpoint === undefined ? {} : { endpoint: this.#endpoint }),
      skip: this.#skip,
      ...(authentication === undefined ? {} : { authentication }),
      authorization: this.#rules,
      hooks: this.#hooks,
      ...(this.#wouldBe === undefined ? {} : { wouldBe: tracedAnswer(this.#wouldBe, redactor) }),
      answer: tracedAnswer(answer, redactor),
    };
  }

  #route(answer: Decision): TracedRoute {
    const decided = this.#policy?.id;
    // The shadow policy that decided alone is the chosen one; the other shadows beside it are evaluated.
    const candidates = this.#candidates.map((c) => (c.result === 'evaluated' && c.policy === decided ? { ...c, result: 'chosen' as const } : c));
    if (decided !== undefined) return { outcome: 'policy', policy: decided, candidates };
    if (this.#refused) return { outcome: 'method_not_allowed', candidates };
    return { outcome: answer.code === 'not_ready' ? 'not_ready' : 'no_policy', candidates };
  }
}

function resultOf(p: CompiledPolicy, v: SlotVisit): CandidateResult {
  if (v.after) return 'less_specific';
  if (v.chosen.includes(p)) return p.enforcement === 'shadow' ? 'evaluated' : 'chosen';
  if (p.methods !== undefined && !p.methods.has(v.method)) return 'method_not_covered';
  return 'older_policy_wins';
}

function traced(id: Identity): TracedIdentity {
  return {
    consumer: id.consumerId,
    ...(id.username === undefined ? {} : { username: id.username }),
    ...(id.customId === undefined ? {} : { customId: id.customId }),
    ...(id.credential === undefined ? {} : { credential: id.credential }),
    groups: id.groups,
    anonymous: id.anonymous,
  };
}

export function tracedAnswer(d: Decision, redactor: Redactor): TracedAnswer {
  const head = {
    decision: d.kind,
    ...(d.kind === 'deny' ? { status: d.status } : {}),
    code: d.code,
    ...(d.policy === undefined ? {} : { policy: d.policy }),
    ...(d.method === undefined ? {} : { method: d.method }),
  };
  if (d.kind === 'deny') {
    return { ...head, detail: d.detail, setHeaders: [], removeHeaders: [], responseHeaders: redactor.headers(d.headers), removeQuery: [], body: redactor.body(d.body) };
  }
  return {
    ...head,
    ...(d.identity === undefined ? {} : { consumer: d.identity.consumerId }),
    setHeaders: redactor.headers(d.setHeaders),
    removeHeaders: d.removeHeaders,
    responseHeaders: redactor.headers(d.responseHeaders),
    removeQuery: d.removeQuery,
  };
}

/**
 * The phases in one line for the decision log:
 * `route=shop/api authn=session:none,keys:failure:key_unknown answer=deny:401:key_unknown`.
 */
export function compactPhases(e: ShadowExplanation): string {
  const parts: string[] = [];
  const route = e.route;
  parts.push(`route=${route.outcome === 'policy' ? `${route.policy ?? ''}${e.policy?.enforcement === 'shadow' ? '(shadow)' : ''}` : route.outcome}`);
  if (e.endpoint !== undefined) parts.push(`endpoint=${e.endpoint}`);
  const skipped = e.skip.find((s) => s.matched);
  if (skipped !== undefined) parts.push(`skip=${skipped.rule}`);
  const authn = e.authentication;
  if (authn !== undefined && authn.methods.length > 0) {
    parts.push(`authn=${authn.methods.map((m) => [m.name, m.result, ...(m.code === undefined ? [] : [m.code])].join(':')).join(',')}`);
  }
  if (authn?.anonymous?.used === true) parts.push(`anonymous=${authn.anonymous.consumer}`);
  if (authn?.respondedBy !== undefined) parts.push(`respond=${authn.respondedBy}`);
  if (e.authorization.length > 0) parts.push(`authz=${e.authorization.map((r) => `${r.rule}:${r.passed ? 'pass' : (r.code ?? 'fail')}`).join(',')}`);
  if (e.wouldBe !== undefined) parts.push(`wouldbe=${answerCode(e.wouldBe)}`);
  parts.push(`answer=${answerCode(e.answer)}`);
  return parts.join(' ');
}

function answerCode(a: TracedAnswer): string {
  return a.status === undefined ? `${a.decision}:${a.code}` : `${a.decision}:${a.status}:${a.code}`;
}
