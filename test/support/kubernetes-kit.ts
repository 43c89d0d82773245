// What the Kubernetes source tests share: the fake API server, edits to the objects it holds, a
// source wired to a real PolicyStore, and readers of the status the source writes back. The objects
// themselves come from fixtures.ts.
import type { TestContext } from 'node:test';
import { PolicyStore } from '../../src/policy/store.js';
import type { ClusterAccess } from '../../src/sources/kube-access.js';
import { KubernetesSource, type KubernetesSourceOptions } from '../../src/sources/kubernetes.js';
import { createLogger } from '../../src/telemetry/log.js';
import { Metrics } from '../../src/telemetry/metrics.js';
import { at, FakeApiServer, isJsonObject, type FakeApiServerOptions, type JsonObject } from './fake-apiserver/index.js';

export async function startFakeServer(t: TestContext, options: FakeApiServerOptions = {}): Promise<FakeApiServer> {
  const server = new FakeApiServer(options);
  await server.start();
  t.after(() => server.stop());
  return server;
}

/** Replaces an object's spec (or data) keeping its metadata, as `kubectl apply` would. */
export function withSpec(server: FakeApiServer, namespace: string, name: string, spec: JsonObject): JsonObject {
  const current = server.get('AuthPolicy', namespace, name);
  if (current === undefined) throw new Error(`no AuthPolicy ${namespace}/${name}`);
  return server.update({ ...current, spec });
}

export function withKeys(server: FakeApiServer, namespace: string, name: string, keys: string): JsonObject {
  const current = server.get('Secret', namespace, name);
  if (current === undefined) throw new Error(`no Secret ${namespace}/${name}`);
  return server.update({ ...current, data: { api_key: Buffer.from(keys).toString('base64') } });
}

/** Replaces an object's labels (a metadata change: no new generation). */
export function relabel(server: FakeApiServer, kind: 'AuthPolicy' | 'Secret', namespace: string, name: string, labels: Record<string, string>): JsonObject {
  const current = server.get(kind, namespace, name);
  const metadata = current?.metadata;
  if (current === undefined || !isJsonObject(metadata)) throw new Error(`no ${kind} ${namespace}/${name}`);
  return server.update({ ...current, metadata: { ...metadata, labels } });
}

export interface ReadyCondition {
  readonly type: unknown;
  readonly status: unknown;
  readonly reason: unknown;
  readonly message: unknown;
  readonly lastTransitionTime: unknown;
  readonly observedGeneration: unknown;
}

/** The Ready condition the server holds for a policy, or undefined. */
export function readyOf(server: FakeApiServer, namespace: string, name: string): ReadyCondition | undefined {
  const conditions = at(server.get('AuthPolicy', namespace, name), 'status', 'conditions');
  if (!Array.isArray(conditions)) return undefined;
  const ready: unknown = conditions.find((c) => at(c, 'type') === 'Ready');
  if (ready === undefined) return undefined;
  return {
    type: at(ready, 'type'),
    status: at(ready, 'status'),
    reason: at(ready, 'reason'),
    message: at(ready, 'message'),
    lastTransitionTime: at(ready, 'lastTransitionTime'),
    observedGeneration: at(ready, 'observedGeneration'),
  };
}

export interface TestSource {
  readonly source: KubernetesSource;
  readonly store: PolicyStore;
  readonly metrics: Metrics;
  readonly logs: string[];
  /** Milliseconds added to the wall clock the source sees (lastTransitionTime, staleness). */
  advance(ms: number): void;
}

export type SourceOverrides = Partial<Omit<KubernetesSourceOptions, 'store' | 'logger' | 'metrics' | 'kubeConfig'>> & { readonly kubeConfig?: ClusterAccess };

/** A source over a real PolicyStore whose status changes reach the source, as main.ts wires them. */
export function startSource(t: TestContext, server: FakeApiServer, overrides: SourceOverrides = {}): TestSource {
  let offset = 0;
  const clock = (): number => Date.now() + offset;
  const logs: string[] = [];
  const logger = createLogger('debug', (line) => void logs.push(line));
  const metrics = new Metrics({ processMetrics: false });
  let source: KubernetesSource | undefined;
  const store = new PolicyStore({ clock }, { onStatus: (s) => source?.statusChanged(s) });
  source = new KubernetesSource({
    kubeConfig: server.kubeConfig(),
    store,
    logger,
    metrics,
    namespaces: [],
    policySelector: '',
    secretSelector: '',
    staleAfterMs: 60_000,
    backoff: { initialMs: 50, maxMs: 400 },
    monitorIntervalMs: 50,
    clock,
    ...overrides,
  });
  source.start();
  const started = source;
  t.after(() => started.stop());
  return { source: started, store, metrics, logs, advance: (ms) => void (offset += ms) };
}

/** The value of a gauge or counter child, 0 when it was never set. */
export async function metricValue(metrics: Metrics, name: string, labels: Record<string, string>): Promise<number> {
  const metric = metrics.registry.getSingleMetric(name);
  if (metric === undefined) throw new Error(`no metric ${name}`);
  const { values } = await metric.get();
  const found = values.find((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val));
  return found?.value ?? 0;
}
