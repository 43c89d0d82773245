// Writes each AuthPolicy's status (observedGeneration and a Ready condition) through the status
// subresource, only when it differs from what the object already carries. Every replica runs it: they
// compute the same status from the same objects, so after the first write the others find nothing to
// do; no leader election is needed. Writes are queued (one entry per policy), rate limited by a token
// bucket and carry the resourceVersion they were computed from, so a stale view gets 409 and is retried
// once the watch has caught up instead of overwriting a newer status.
import type { PolicyStatus } from '../policy/store.js';
import type { Logger } from '../telemetry/log.js';
import type { Condition, ObservedPolicy, ObservedStatus } from './kubernetes-convert.js';
import { KubernetesApiError, type KubernetesApi } from './kubernetes-api.js';

export const READY = 'Ready';
/** True while the policy refuses requests as it says; False (reason Shadow) in shadow mode. */
export const ENFORCED = 'Enforced';
const MAX_MESSAGE = 4096;

export interface StatusBody {
  readonly observedGeneration: number;
  readonly conditions: readonly Condition[];
}

export interface StatusRateOptions {
  /** Sustained writes per second. */
  readonly perSecond: number;
  /** Writes allowed at once after a quiet period. */
  readonly burst: number;
  /** Requests in flight at most. */
  readonly concurrency: number;
}

const DEFAULT_STATUS_RATE: StatusRateOptions = { perSecond: 20, burst: 50, concurrency: 4 };

export interface StatusWriterOptions {
  readonly api: KubernetesApi;
  /** The store's status of a policy (namespace, name). */
  readonly desired: (namespace: string, name: string) => PolicyStatus | undefined;
  /** The policy as last seen from the API. */
  readonly observed: (id: string) => ObservedPolicy | undefined;
  /** The object the API answered a write with: the writer's own change, known before the watch brings it. */
  readonly written: (object: Record<string, unknown>, basedOn: string) => void;
  readonly logger: Logger;
  /** Appended to SecretMissing messages: only Secrets matching this selector are read. */
  readonly secretSelector: string;
  readonly rate?: StatusRateOptions;
  readonly clock?: () => number;
}

/** The status a policy should carry; a condition keeps its transition time unless it flips. */
export function desiredStatus(status: PolicyStatus, observed: ObservedStatus, now: number, secretSelector: string): StatusBody {
  let message = status.message;
  if (status.reason === 'SecretMissing') message += ` (gatehouse reads only Secrets labelled to match "${secretSelector}")`;
  if (message.length > MAX_MESSAGE) message = `${message.slice(0, MAX_MESSAGE - 3)}...`;
  const ready = condition(observed, READY, status.ready, status.reason, message, status.observedGeneration, now);
  const shadow = status.enforcement === 'shadow';
  const enforced = condition(
    observed,
    ENFORCED,
    !shadow,
    shadow ? 'Shadow' : 'Enforcing',
    shadow ? 'shadow mode: evaluated and reported (gatehouse_shadow_decisions_total), never refusing a request' : 'requests are refused as the policy says',
    status.observedGeneration,
    now,
  );
  // Conditions of other types belong to someone else: kept as they are, in their place.
  // A new Ready goes first, a new Enforced right after Ready.
  const conditions: Condition[] = observed.conditions.map((c) => (c.type === READY ? ready : c.type === ENFORCED ? enforced : c));
  if (!conditions.includes(ready)) conditions.unshift(ready);
  if (!conditions.includes(enforced)) conditions.splice(conditions.indexOf(ready) + 1, 0, enforced);
  return { observedGeneration: status.observedGeneration, conditions };
}

function condition(observed: ObservedStatus, type: string, value: boolean, reason: string, message: string, generation: number, now: number): Condition {
  const previous = observed.conditions.find((c) => c.type === type);
  const flag = value ? 'True' : 'False';
  return {
    type,
    status: flag,
    reason,
    message,
    lastTransitionTime: previous?.status === flag && previous.lastTransitionTime !== undefined ? previous.lastTransitionTime : rfc3339(now),
    observedGeneration: generation,
  };
}

export function sameStatus(a: StatusBody, b: ObservedStatus): boolean {
  if (a.observedGeneration !== b.observedGeneration || a.conditions.length !== b.conditions.length) return false;
  return a.conditions.every((c, i) => {
    const d = b.conditions[i];
    return (
      d !== undefined &&
      c.type === d.type &&
      c.status === d.status &&
      c.reason === d.reason &&
      c.message === d.message &&
      c.lastTransitionTime === d.lastTransitionTime &&
      c.observedGeneration === d.observedGeneration
    );
  });
}

