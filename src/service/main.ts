// Composition root: settings -> sources -> store/index -> engine -> servers; and orderly shutdown.
import { createJwtServices, type JwtServices } from '../authn/jwt/services.js';
import { explain } from '../core/explain.js';
import type { CheckEngine } from '../core/engine-port.js';
import type { CheckInputInit } from '../core/input.js';
import { Pipeline } from '../core/pipeline.js';
import { GatehouseEngine } from './metered-engine.js';
import { closeParts, listen, type Part, sleep, startupAborted, within } from './lifecycle.js';
import type { CompileEnv } from '../policy/compile-context.js';
import { PolicyStore, type PolicyStatus } from '../policy/store.js';
import { createSessionServices } from '../session/services.js';
import { SETTINGS, type Settings } from './settings.js';
import { flagNames } from '../args/flags.js';
import { FileSource } from '../sources/files.js';
import type { ClusterAccess } from '../sources/kube-access.js';
import type { KubernetesSource } from '../sources/kubernetes.js';
import { createLogger, type Logger } from '../telemetry/log.js';
import { limitWarnings, LogLimiter, reportSuppressed } from '../telemetry/log-limiter.js';
import { Metrics } from '../telemetry/metrics.js';
import { startAdminServer } from '../transport/admin.js';
import { startGrpcServer } from '../transport/grpc.js';
import { startHttpServer } from '../transport/http.js';
import { TlsCertificates, type TlsFile } from '../transport/tls.js';

export interface Gatehouse {
  readonly grpcPort: number;
  /** The HTTP forward-auth port; undefined when --http-address is off. */
  readonly httpPort: number | undefined;
  readonly adminPort: number;
  readonly store: PolicyStore;
  readonly metrics: Metrics;
  /** What both transports ask: the in-process Check bench drives it without a network. */
  readonly engine: CheckEngine;
  /**
   * Readiness false, in-flight Checks finish (up to the grace period), servers and connections close.
   * Takes at most shutdown delay + grace + CLOSE_MARGIN_MS, whatever Redis or the API server do.
   */
  stop(): Promise<void>;
}

export interface Overrides {
  readonly logger?: Logger;
  readonly clock?: () => number;
  readonly metrics?: Metrics;
  readonly jwt?: JwtServices;
  /** The API server to read with --kubernetes (default: in-cluster, else $KUBECONFIG or ~/.kube/config). */
  readonly kubeConfig?: ClusterAccess;
  /** Aborted during startup: what was started is closed and startGatehouse rejects with `startup_aborted`. */
  readonly signal?: AbortSignal;
  /** Thins the warnings a client can cause once per request (default: one per key per 10 s). */
  readonly logLimiter?: LogLimiter;
}

/** After the grace period, the time the rest (admin server, Redis connections, sources) has to close. */
const CLOSE_MARGIN_MS = 500;
// Startup waits this long for Redis; a Redis that is down does not stop the process.
const REDIS_STARTUP_WAIT_MS = 5000;
// An HTTP forward-auth decision still waiting (a stalled Redis, say) after this is denied with 503.
const HTTP_DECISION_TIMEOUT_MS = 2000;

/** `settings` come from loadSettings, which has checked them (one policy source among them). */
export async function startGatehouse(settings: Settings, overrides: Overrides = {}): Promise<Gatehouse> {
  const logger = overrides.logger ?? createLogger(settings.logLevel);
  // Whatever has been started, in order; closed again if startup fails or is aborted.
  const parts: Part[] = [];
  try {
    return await start(settings, overrides, logger, parts);
  } catch (e) {
    await closeAll(parts, logger);
    throw e;
  }
}

