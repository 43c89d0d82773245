// Composition root: settings -> sources -> store/index -> engine -> servers; and orderly shutdown.
import type { KubeConfig } from '@kubernetes/client-node';
import { createJwtServices, type JwtServices } from './authn/jwt/services.js';
import { GatehouseEngine } from './metered-engine.js';
import type { CompileEnv } from './policy/compile-context.js';
import { PolicyStore, type PolicyStatus } from './policy/store.js';
import { createSessionServices } from './session/services.js';
import type { Settings } from './settings.js';
import { FileSource } from './sources/files.js';
import { type KubernetesSource, loadKubeConfig, startKubernetesSource } from './sources/kubernetes.js';
import { createLogger, type Logger } from './telemetry/log.js';
import { Metrics } from './telemetry/metrics.js';
import { startAdminServer } from './transport/admin.js';
import { startGrpcServer } from './transport/grpc.js';

export interface Gatehouse {
  readonly grpcPort: number;
  readonly adminPort: number;
  readonly store: PolicyStore;
  readonly metrics: Metrics;
  /** Readiness false, in-flight Checks finish (up to the grace period), servers close. */
  stop(): Promise<void>;
}

export interface Overrides {
  readonly logger?: Logger;
  readonly clock?: () => number;
  readonly metrics?: Metrics;
  readonly jwt?: JwtServices;
  /** The API server to read with --kubernetes (default: in-cluster, else $KUBECONFIG or ~/.kube/config). */
  readonly kubeConfig?: KubeConfig;
}

export async function startGatehouse(settings: Settings, overrides: Overrides = {}): Promise<Gatehouse> {
  const logger = overrides.logger ?? createLogger(settings.logLevel);
  const metrics = overrides.metrics ?? new Metrics();
  const clock = overrides.clock ?? Date.now;
  const sessions = createSessionServices({
    redisUrl: settings.redisUrl,
    onReject: (reason, policy) => metrics.sessionRejected.labels(policy, reason).inc(),
  });
  // Redis commands are not queued while disconnected: connect before serving. A Redis that is down
  // does not stop the process: its sessions answer 503 (fail closed) until it reconnects.
  await sessions.ready().catch((e: unknown) => logger.error('redis not reachable at startup; redis sessions fail closed until it is', { error: e }));
  const jwt =
    overrides.jwt ??
    createJwtServices({
      redisUrl: settings.redisUrl,
      logger: logger.child({ component: 'jwt' }),
      clock,
      onRevocationWidened: (to) => metrics.revocationWidened.labels(to).inc(),
    });
  await jwt.revocation.ready(2000).catch((e: unknown) => logger.error('revocation redis not reachable at startup; revocation checks fail closed until it is', { error: e }));
  // jwt.revocation also holds cookie-session logouts: in Redis they reach every replica and outlive restarts.
  const env: CompileEnv = { clock, sessions, jwt };
  let kubernetes: KubernetesSource | undefined;
  const store = new PolicyStore(env, {
    onStatus: (s, prev) => {
      reportStatus(logger, metrics, s, prev);
      kubernetes?.statusChanged(s);
    },
    onIndex: (index) => {
      metrics.apiKeys.set(index.keyCount);
      const { ready, total } = store.counts();
      metrics.policies.labels('ready').set(ready);
      metrics.policies.labels('invalid').set(total - ready);
    },
  });
  if (settings.policies.length === 0 && !settings.kubernetes) {
    throw new Error('no policy source: give --policies <file|dir> or --kubernetes');
  }
  if (settings.kubernetes && settings.policies.length > 0) throw new Error('give either --policies or --kubernetes, not both');
  let files: FileSource | undefined;
  if (settings.kubernetes) {
    kubernetes = startKubernetesSource({
      kubeConfig: overrides.kubeConfig ?? loadKubeConfig(),
      store,
      logger: logger.child({ component: 'kubernetes' }),
      metrics,
      namespaces: settings.watchNamespaces,
      policySelector: settings.policySelector,
      secretSelector: settings.secretSelector,
      staleAfterMs: settings.watchStaleAfterMs,
    });
  } else {
    files = new FileSource({ paths: settings.policies, store, logger, metrics });
    files.start();
  }

  let stopping = false;
  const engine = new GatehouseEngine({ index: () => store.index, clock, metrics, logger, onNoPolicy: settings.defaultDecision });
  const grpc = await startGrpcServer({
    address: settings.grpcAddress,
    engine,
    maxRequestBytes: settings.maxRequestBytes,
    maxHeaderBytes: settings.maxHeaderBytes,
    deadlineMarginMs: settings.deadlineMarginMs,
    logger,
  });
  const readiness = (): string | undefined => {
    if (stopping) return 'shutting down';
    if (store.index === undefined) return 'policies not loaded';
    return undefined;
  };
  const admin = await startAdminServer(settings.adminAddress, metrics.registry, readiness);
  grpc.setServing(readiness() === undefined);
  void kubernetes?.whenSynced().then(() => grpc.setServing(readiness() === undefined));
  logger.info('gatehouse started', { grpc: settings.grpcAddress, grpcPort: grpc.port, admin: settings.adminAddress, adminPort: admin.port });

  return {
    grpcPort: grpc.port,
    adminPort: admin.port,
    store,
    metrics,
    stop: async () => {
      if (stopping) return;
      stopping = true;
      // Not ready first, still answering: endpoints and Envoy health checks move traffic away
      // before the listener closes, so a rolling restart fails no Check.
      grpc.setServing(false);
      logger.info('shutting down: not ready, still answering', { delayMs: settings.shutdownDelayMs });
      await new Promise((resolve) => setTimeout(resolve, settings.shutdownDelayMs));
      files?.stop();
      await kubernetes?.stop();
      await grpc.close(settings.shutdownGraceMs);
      await admin.close();
      await sessions.close();
      await jwt.close();
      logger.info('gatehouse stopped');
    },
  };
}

function reportStatus(logger: Logger, metrics: Metrics, s: PolicyStatus, prev: PolicyStatus | undefined): void {
  const fields = { policy: s.id, generation: s.observedGeneration, reason: s.reason, serving: s.serving, message: s.message };
  if (s.ready) {
    for (const p of s.problems) logger.warn('policy problem', { policy: s.id, field: p.path, problem: p.message, severity: p.severity });
    logger.debug('policy ready', fields);
    return;
  }
  if (s.reason !== 'HostConflict' && (prev === undefined || prev.observedGeneration !== s.observedGeneration || prev.ready)) {
    metrics.compileErrors.labels('policy').inc();
  }
  for (const p of s.problems) logger.warn('policy problem', { policy: s.id, field: p.path, problem: p.message, severity: p.severity });
  logger.error('policy not ready', fields);
}
