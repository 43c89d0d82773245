// AuthPolicies and Secrets from the Kubernetes API: one informer per resource and watched namespace
// feeds the store; the store's statuses go back to the objects. Not ready until every informer has
// listed once; afterwards a lost API server leaves the last known policies serving while the informers
// reconnect, and an outage longer than --watch-stale-after is logged and shows in
// gatehouse_kubernetes_watch_down_seconds.
import { policyKey } from '../config/resources.js';
import type { PolicyStatus, PolicyStore } from '../policy/store.js';
import type { Logger } from '../telemetry/log.js';
import type { Metrics } from '../telemetry/metrics.js';
import type { ClusterAccess } from './kube-access.js';
import { KubernetesApi, type ResourceName } from './kubernetes-api.js';
import { type ObservedPolicy, toPolicy, toSecret } from './kubernetes-convert.js';
import { type BackoffOptions, type InformerHandler, ResilientInformer } from './kubernetes-informer.js';
import { type StatusRateOptions, StatusWriter } from './kubernetes-status.js';
import { settleMemoryLogged } from './settle-memory.js';

/**
 * Secrets read when --secret-selector is empty: those carrying the label key `gatehouse.dev/credential`
 * (any value). Without a selector every Secret of the cluster would be held in memory.
 */
const DEFAULT_SECRET_SELECTOR = 'gatehouse.dev/credential';
const SOURCE = 'kubernetes';
const RESOURCES: readonly ResourceName[] = ['authpolicies', 'secrets'];

export interface KubernetesSourceOptions {
  /** The API server and credentials (kube-config.ts loads them). */
  readonly kubeConfig: ClusterAccess;
  readonly store: PolicyStore;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** Empty: every namespace (one cluster-wide informer per resource). */
  readonly namespaces: readonly string[];
  readonly policySelector: string;
  /** Empty: DEFAULT_SECRET_SELECTOR. */
  readonly secretSelector: string;
  /** A watch down this long is logged as stale (once per outage). */
  readonly staleAfterMs: number;
  readonly backoff?: BackoffOptions;
  readonly statusRate?: StatusRateOptions;
  readonly pageSize?: number;
  /** How often gatehouse_kubernetes_watch_down_seconds is refreshed. */
  readonly monitorIntervalMs?: number;
  readonly clock?: () => number;
}

export class KubernetesSource {
  readonly #o: KubernetesSourceOptions;
  readonly #clock: () => number;
  readonly #policies = new Map<string, ObservedPolicy>();
  readonly #informers: ResilientInformer[] = [];
  readonly #waiting = new Set<ResilientInformer>();
  readonly #stale = new Set<ResilientInformer>();
  readonly #writer: StatusWriter;
  readonly #secretSelector: string;
  readonly #synced: Promise<void>;
  #resolveSynced: () => void = () => undefined;
  #monitor: NodeJS.Timeout | undefined;
  #startedAt = 0;
  #started = false;

