// List, then watch from the list's resourceVersion, forever. client-node's informer gives up after
// any error but a 410; this one restarts after every error with exponential backoff and jitter,
// re-lists when the resourceVersion has expired (410, as an HTTP answer or an ERROR event), resumes
// the watch without a list otherwise, and keeps "down since" for the staleness alarm.
// It keeps only name -> resourceVersion per object (known-versions.ts: to skip replays and find
// deletions on a re-list); the objects themselves go straight to the handler.
import type { Logger } from '../telemetry/log.js';
import type { Metrics } from '../telemetry/metrics.js';
import { collectionPath, describe, KubernetesApiError, type KubernetesApi, type ResourceName } from './kubernetes-api.js';
import { KnownNames, KnownVersions } from './known-versions.js';
import { isObject } from './resource-fields.js';

export interface InformerHandler {
  /** An object is new or has a new resourceVersion. */
  upsert(object: Record<string, unknown>, namespace: string, name: string): void;
  /** An object was deleted or left the label selection. */
  remove(namespace: string, name: string): void;
  /** A complete list has been applied: the first one, or a re-list after the resourceVersion expired. */
  listed(count: number): void;
}

export interface BackoffOptions {
  /** First delay after a failure (doubled per further failure, with jitter: a random 50-100 %). */
  readonly initialMs: number;
  readonly maxMs: number;
}

const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 500, maxMs: 30_000 };

export interface InformerOptions {
  readonly api: KubernetesApi;
  readonly resource: ResourceName;
  /** undefined: every namespace. */
  readonly namespace: string | undefined;
  readonly labelSelector: string;
  readonly handler: InformerHandler;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly backoff?: BackoffOptions;
  /** Objects per list page (the API server's `limit`). */
  readonly pageSize?: number;
  readonly clock?: () => number;
}

type WatchEnd =
  | { readonly kind: 'expired' }
  | { readonly kind: 'closed'; readonly healthy: boolean }
  | { readonly kind: 'failed'; readonly error: unknown; readonly healthy: boolean };

/** A watch that delivered an event or stayed open this long counts as healthy: the backoff starts over. */
const HEALTHY_AFTER_MS = 10_000;

export class ResilientInformer {
  readonly #o: InformerOptions;
  readonly #path: string;
  readonly #clock: () => number;
  readonly #known = new KnownVersions();
  #rv = '';
  #stopped = false;
  #running: Promise<void> | undefined;
  #controller: AbortController | undefined;
  #listAbort: AbortController | undefined;
  #sleepTimer: { timer: NodeJS.Timeout; wake: () => void } | undefined;
  #attempt = 0;
  #downSince: number | undefined;
  #lastError = '';

  constructor(options: InformerOptions) {
    this.#o = options;
    this.#path = collectionPath(options.resource, options.namespace);
    this.#clock = options.clock ?? Date.now;
  }

  get resource(): ResourceName {
    return this.#o.resource;
  }

  /** `all namespaces` or the namespace, for logs. */
  get scope(): string {
    return this.#o.namespace ?? '*';
  }

  /** When the watch went down (ms since the epoch), or undefined while it is up. */
  get downSince(): number | undefined {
    return this.#downSince;
  }

  /** The last failure, for logs. */
  get lastError(): string {
    return this.#lastError;
  }

  get size(): number {
    return this.#known.size;
  }

