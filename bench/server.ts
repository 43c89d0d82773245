// Child-process entry for the server under load: `node dist/bench/server.js noop` or
// `node dist/bench/server.js gatehouse <policies dir>`. It reports its ports over IPC, answers CPU,
// tally and allocation probes, and exits when told to or when the orchestrator goes away.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startGrpcServer } from '../src/transport/grpc.js';
import { DEADLINE_MARGIN_MS, MAX_HEADER_BYTES, MAX_REQUEST_BYTES, startAllocationCount, startBenchGatehouse } from './in-process.js';
import { NoopEngine } from './noop-engine.js';
import { isSignatureAlgorithm, SignatureEngine } from './signature-engine.js';
import { parseServerCommand, type ServerMessage, type ServerMode, type Tally } from './protocol.js';


interface Running {
  readonly grpcPort: number;
  readonly httpPort: number;
  readonly policiesReady: number;
  readonly policiesInvalid: number;
  tally(): Promise<Tally>;
  stop(): Promise<void>;
  /** gatehouse mode: the no-op servers started in the same process. */
  readonly beside?: NoopServers;
}

interface NoopServers {
  readonly grpcPort: number;
  readonly httpPort: number;
  tally(): Tally;
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
  const [kind, dir, keyFile] = argv;
  if (kind === 'noop' && dir === undefined) return { kind: 'noop' };
  if (kind === 'gatehouse' && dir !== undefined && dir !== '') return { kind: 'gatehouse', policiesDir: dir };
  if (kind === 'signature' && dir !== undefined && isSignatureAlgorithm(dir) && keyFile !== undefined && keyFile !== '') return { kind: 'signature', alg: dir, keyFile };
  throw new Error('usage: server.js noop | server.js gatehouse <policies dir> | server.js signature <HS256|RS256|ES256> <key file>');
}

/** The floor's answers in gatehouse's tally form: allows (gRPC and HTTP), and `deny <code>` for refusals. */
function noopTally(engine: NoopEngine, httpAnswered: number): Tally {
  const out: Record<string, number> = { allow: engine.answered + httpAnswered };
  for (const [code, n] of engine.refused) out[`deny ${code}`] = n;
  return out;
}

/** The no-op floor's servers: gRPC with a constant-allow engine (or the one given), HTTP answering 200. */
async function startNoopServers(engine = new NoopEngine()): Promise<NoopServers> {
  const http = await startNoopHttp();
  const g = await startGrpcServer({
    address: '127.0.0.1:0',
    engine,
    maxRequestBytes: MAX_REQUEST_BYTES,
    maxHeaderBytes: MAX_HEADER_BYTES,
    deadlineMarginMs: DEADLINE_MARGIN_MS,
  }).catch(async (e: unknown) => {
    await http.close();
    throw e;
  });
  g.setServing(true);
  return {
    grpcPort: g.port,
    httpPort: http.port,
    tally: () => noopTally(engine, http.answered()),
    stop: async () => {
      await Promise.all([g.close(1000), http.close()]);
    },
  };
}

async function start(mode: ServerMode): Promise<Running> {
  switch (mode.kind) {
    case 'noop': {
      const noop = await startNoopServers();
      return { grpcPort: noop.grpcPort, httpPort: noop.httpPort, policiesReady: 0, policiesInvalid: 0, tally: async () => noop.tally(), stop: noop.stop };
    }
    case 'signature': {
      const floor = await startNoopServers(new SignatureEngine(mode.alg, readFileSync(mode.keyFile, 'utf8')));
      return { grpcPort: floor.grpcPort, httpPort: floor.httpPort, policiesReady: 0, policiesInvalid: 0, tally: async () => floor.tally(), stop: floor.stop };
    }
    case 'gatehouse': {
      const g = await startBenchGatehouse(mode.policiesDir);
      if (g.httpPort === undefined) {
        await g.stop();
        throw new Error('gatehouse started without its forward-auth listener');
      }
      // The same-process floor: per-process differences (memory placement, JIT, GC timing) moved a
      // floor process's CPU per Check by a third from one process to the next on the development VM,
      // more than gatehouse adds; against no-op servers in its own process, only the Check path differs.
      let beside: NoopServers;
      try {
        beside = await startNoopServers();
      } catch (e) {
        await g.stop();
        throw e;
      }
      const stop = async (): Promise<void> => {
        await Promise.all([g.stop(), beside.stop()]);
      };
      return { grpcPort: g.grpcPort, httpPort: g.httpPort, policiesReady: g.ready, policiesInvalid: g.invalid, tally: g.tally, stop, beside };
    }
    default: {
      const never: never = mode;
      throw new Error(`unknown server mode ${JSON.stringify(never)}`);
    }
  }
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
      case 'tally-beside':
        send({ type: 'tally', tally: running.beside?.tally() ?? {} });
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
  const beside = running.beside === undefined ? {} : { beside: { grpcPort: running.beside.grpcPort, httpPort: running.beside.httpPort } };
  send({ type: 'ready', grpcPort: running.grpcPort, httpPort: running.httpPort, policiesReady: running.policiesReady, policiesInvalid: running.policiesInvalid, ...beside });
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
