// What the bench's server process and the in-process Check bench share: gatehouse started on a
// scenario's policies exactly as `serve` starts it (plus the scenario's extras), and the count of
// JS heap bytes allocated over a span.
import { GCProfiler, getHeapStatistics } from 'node:v8';
import type { CheckEngine } from '../src/core/engine-port.js';
import { startedUp, startingUp } from '../src/service/startup-heap.js';
import type { Tally } from './protocol.js';

/** The transport limits the no-op floor runs with: gatehouse's defaults. */
export const MAX_REQUEST_BYTES = 8 * 1024 * 1024;
export const MAX_HEADER_BYTES = 64 * 1024;
export const DEADLINE_MARGIN_MS = 10;
const READY_WAIT_MS = 10_000;

export interface BenchGatehouse {
  readonly grpcPort: number;
  readonly httpPort: number | undefined;
  readonly engine: CheckEngine;
  /** Policies ready and invalid once started (an OIDC policy gets a bounded while to come up). */
  readonly ready: number;
  readonly invalid: number;
  /** Checks decided so far, by outcome, from gatehouse's own metrics. */
  tally(): Promise<Tally>;
  stop(): Promise<void>;
}

/** Starts gatehouse on `policiesDir` as `serve --policies` does, with what the directory's extras ask for. */
export async function startBenchGatehouse(policiesDir: string): Promise<BenchGatehouse> {
  // Imported here: the no-op floor's memory must not include gatehouse's modules. Started as serve starts.
  startingUp();
  const [{ createJwtServices }, { startGatehouse }, { loadSettings }, { readServerExtras, startSeededRedis }] = await Promise.all([
    import('../src/authn/jwt/services.js'),
    import('../src/service/main.js'),
    import('../src/service/settings.js'),
    import('./server-extras.js'),
  ]);
  // What the policy set asks for beyond its manifests: a Redis of this server's own, a token cache size.
  const extras = readServerExtras(policiesDir);
  const redis = extras.redisSessions === undefined ? undefined : await startSeededRedis(extras.redisSessions);
  try {
    // The environment is left out on purpose: GATEHOUSE_* variables of the caller must not change what is measured.
    // No shutdown delay: there is no load balancer to drain, and the harness kills a server that takes over 3 s to stop.
    const { settings } = loadSettings(
      [
        '--policies', policiesDir, '--grpc-address', '127.0.0.1:0', '--admin-address', '127.0.0.1:0', '--http-address', '127.0.0.1:0', '--log-level', 'error',
        '--shutdown-delay', '0s', '--shutdown-grace', '1s', ...(redis === undefined ? [] : ['--redis-url', redis.url]),
      ],
      {},
    );
    const jwt = extras.jwtTokenCacheSize === undefined ? undefined : createJwtServices({ redisUrl: settings.redisUrl, tokenCacheSize: extras.jwtTokenCacheSize });
    const g = await startGatehouse(settings, jwt === undefined ? {} : { jwt });
    const deadline = Date.now() + READY_WAIT_MS;
    while (g.store.statuses().some((st) => !st.ready) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    let ready = 0;
    let invalid = 0;
    for (const s of g.store.statuses()) s.ready ? ready++ : invalid++;
    startedUp();
    const stop = async (): Promise<void> => {
      try {
        await g.stop();
      } finally {
        await redis?.stop();
      }
    };
    const tally = async (): Promise<Tally> => {
      const out: Record<string, number> = {};
      for (const { labels, value } of (await g.metrics.checks.get()).values) {
        const key = labels.decision === 'allow' ? 'allow' : `${String(labels.decision)} ${String(labels.code)}`;
        out[key] = (out[key] ?? 0) + value;
      }
      return out;
    };
    return { grpcPort: g.grpcPort, httpPort: g.httpPort, engine: g.engine, ready, invalid, tally, stop };
  } catch (e) {
    await redis?.stop();
    throw e;
  }
}

/**
 * Bytes allocated on the V8 heap from now until the returned function is called. Node has no
 * allocation counter, but the GC profiler reports the used heap before and after every collection:
 * what was allocated is each rise in between (after the last GC, or the start, up to the next GC's
 * "before"), plus the rise since the last GC. Buffers' backing stores live outside this heap.
 */
export function startAllocationCount(): () => { bytes: number; gcs: number; elu: number } {
  const profiler = new GCProfiler();
  const elu = performance.eventLoopUtilization();
  const startUsed = getHeapStatistics().used_heap_size;
  profiler.start();
  return () => {
    const endUsed = getHeapStatistics().used_heap_size;
    const stats = profiler.stop()?.statistics ?? [];
    let bytes = 0;
    let previous = startUsed;
    for (const gc of stats) {
      bytes += Math.max(0, gc.beforeGC.heapStatistics.usedHeapSize - previous);
      previous = gc.afterGC.heapStatistics.usedHeapSize;
    }
    bytes += Math.max(0, endUsed - previous);
    return { bytes, gcs: stats.length, elu: performance.eventLoopUtilization(elu).utilization };
  };
}