  constructor(options: KubernetesSourceOptions) {
    this.#o = options;
    this.#clock = options.clock ?? Date.now;
    this.#secretSelector = options.secretSelector === '' ? DEFAULT_SECRET_SELECTOR : options.secretSelector;
    this.#synced = new Promise((resolve) => (this.#resolveSynced = resolve));
    const api = new KubernetesApi(options.kubeConfig);
    this.#writer = new StatusWriter({
      api,
      desired: (ns, name) => options.store.status(ns, name),
      observed: (id) => this.#policies.get(id),
      written: (object, basedOn) => this.#written(object, basedOn),
      logger: options.logger,
      secretSelector: this.#secretSelector,
      rate: options.statusRate,
      clock: this.#clock,
    });
    // Duplicates in --watch-namespace would double every event.
    const scopes = options.namespaces.length === 0 ? [undefined] : [...new Set(options.namespaces)];
    for (const namespace of scopes) {
      for (const resource of RESOURCES) {
        const handler = resource === 'authpolicies' ? this.#policyHandler(namespace) : this.#secretHandler(namespace);
        const informer = new ResilientInformer({
          api,
          resource,
          namespace,
          labelSelector: resource === 'authpolicies' ? options.policySelector : this.#secretSelector,
          handler: { ...handler, listed: (count) => this.#listed(informer, count) },
          logger: options.logger,
          metrics: options.metrics,
          backoff: options.backoff,
          pageSize: options.pageSize,
          clock: this.#clock,
        });
        this.#informers.push(informer);
      }
    }
  }

  get synced(): boolean {
    return this.#waiting.size === 0 && this.#started;
  }

  /** Resolves once every informer has listed once and the store serves. */
  whenSynced(): Promise<void> {
    return this.#synced;
  }

  /** The label selector Secrets are read with. */
  get secretSelector(): string {
    return this.#secretSelector;
  }

  /** Status writes the API accepted. */
  get statusWrites(): number {
    return this.#writer.writes;
  }

  /** Resolves when no status write is queued or in flight. */
  statusIdle(): Promise<void> {
    return this.#writer.idle();
  }

  start(): void {
    if (this.#started) return;
    this.#started = true;
    this.#startedAt = this.#clock();
    const { metrics, logger } = this.#o;
    metrics.sourceSynced.labels(SOURCE).set(0);
    for (const r of RESOURCES) metrics.watchDown.labels(r).set(0);
    for (const informer of this.#informers) this.#waiting.add(informer);
    logger.info('kubernetes source starting', {
      server: this.#o.kubeConfig.server,
      kubeconfig: this.#o.kubeConfig.description,
      namespaces: this.#o.namespaces.length === 0 ? 'all' : this.#o.namespaces.join(','),
      policySelector: this.#o.policySelector,
      secretSelector: this.#secretSelector,
    });
    for (const informer of this.#informers) informer.start();
    this.#monitor = setInterval(() => this.#checkWatches(), this.#o.monitorIntervalMs ?? 1000);
    this.#monitor.unref();
  }

  /** The store's listener calls this for every status change. */
  statusChanged(status: PolicyStatus): void {
    if (this.#policies.has(status.id)) this.#writer.enqueue(status.id);
  }

  async stop(): Promise<void> {
    if (this.#monitor !== undefined) clearInterval(this.#monitor);
    this.#monitor = undefined;
    this.#writer.stop();
    await Promise.all(this.#informers.map((i) => i.stop()));
  }

  #policyHandler(namespace: string | undefined): Omit<InformerHandler, 'listed'> {
    const { store, logger, metrics } = this.#o;
    return {
      upsert: (object, ns, name) => {
        const id = policyKey(ns, name);
        const converted = toPolicy(object);
        if (!converted.ok) {
          metrics.compileErrors.labels(SOURCE).inc();
          logger.error('AuthPolicy from the API cannot be read; ignored', { policy: id, problem: converted.problem, watch: namespace ?? '*' });
          return;
        }
        const next = converted.value;
        const previous = this.#policies.get(id);
        // Status writes and label edits come back as MODIFIED events: only a new spec is recompiled.
        const changed = previous === undefined || !sameSpec(previous, next);
        // The policy the store holds, and its id as the key: no second spec text or id for a status write.
        const held: ObservedPolicy = changed ? next : { resource: previous.resource, resourceVersion: next.resourceVersion, status: next.status };
        this.#policies.set(held.resource.id, held);
        if (changed) store.upsertPolicy(held.resource);
        this.#writer.enqueue(held.resource.id);
      },
      remove: (ns, name) => {
        const id = policyKey(ns, name);
        this.#policies.delete(id);
        this.#writer.forget(id);
        store.deletePolicy(ns, name);
      },
    };
  }

  #secretHandler(namespace: string | undefined): Omit<InformerHandler, 'listed'> {
    const { store, logger, metrics } = this.#o;
    return {
      upsert: (object, ns, name) => {
        const converted = toSecret(object);
        if (!converted.ok) {
          // Fail closed: keys of a Secret that cannot be read are not kept from its older version.
          metrics.compileErrors.labels(SOURCE).inc();
          logger.error('Secret from the API cannot be read; its keys are dropped', { secret: `${ns}/${name}`, problem: converted.problem, watch: namespace ?? '*' });
          store.deleteSecret(ns, name);
          return;
        }
        store.upsertSecret(converted.value);
      },
      remove: (ns, name) => store.deleteSecret(ns, name),
    };
  }

  #listed(informer: ResilientInformer, count: number): void {
    const { logger, metrics, store } = this.#o;
    logger.info('kubernetes objects listed', { resource: informer.resource, namespace: informer.scope, count });
    if (!this.#waiting.delete(informer) || this.#waiting.size > 0) return;
    store.markSynced();
    metrics.sourceSynced.labels(SOURCE).set(1);
    logger.info('kubernetes source synced', { policies: this.#policies.size, secrets: store.secretCount, ms: this.#clock() - this.#startedAt });
    this.#resolveSynced();
    settleMemoryLogged('sync', logger);
  }

  /** The writer's own change, known before its watch event: saves comparing against a stale status. */
  #written(object: Record<string, unknown>, basedOn: string): void {
    const converted = toPolicy(object);
    if (!converted.ok) return;
    const id = policyKey(converted.value.resource.namespace, converted.value.resource.name);
    const current = this.#policies.get(id);
    // Only the direct successor of what the write was computed from; a newer event has won otherwise.
    const next = converted.value;
    // The held policy stays (the store's), with the write's version and status.
    if (current !== undefined && current.resourceVersion === basedOn && sameSpec(current, next)) this.#policies.set(id, { resource: current.resource, resourceVersion: next.resourceVersion, status: next.status });
  }

  #checkWatches(): void {
    const now = this.#clock();
    const worst = new Map<ResourceName, number>(RESOURCES.map((r) => [r, 0]));
    for (const informer of this.#informers) {
      const since = informer.downSince;
      if (since === undefined) {
        this.#stale.delete(informer);
        continue;
      }
      const down = now - since;
      worst.set(informer.resource, Math.max(worst.get(informer.resource) ?? 0, down / 1000));
      if (down >= this.#o.staleAfterMs && !this.#stale.has(informer)) {
        this.#stale.add(informer);
        this.#o.logger.warn('kubernetes watch down for longer than --watch-stale-after; serving the last known policies', {
          resource: informer.resource,
          namespace: informer.scope,
          downSeconds: Math.round(down / 1000),
          error: informer.lastError,
        });
      }
    }
    for (const [resource, seconds] of worst) this.#o.metrics.watchDown.labels(resource).set(seconds);
  }
}

export function startKubernetesSource(options: KubernetesSourceOptions): KubernetesSource {
  const source = new KubernetesSource(options);
  source.start();
  return source;
}

function sameSpec(a: ObservedPolicy, b: ObservedPolicy): boolean {
  return (
    a.resource.generation === b.resource.generation &&
    a.resource.creationTimestamp === b.resource.creationTimestamp &&
    a.resource.same(b.resource)
  );
}