  start(): void {
    if (this.#running !== undefined) return;
    this.#running = this.#run().catch((e: unknown) => {
      // #run handles its own failures; reaching here is a defect, reported loudly rather than lost.
      this.#o.logger.error('kubernetes informer stopped unexpectedly', { resource: this.#o.resource, namespace: this.scope, error: e });
    });
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#controller?.abort();
    this.#listAbort?.abort();
    if (this.#sleepTimer !== undefined) {
      clearTimeout(this.#sleepTimer.timer);
      this.#sleepTimer.wake();
    }
    // Aborting ends a watch or list at once; the bound is a backstop, not a wait for the server.
    let timer: NodeJS.Timeout | undefined;
    const cap = new Promise<void>((resolve) => (timer = setTimeout(resolve, 1000)));
    await Promise.race([this.#running, cap]);
    clearTimeout(timer);
  }

  async #run(): Promise<void> {
    while (!this.#stopped) {
      let failure: unknown;
      let healthy = false;
      try {
        if (this.#rv === '') await this.#list();
        if (this.#stopped) return;
        const end = await this.#watchOnce();
        if (this.#stopped) return;
        switch (end.kind) {
          case 'expired':
            this.#o.logger.info('kubernetes watch expired; listing again', { resource: this.#o.resource, namespace: this.scope });
            this.#rv = '';
            continue;
          case 'closed':
            // The server ends watches routinely (timeoutSeconds); only a watch that keeps closing at
            // once is slowed down, and that is not an outage.
            if (end.healthy) this.#attempt = 0;
            else await this.#sleep(this.#delay(++this.#attempt));
            continue;
          case 'failed':
            failure = end.error;
            healthy = end.healthy;
            break;
          default: {
            const never: never = end;
            throw new Error(`unknown watch end ${JSON.stringify(never)}`);
          }
        }
      } catch (e) {
        failure = e;
      }
      if (this.#stopped) return;
      if (healthy) this.#attempt = 0;
      this.#failed(failure);
      await this.#sleep(this.#delay(++this.#attempt));
    }
  }

  async #list(): Promise<void> {
    const abort = new AbortController();
    this.#listAbort = abort;
    const seen = new KnownNames();
    let token: string | undefined;
    let rv = '';
    do {
      const page = await this.#o.api.listPage(this.#path, { labelSelector: this.#o.labelSelector, limit: this.#o.pageSize ?? 500, continueToken: token }, abort.signal);
      if (this.#stopped) return;
      for (const item of page.items) {
        const meta = this.#apply(item);
        if (meta !== undefined) seen.add(meta.namespace, meta.name);
      }
      token = page.continueToken;
      rv = page.resourceVersion;
    } while (token !== undefined);
    this.#listAbort = undefined;
    for (const [namespace, name] of this.#known.missingFrom(seen)) this.#forget(namespace, name);
    this.#rv = rv;
    this.#o.handler.listed(seen.size);
  }

  #watchOnce(): Promise<WatchEnd> {
    return new Promise((resolve) => {
      const started = this.#clock();
      let established = false;
      let finished = false;
      let expired = false;
      let events = 0;
      let streamError: KubernetesApiError | undefined;
      const finish = (err: unknown): void => {
        if (finished) return;
        finished = true;
        this.#controller = undefined;
        const healthy = established && (events > 0 || this.#clock() - started >= HEALTHY_AFTER_MS);
        if (expired || statusOf(err) === 410) resolve({ kind: 'expired' });
        else if (streamError !== undefined) resolve({ kind: 'failed', error: streamError, healthy });
        // A client-side inactivity timeout on an open watch is a quiet resource, not a failure.
        else if (established && (err === null || err === undefined || isTimeout(err))) resolve({ kind: 'closed', healthy });
        else resolve({ kind: 'failed', error: err ?? new KubernetesApiError(0, undefined, 'the watch ended before it started'), healthy });
      };
      const onEvent = (type: string, object: unknown): void => {
        if (finished) return;
        events++;
        switch (type) {
          case 'ADDED':
          case 'MODIFIED':
            this.#apply(object);
            break;
          case 'DELETED': {
            const meta = metaOf(object);
            if (meta !== undefined) this.#forget(meta.namespace, meta.name);
            break;
          }
          case 'BOOKMARK':
            break;
          case 'ERROR': {
            const code = isObject(object) && typeof object.code === 'number' ? object.code : 0;
            if (code === 410) expired = true;
            else {
              const message = isObject(object) && typeof object.message === 'string' ? object.message : 'error event';
              streamError = new KubernetesApiError(code, isObject(object) && typeof object.reason === 'string' ? object.reason : undefined, `watch ${this.#path}: ${message}`);
            }
            return;
          }
          default:
            return;
        }
        const rv = isObject(object) && isObject(object.metadata) ? object.metadata.resourceVersion : undefined;
        if (typeof rv === 'string' && rv !== '') this.#rv = rv;
      };
      const params: Record<string, string | number | boolean | undefined> = {
        resourceVersion: this.#rv,
        allowWatchBookmarks: true,
        // Spread reconnects of many replicas over time, as client-go does (5-10 minutes).
        timeoutSeconds: 300 + Math.floor(Math.random() * 300),
        labelSelector: this.#o.labelSelector === '' ? undefined : this.#o.labelSelector,
      };
      const controller = new AbortController();
      this.#controller = controller;
      this.#o.api.watch(this.#path, params, onEvent, controller.signal).then(
        (open) => {
          if (finished) return;
          established = true;
          this.#up();
          void open.ended.then(finish);
        },
        (e: unknown) => finish(e),
      );
    });
  }

  /** Records an object's version; hands it on when it is new or changed. Returns its metadata. */
  #apply(object: unknown): Meta | undefined {
    const meta = metaOf(object);
    if (meta === undefined || !isObject(object)) {
      this.#o.logger.warn('kubernetes object without metadata.name/namespace/resourceVersion ignored', { resource: this.#o.resource, namespace: this.scope });
      return undefined;
    }
    if (this.#known.has(meta.namespace, meta.name, meta.resourceVersion)) return meta;
    this.#known.set(meta.namespace, meta.name, meta.resourceVersion);
    this.#guard(meta.namespace, meta.name, () => this.#o.handler.upsert(object, meta.namespace, meta.name));
    return meta;
  }

  #forget(namespace: string, name: string): void {
    if (!this.#known.delete(namespace, name)) return;
    this.#guard(namespace, name, () => this.#o.handler.remove(namespace, name));
  }

  /** A failing handler is reported here and does not end the watch. */
  #guard(namespace: string, name: string, apply: () => void): void {
    try {
      apply();
    } catch (e) {
      this.#o.logger.error('kubernetes object could not be applied', { resource: this.#o.resource, object: `${namespace}/${name}`, error: e });
    }
  }

  #up(): void {
    if (this.#downSince === undefined) return;
    const seconds = Math.round((this.#clock() - this.#downSince) / 1000);
    this.#downSince = undefined;
    this.#o.logger.info('kubernetes watch restored', { resource: this.#o.resource, namespace: this.scope, downSeconds: seconds });
  }

  #failed(error: unknown): void {
    const first = this.#downSince === undefined;
    this.#downSince ??= this.#clock();
    this.#lastError = describe(error);
    this.#o.metrics.watchRestarts.labels(this.#o.resource).inc();
    const fields = { resource: this.#o.resource, namespace: this.scope, error: this.#lastError, attempt: this.#attempt + 1 };
    // The first failure of an outage is worth a warning; the retries that follow are debug noise.
    if (first) this.#o.logger.warn('kubernetes watch failed; retrying with backoff', fields);
    else this.#o.logger.debug('kubernetes watch still failing', fields);
  }

  #delay(attempt: number): number {
    const { initialMs, maxMs } = this.#o.backoff ?? DEFAULT_BACKOFF;
    const full = Math.min(maxMs, initialMs * 2 ** Math.min(attempt - 1, 30));
    return Math.round(full / 2 + (Math.random() * full) / 2);
  }

  #sleep(ms: number): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = (): void => {
        this.#sleepTimer = undefined;
        resolve();
      };
      this.#sleepTimer = { timer: setTimeout(wake, ms), wake };
    });
  }
}

interface Meta {
  readonly namespace: string;
  readonly name: string;
  readonly resourceVersion: string;
}

function metaOf(object: unknown): Meta | undefined {
  if (!isObject(object) || !isObject(object.metadata)) return undefined;
  const { namespace, name, resourceVersion } = object.metadata;
  if (typeof namespace !== 'string' || typeof name !== 'string' || typeof resourceVersion !== 'string' || name === '') return undefined;
  return { namespace, name, resourceVersion };
}

function statusOf(err: unknown): number | undefined {
  if (err instanceof KubernetesApiError) return err.status;
  if (isObject(err) && typeof err.statusCode === 'number') return err.statusCode;
  return undefined;
}

function isTimeout(err: unknown): boolean {
  return isObject(err) && err.name === 'TimeoutError';
}
