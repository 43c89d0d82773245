// Every metric gatehouse exports, defined in one place.
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { HotCounter, HotHistogram } from './hot-metrics.js';

export class Metrics {
  readonly registry = new Registry();

  readonly checks = new HotCounter({
    name: 'gatehouse_check_total',
    help: 'Check decisions by policy, authentication method, decision and reason code.',
    labelNames: ['policy', 'method', 'decision', 'code'] as const,
    registers: [this.registry],
  });

  readonly shadowDecisions = new Counter({
    name: 'gatehouse_shadow_decisions_total',
    help: 'Would-be decisions of shadow policies, by policy, outcome (allow, deny: as answered; would_deny, would_allow: the answer was the other; skipped: too many evaluations under way) and reason code.',
    labelNames: ['policy', 'outcome', 'code'] as const,
    registers: [this.registry],
  });

  readonly checkDuration = new HotHistogram({
    name: 'gatehouse_check_duration_seconds',
    help: 'Time to decide a Check.',
    labelName: 'decision',
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25],
    registers: [this.registry],
  });

  readonly policies = new Gauge({
    name: 'gatehouse_policies',
    help: 'Policies known, by state (ready, invalid).',
    labelNames: ['state'] as const,
    registers: [this.registry],
  });

  readonly apiKeys = new Gauge({
    name: 'gatehouse_api_keys',
    help: 'API keys held by the serving policies.',
    registers: [this.registry],
  });

  readonly compileErrors = new Counter({
    name: 'gatehouse_policy_compile_errors_total',
    help: 'Policy versions or source documents rejected, by source.',
    labelNames: ['source'] as const,
    registers: [this.registry],
  });

  readonly sourceSynced = new Gauge({
    name: 'gatehouse_source_synced',
    help: '1 once a policy source has delivered its first full state.',
    labelNames: ['source'] as const,
    registers: [this.registry],
  });

  readonly watchDown = new Gauge({
    name: 'gatehouse_kubernetes_watch_down_seconds',
    help: 'Seconds the Kubernetes watch of a resource has been down (0 while up).',
    labelNames: ['resource'] as const,
    registers: [this.registry],
  });

  readonly watchRestarts = new Counter({
    name: 'gatehouse_kubernetes_watch_restarts_total',
    help: 'Restarts of a Kubernetes watch after an error.',
    labelNames: ['resource'] as const,
    registers: [this.registry],
  });

  readonly sessionRejected = new Counter({
    name: 'gatehouse_session_rejected_total',
    help: 'Session cookies treated as no session, by policy and reason (expired, tampered, logged_out...).',
    labelNames: ['policy', 'reason'] as const,
    registers: [this.registry],
  });

  readonly sessionCacheLookups = new HotCounter({
    name: 'gatehouse_session_cache_lookups_total',
    help: 'Redis session records looked up in the replica cache, by result (hit; miss: read from Redis; bypassed: the invalidation channel is not subscribed, read from Redis and not kept).',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  readonly sessionCacheInvalidations = new Counter({
    name: 'gatehouse_session_cache_invalidations_total',
    help: 'Session ids heard on the invalidation channel (a logout, renewal or other write on any replica), each dropped from the replica cache.',
    registers: [this.registry],
  });

  readonly sessionCacheSubscribed = new Gauge({
    name: 'gatehouse_session_cache_subscribed',
    help: '1 while the Redis session cache hears its invalidation channel (and so serves from memory), 0 while it is bypassed.',
    registers: [this.registry],
  });

  readonly revocationWidened = new Counter({
    name: 'gatehouse_revocation_degraded_total',
    help: 'Logouts the full in-memory revocation list held as a watermark (ending more sessions), by watermark kind (consumer, scope).',
    labelNames: ['scope_kind'] as const,
    registers: [this.registry],
  });

  constructor(options: { processMetrics?: boolean } = {}) {
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry });
  }

  /** The session cache's events counted here; each lookup is one field increment. */
  sessionCacheEvents(): {
    lookup(result: 'hit' | 'miss' | 'bypassed'): void;
    invalidated(ids: number): void;
    subscribed(live: boolean): void;
  } {
    const results = { hit: this.sessionCacheLookups.labels('hit'), miss: this.sessionCacheLookups.labels('miss'), bypassed: this.sessionCacheLookups.labels('bypassed') };
    this.sessionCacheSubscribed.set(0);
    return {
      lookup: (result) => results[result].inc(),
      invalidated: (ids) => this.sessionCacheInvalidations.inc(ids),
      subscribed: (live) => this.sessionCacheSubscribed.set(live ? 1 : 0),
    };
  }
}