async function start(settings: Settings, overrides: Overrides, logger: Logger, parts: Part[]): Promise<Gatehouse> {
  const metrics = overrides.metrics ?? new Metrics();
  const clock = overrides.clock ?? Date.now;
  const signal = overrides.signal;
  const checkpoint = (): void => {
    if (signal?.aborted === true) throw startupAborted();
  };
  // First, so unusable certificate files stop the process before anything is dialled. One set for
  // both Check listeners; the admin port stays plain HTTP for kubelet probes and Prometheus.
  const tls = await loadTls(settings, logger);
  if (tls !== undefined) parts.push({ name: 'tls certificates', close: () => tls.close() });
  const sessions = createSessionServices({
    redisUrl: settings.redisUrl,
    onReject: (reason, policy) => metrics.sessionRejected.labels(policy, reason).inc(),
    redisCacheMs: settings.redisSessionCacheMs,
    clock,
    onCache: metrics.sessionCacheEvents(),
  });
  parts.push({ name: 'session store', close: () => sessions.close() });
  const jwt =
    overrides.jwt ??
    createJwtServices({
      redisUrl: settings.redisUrl,
      logger: logger.child({ component: 'jwt' }),
      clock,
      onRevocationWidened: (to) => metrics.revocationWidened.labels(to).inc(),
    });
  parts.push({ name: 'jwt services', close: () => jwt.close() });
  // Redis commands are not queued while disconnected: connect before serving. A Redis that is down
  // does not stop the process: its sessions and revocation checks answer 503 (fail closed) until it
  // reconnects. Both wait at once, and a signal ends the wait.
  const unreachable = (msg: string): ((e: unknown) => void) => (e) => {
    if (signal?.aborted !== true) logger.error(msg, { error: e });
  };
  const redisUp = Promise.all([
    sessions.ready(REDIS_STARTUP_WAIT_MS).catch(unreachable('redis not reachable at startup; redis sessions fail closed until it is')),
    jwt.revocation.ready(REDIS_STARTUP_WAIT_MS).catch(unreachable('revocation redis not reachable at startup; revocation checks fail closed until it is')),
  ]);
  await within(redisUp, Number.POSITIVE_INFINITY, signal);
  checkpoint();
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
  if (settings.kubernetes) {
    // Loaded only in Kubernetes mode. @kubernetes/client-node (tens of MB) is imported only for a
    // kubeconfig that needs it (exec plugins, auth providers): see sources/kube-config.ts.
    const [{ loadKubeConfig }, { startKubernetesSource }] = await Promise.all([import('../sources/kube-config.js'), import('../sources/kubernetes.js')]);
    const kubeConfig = overrides.kubeConfig ?? (await loadKubeConfig());
    checkpoint();
    const source = startKubernetesSource({
      kubeConfig,
      store,
      logger: logger.child({ component: 'kubernetes' }),
      metrics,
      namespaces: settings.watchNamespaces,
      policySelector: settings.policySelector,
      secretSelector: settings.secretSelector,
      staleAfterMs: settings.watchStaleAfterMs,
    });
    kubernetes = source;
    parts.push({ name: 'kubernetes source', close: () => source.stop() });
  } else {
    const source = new FileSource({ paths: settings.policies, store, logger, metrics });
    parts.push({ name: 'policy files', close: () => source.stop() });
    source.start();
  }

  let stopping: Promise<void> | undefined;
  const warnings = overrides.logLimiter ?? new LogLimiter();
  const engine = new GatehouseEngine({ index: () => store.index, clock, metrics, logger, onNoPolicy: settings.defaultDecision, warnings });
  // The transports warn of failures per request too (`check failed` for internal errors): per message and code.
  const transportLogger = limitWarnings(
    logger,
    warnings,
    (msg, fields) => `transport\0${msg}\0${String(fields?.code)}`,
    (msg, fields) => ({ msg, fields: { code: fields?.code } }),
  );
  // A flood that stops inside its window has no next line to carry its count: reported once the window closes.
  const stopReporting = reportSuppressed(logger, warnings);
  parts.push({ name: 'suppressed-warning reports', close: () => stopReporting() });
  const grpc = await listen(settings, 'grpcAddress', (address) =>
    startGrpcServer({
      address,
      engine,
      maxRequestBytes: settings.maxRequestBytes,
      maxHeaderBytes: settings.maxHeaderBytes,
      deadlineMarginMs: settings.deadlineMarginMs,
      logger: transportLogger,
      tls,
    }),
  );
  parts.push({ name: 'grpc server', close: () => grpc.close(0) });
  checkpoint();
  const http =
    settings.httpAddress === undefined
      ? undefined
      : await listen(settings, 'httpAddress', (address) =>
          startHttpServer({
            address,
            engine,
            maxHeaderBytes: settings.maxHeaderBytes,
            maxRequestBytes: settings.maxRequestBytes,
            decisionTimeoutMs: HTTP_DECISION_TIMEOUT_MS,
            logger: transportLogger,
            tls,
          }),
        );
  if (http !== undefined) parts.push({ name: 'http server', close: () => http.close(0) });
  checkpoint();
  const readiness = (): string | undefined => {
    if (stopping !== undefined) return 'shutting down';
    if (store.index === undefined) return 'policies not loaded';
    return undefined;
  };
  // Explains decide on the live policies and Secrets with a pipeline of their own: dry runs, nothing counted.
  const explainer = new Pipeline({ onNoPolicy: settings.defaultDecision });
  const explainHandler = settings.enableExplain ? (init: CheckInputInit) => explain(explainer, store.index, init, clock()) : undefined;
  const admin = await listen(settings, 'adminAddress', (address) => startAdminServer(address, metrics.registry, readiness, explainHandler));
  parts.push({ name: 'admin server', close: () => admin.close() });
  checkpoint();
  grpc.setServing(readiness() === undefined);
  void kubernetes?.whenSynced().then(() => grpc.setServing(readiness() === undefined));
  logger.info('gatehouse started', {
    grpc: settings.grpcAddress,
    grpcPort: grpc.port,
    http: settings.httpAddress,
    httpPort: http?.port,
    admin: settings.adminAddress,
    adminPort: admin.port,
    tls: tls === undefined ? 'off' : tls.requireClientCertificate ? 'mutual' : 'on',
    explain: settings.enableExplain,
  });

  const shutdown = async (): Promise<void> => {
    // Not ready first, still answering: endpoints and Envoy health checks move traffic away
    // before the listener closes, so a rolling restart fails no Check.
    grpc.setServing(false);
    logger.info('shutting down: not ready, still answering', { delayMs: settings.shutdownDelayMs });
    await sleep(settings.shutdownDelayMs);
    await Promise.all([grpc.close(settings.shutdownGraceMs), http?.close(settings.shutdownGraceMs)]);
    await closeAll(parts, logger);
    logger.info('gatehouse stopped');
  };
  return {
    grpcPort: grpc.port,
    httpPort: http?.port,
    adminPort: admin.port,
    store,
    metrics,
    engine,
    stop: () => (stopping ??= shutdown()),
  };
}

