// Child-process entry for the server under load: `node dist/bench/server.js noop` or
// `node dist/bench/server.js gatehouse <policies dir>`. It reports its ports over IPC, answers CPU,
// tally and allocation probes, and exits when told to or when the orchestrator goes away.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GCProfiler, getHeapStatistics } from 'node:v8';
import { startedUp, startingUp } from '../src/service/startup-heap.js';
import { startGrpcServer } from '../src/transport/grpc.js';
import { NoopEngine } from './noop-engine.js';
import { parseServerCommand, type ServerMessage, type ServerMode, type Tally } from './protocol.js';

const MAX_REQUEST_BYTES = 8 * 1024 * 1024;
const MAX_HEADER_BYTES = 64 * 1024;
const DEADLINE_MARGIN_MS = 10;
const READY_WAIT_MS = 10_000;

interface Running {
  readonly grpcPort: number;
  readonly httpPort: number;
  readonly policiesReady: number;
  readonly policiesInvalid: number;
  tally(): Promise<Tally>;
  stop(): Promise<void>;
}

/** The forward-auth floor: parses the request as any Node HTTP server does and allows with one header. */
async function startNoopHttp(): Promise<{ port: number; answered: () => number; close: () => Promise<void> }> {
  let answered = 0;
  const server = createServer((_req, res) => {
    answered++;
    res.writeHead(200, { 'x-consumer-id': 'noop', 'content-length': '0' });
    res.end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const close = (): Promise<void> =>
    new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return { port: (server.address() as AddressInfo).port, answered: () => answered, close };
}

function send(message: ServerMessage): void {
  process.send?.(message);
}

function modeOf(argv: readonly string[]): ServerMode {
  const [kind, dir] = argv;
  if (kind === 'noop' && dir === undefined) return { kind: 'noop' };
  if (kind === 'gatehouse' && dir !== undefined && dir !== '') return { kind: 'gatehouse', policiesDir: dir };
  throw new Error('usage: server.js noop | server.js gatehouse <policies dir>');
}

/** The floor's answers in gatehouse's tally form: allows (gRPC and HTTP), and `deny <code>` for refusals. */
function noopTally(engine: NoopEngine, httpAnswered: number): Tally {
  const out: Record<string, number> = { allow: engine.answered + httpAnswered };
  for (const [code, n] of engine.refused) out[`deny ${code}`] = n;
  return out;
}

async function start(mode: ServerMode): Promise<Running> {
  switch (mode.kind) {
    case 'noop': {
      const engine = new NoopEngine();
      const http = await startNoopHttp();
      const grpc = await startGrpcServer({
        address: '127.0.0.1:0',
        engine,
        maxRequestBytes: MAX_REQUEST_BYTES,
        maxHeaderBytes: MAX_HEADER_BYTES,
        deadlineMarginMs: DEADLINE_MARGIN_MS,
      });
      grpc.setServing(true);
      const stop = async (): Promise<void> => {
        await Promise.all([grpc.close(1000), http.close()]);
      };
      return { grpcPort: grpc.port, httpPort: http.port, policiesReady: 0, policiesInvalid: 0, tally: async () => noopTally(engine, http.answered()), stop };
    }
    case 'gatehouse': {
      // Imported here: the no-op floor's memory must not include gatehouse's modules. Started as serve starts.
      startingUp();
      const [{ createJwtServices }, { startGatehouse }, { loadSettings }, { readServerExtras, startSeededRedis }] = await Promise.all([
        import('../src/authn/jwt/services.js'),
        import('../src/service/main.js'),
        import('../src/service/settings.js'),
        import('./server-extras.js'),
      ]);
      // What the policy set asks for beyond its manifests: a Redis of this server's own, a token cache size.
      const extras = readServerExtras(mode.policiesDir);
      const redis = extras.redisSessions === undefined ? undefined : await startSeededRedis(extras.redisSessions);
      try {
        // The environment is left out on purpose: GATEHOUSE_* variables of the caller must not change what is measured.
        // No shutdown delay: there is no load balancer to drain, and the harness kills a server that takes over 3 s to stop.
        const { settings } = loadSettings(
          [
            '--policies', mode.policiesDir, '--grpc-address', '127.0.0.1:0', '--admin-address', '127.0.0.1:0', '--http-address', '127.0.0.1:0', '--log-level', 'error',
            '--shutdown-delay', '0s', '--shutdown-grace', '1s', ...(redis === undefined ? [] : ['--redis-url', redis.url]),
          ],
          {},
        );
        const jwt = extras.jwtTokenCacheSize === undefined ? undefined : createJwtServices({ redisUrl: settings.redisUrl, tokenCacheSize: extras.jwtTokenCacheSize });
        const g = await startGatehouse(settings, jwt === undefined ? {} : { jwt });
        // A policy may wait for its provider's first answer (oidc): give it a bounded while to come up.
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
        if (g.httpPort === undefined) throw new Error('gatehouse started without its forward-auth listener');
        return { grpcPort: g.grpcPort, httpPort: g.httpPort, policiesReady: ready, policiesInvalid: invalid, tally, stop };
      } catch (e) {
        await redis?.stop();
        throw e;
      }
    }
    default: {
      const never: never = mode;
      throw new Error(`unknown server mode ${JSON.stringify(never)}`);
    }
  }
}

/**
 * Bytes allocated on the V8 heap from now until the returned function is called. Node has no
 * allocation counter, but the GC profiler reports the used heap before and after every collection:
 * what was allocated is each rise in between (after the last GC, or the start, up to the next GC's
 * "before"), plus the rise since the last GC. Buffers' backing stores live outside this heap.
 */
function startAllocationCount(): () => { bytes: number; gcs: number; elu: number } {
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

async function main(): Promise<void> {
  if (process.send === undefined) throw new Error('server.js runs as a child process with an IPC channel');
  // Without the orchestrator nobody would ever stop this server.
  process.on('disconnect', () => process.exit(0));
  const running = await start(modeOf(process.argv.slice(2)));
  let allocation: (() => { bytes: number; gcs: number; elu: number }) | undefined;
  process.on('message', (m: unknown) => {
    const command = parseServerCommand(m);
    if (command === undefined) return;
    switch (command.type) {
      case 'cpu': {
        const u = process.cpuUsage();
        send({ type: 'cpu', micros: u.user + u.system });
        return;
      }
      case 'tally':
        void running.tally().then((tally) => send({ type: 'tally', tally }));
        return;
      case 'alloc-start':
        allocation = startAllocationCount();
        return;
      case 'alloc-stop':
        // Always an answer, so the orchestrator never waits for one that is not coming.
        send({ type: 'alloc', ...(allocation?.() ?? { bytes: 0, gcs: 0, elu: 0 }) });
        allocation = undefined;
        return;
      case 'stop':
        running.stop().finally(() => process.exit(0));
        return;
      default: {
        const never: never = command.type;
        throw new Error(`unknown command ${String(never)}`);
      }
    }
  });
  send({ type: 'ready', grpcPort: running.grpcPort, httpPort: running.httpPort, policiesReady: running.policiesReady, policiesInvalid: running.policiesInvalid });
}

main().catch((e: unknown) => {
  const message = e instanceof Error ? e.message : String(e);
  process.stderr.write(`bench server: ${message}\n`);
  process.exitCode = 1;
  const failed: ServerMessage = { type: 'failed', message };
  if (process.send === undefined) return;
  process.send(failed, undefined, undefined, () => process.exit(1));
  setTimeout(() => process.exit(1), 1000);
});
