// Composition root: settings -> sources -> store/index -> engine -> servers; and orderly shutdown.
import { GatehouseEngine } from './check-engine.js';
import type { CompileEnv } from './policy/compile-context.js';
import { PolicyStore, type PolicyStatus } from './policy/store.js';
import { createSessionServices } from './session/stores.js';
import type { Settings } from './settings.js';
import { FileSource } from './sources/files.js';
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
  const env: CompileEnv = { clock, sessions };
  const store = new PolicyStore(env, {
    onStatus: (s, prev) => reportStatus(logger, metrics, s, prev),
    onIndex: (index) => {
      metrics.apiKeys.set(index.keyCount);
      let ready = 0;
      let invalid = 0;
      for (const s of store.statuses()) s.ready ? ready++ : invalid++;
      metrics.policies.labels('ready').set(ready);
      metrics.policies.labels('invalid').set(invalid);
    },
  });
  if (settings.policies.length === 0 && !settings.kubernetes) {
    throw new Error('no policy source: give --policies <file|dir> or --kubernetes');
  }
  if (settings.kubernetes) throw new Error('--kubernetes: the Kubernetes source is not available yet; use --policies');
  const files = new FileSource({ paths: settings.policies, store, logger, metrics });
  files.start();

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
  logger.info('gatehouse started', { grpc: settings.grpcAddress, grpcPort: grpc.port, admin: settings.adminAddress, adminPort: admin.port });

  return {
    grpcPort: grpc.port,
    adminPort: admin.port,
    store,
    metrics,
    stop: async () => {
      if (stopping) return;
      stopping = true;
      grpc.setServing(false);
      files.stop();
      await grpc.close(settings.shutdownGraceMs);
      await admin.close();
      await sessions.close();
      logger.info('gatehouse stopped');
    },
  };
}

function reportStatus(logger: Logger, metrics: Metrics, s: PolicyStatus, prev: PolicyStatus | undefined): void {
  const fields = { policy: s.id, generation: s.observedGeneration, reason: s.reason, serving: s.serving, message: s.message };
  if (s.ready) {
    for (const p of s.problems) logger.warn('policy problem', { policy: s.id, field: p.path, problem: p.message, severity: p.severity });
    logger.info('policy ready', fields);
    return;
  }
  if (s.reason !== 'HostConflict' && (prev === undefined || prev.observedGeneration !== s.observedGeneration || prev.ready)) {
    metrics.compileErrors.labels('policy').inc();
  }
  for (const p of s.problems) logger.warn('policy problem', { policy: s.id, field: p.path, problem: p.message, severity: p.severity });
  logger.error('policy not ready', fields);
}