/** The certificates of --tls-cert-file and friends, checked; undefined when TLS is off. */
async function loadTls(settings: Settings, logger: Logger): Promise<TlsCertificates | undefined> {
  const file = (key: 'tlsCertFile' | 'tlsKeyFile' | 'tlsClientCaFile', path: string): TlsFile => {
    const row = SETTINGS.find((r) => r.key === key);
    return { path, name: row === undefined ? key : flagNames(row) };
  };
  const { tlsCertFile, tlsKeyFile, tlsClientCaFile } = settings;
  if (tlsCertFile === undefined || tlsKeyFile === undefined) return undefined;
  return TlsCertificates.load({
    cert: file('tlsCertFile', tlsCertFile),
    key: file('tlsKeyFile', tlsKeyFile),
    clientCa: tlsClientCaFile === undefined ? undefined : file('tlsClientCaFile', tlsClientCaFile),
    reloadIntervalMs: settings.tlsReloadIntervalMs,
    logger: logger.child({ component: 'tls' }),
  });
}

/** Closes every part within CLOSE_MARGIN_MS; names in the log any that did not close in time. */
async function closeAll(parts: readonly Part[], logger: Logger): Promise<void> {
  const open = await closeParts(parts, CLOSE_MARGIN_MS, (part, error) => logger.warn('closing failed', { part, error }));
  if (open.length > 0) logger.warn('not closed in time; left to the process exit', { parts: open, waitedMs: CLOSE_MARGIN_MS });
}

function reportStatus(logger: Logger, metrics: Metrics, s: PolicyStatus, prev: PolicyStatus | undefined): void {
  const fields = { policy: s.id, generation: s.observedGeneration, reason: s.reason, serving: s.serving, message: s.message };
  if (s.ready) {
    for (const p of s.problems) logger.warn('policy problem', { policy: s.id, field: p.path, problem: p.message, severity: p.severity });
    logger.debug('policy ready', fields);
    return;
  }
  // A conflict or a provider not answering yet is no compile error: the policy itself is sound.
  if (s.reason !== 'HostConflict' && s.reason !== 'ProviderUnavailable' && (prev === undefined || prev.observedGeneration !== s.observedGeneration || prev.ready)) {
    metrics.compileErrors.labels('policy').inc();
  }
  for (const p of s.problems) logger.warn('policy problem', { policy: s.id, field: p.path, problem: p.message, severity: p.severity });
  logger.error('policy not ready', fields);
}