/** metav1.Time: RFC 3339 in UTC, whole seconds. */
function rfc3339(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

interface Plan {
  readonly id: string;
  readonly namespace: string;
  readonly name: string;
  readonly basedOn: string;
  readonly status: StatusBody;
}

export class StatusWriter {
  readonly #o: StatusWriterOptions;
  readonly #rate: StatusRateOptions;
  readonly #clock: () => number;
  /** Policy ids waiting for a look; a Set keeps one entry per policy however often it changes. */
  readonly #queue = new Set<string>();
  readonly #retries = new Map<string, { attempt: number; timer: NodeJS.Timeout | undefined }>();
  readonly #logged = new Map<string, number>();
  #tokens: number;
  #refilledAt: number;
  #inFlight = 0;
  #wakeup: NodeJS.Timeout | undefined;
  #stopped = false;
  #writes = 0;
  #idle: Array<() => void> = [];

  constructor(options: StatusWriterOptions) {
    this.#o = options;
    this.#rate = options.rate ?? DEFAULT_STATUS_RATE;
    this.#clock = options.clock ?? Date.now;
    this.#tokens = this.#rate.burst;
    this.#refilledAt = this.#clock();
  }

  /** Successful status writes so far. */
  get writes(): number {
    return this.#writes;
  }

  /** Resolves when nothing is queued or in flight (retries waiting on a timer do not count). */
  idle(): Promise<void> {
    if (this.#queue.size === 0 && this.#inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /** Looks at a policy again soon: its computed status or its object changed. */
  enqueue(id: string): void {
    if (this.#stopped) return;
    this.#queue.add(id);
    this.#pump();
  }

  /** The policy is gone: nothing more to write. */
  forget(id: string): void {
    this.#queue.delete(id);
    const retry = this.#retries.get(id);
    if (retry?.timer !== undefined) clearTimeout(retry.timer);
    this.#retries.delete(id);
  }

  stop(): void {
    this.#stopped = true;
    this.#queue.clear();
    for (const r of this.#retries.values()) if (r.timer !== undefined) clearTimeout(r.timer);
    this.#retries.clear();
    if (this.#wakeup !== undefined) clearTimeout(this.#wakeup);
    this.#wakeup = undefined;
    this.#settle();
  }

  #pump(): void {
    if (this.#stopped || this.#wakeup !== undefined) return;
    while (this.#inFlight < this.#rate.concurrency) {
      const id = this.#queue.values().next().value;
      if (id === undefined) break;
      const plan = this.#plan(id);
      if (plan === undefined) {
        // Nothing to write: no token is spent on it.
        this.#queue.delete(id);
        continue;
      }
      const wait = this.#takeToken();
      if (wait > 0) {
        this.#wakeup = setTimeout(() => {
          this.#wakeup = undefined;
          this.#pump();
        }, wait);
        return;
      }
      this.#queue.delete(id);
      this.#inFlight++;
      void this.#write(plan).finally(() => {
        this.#inFlight--;
        this.#pump();
      });
    }
    this.#settle();
  }

  #plan(id: string): Plan | undefined {
    const seen = this.#o.observed(id);
    if (seen === undefined) return undefined;
    const { namespace, name, generation } = seen.resource;
    const status = this.#o.desired(namespace, name);
    // The store has not compiled this generation yet; its status change will bring the policy back.
    if (status === undefined || status.observedGeneration !== generation) return undefined;
    const body = desiredStatus(status, seen.status, this.#clock(), this.#o.secretSelector);
    if (sameStatus(body, seen.status)) return undefined;
    return { id, namespace, name, basedOn: seen.resourceVersion, status: body };
  }

  /** 0 when a token was taken, else the milliseconds until one is available. */
  #takeToken(): number {
    const now = this.#clock();
    this.#tokens = Math.min(this.#rate.burst, this.#tokens + ((now - this.#refilledAt) / 1000) * this.#rate.perSecond);
    this.#refilledAt = now;
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil(((1 - this.#tokens) / this.#rate.perSecond) * 1000));
  }

  async #write(plan: Plan): Promise<void> {
    const patch = { metadata: { resourceVersion: plan.basedOn }, status: plan.status };
    try {
      const answer = await this.#o.api.mergePatchStatus('authpolicies', plan.namespace, plan.name, patch);
      this.#writes++;
      this.#retries.delete(plan.id);
      this.#o.written(answer, plan.basedOn);
    } catch (e) {
      if (this.#stopped) return;
      this.#failed(plan, e);
    }
  }

  #failed(plan: Plan, e: unknown): void {
    const status = e instanceof KubernetesApiError ? e.status : 0;
    const code = e instanceof KubernetesApiError ? e.code : 'network';
    if (status === 409) {
      // Our copy of the object is older than the server's: try again once the watch has caught up.
      this.#retryLater(plan.id, 100);
      return;
    }
    if (status === 404 && this.#o.observed(plan.id) === undefined) return;
    const transient = status === 0 || status === 429 || status >= 500;
    this.#log(code, { policy: plan.id, code, error: e instanceof Error ? e.message : String(e), retrying: transient });
    if (transient) this.#retryLater(plan.id, 1000);
  }

  #retryLater(id: string, baseMs: number): void {
    const retry = this.#retries.get(id) ?? { attempt: 0, timer: undefined };
    if (retry.timer !== undefined) return;
    retry.attempt++;
    const full = Math.min(60_000, baseMs * 2 ** Math.min(retry.attempt - 1, 16));
    retry.timer = setTimeout(() => {
      retry.timer = undefined;
      this.enqueue(id);
    }, Math.round(full / 2 + (Math.random() * full) / 2));
    this.#retries.set(id, retry);
  }

  /** One line per kind of failure per minute: 10,000 policies refused by RBAC make one line, not 10,000. */
  #log(code: string, fields: Record<string, unknown>): void {
    const now = this.#clock();
    const last = this.#logged.get(code);
    if (last !== undefined && now - last < 60_000) {
      this.#o.logger.debug('status write failed', fields);
      return;
    }
    this.#logged.set(code, now);
    this.#o.logger.warn('cannot write AuthPolicy status', fields);
  }

  #settle(): void {
    if (this.#queue.size > 0 && !this.#stopped) return;
    if (this.#inFlight > 0) return;
    const waiting = this.#idle;
    this.#idle = [];
    for (const resolve of waiting) resolve();
  }
}
