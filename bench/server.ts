// Child-process entry for the server under load: `node dist/bench/server.js noop` or
// `node dist/bench/server.js gatehouse <policies dir>`. It reports its port over IPC, answers CPU
// probes, and exits when told to or when the orchestrator goes away.
import { createJwtServices } from '../src/authn/jwt/services.js';
import { startGatehouse } from '../src/service/main.js';
import { loadSettings } from '../src/service/settings.js';
import { startGrpcServer } from '../src/transport/grpc.js';
import { NoopEngine } from './noop-engine.js';
import { parseServerCommand, type ServerMessage, type ServerMode } from './protocol.js';
import { readServerExtras, startSeededRedis } from './server-extras.js';

const MAX_REQUEST_BYTES = 8 * 1024 * 1024;
const MAX_HEADER_BYTES = 64 * 1024;
const DEADLINE_MARGIN_MS = 10;

interface Running {
  readonly port: number;
  readonly policiesReady: number;
  readonly policiesInvalid: number;
  stop(): Promise<void>;
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

async function start(mode: ServerMode): Promise<Running> {
  switch (mode.kind) {
    case 'noop': {
      const grpc = await startGrpcServer({
        address: '127.0.0.1:0',
        engine: new NoopEngine(),
        maxRequestBytes: MAX_REQUEST_BYTES,
        maxHeaderBytes: MAX_HEADER_BYTES,
        deadlineMarginMs: DEADLINE_MARGIN_MS,
      });
      grpc.setServing(true);
      return { port: grpc.port, policiesReady: 0, policiesInvalid: 0, stop: () => grpc.close(1000) };
    }
    case 'gatehouse': {
      // What the policy set asks for beyond its manifests: a Redis of this server's own, a token cache size.
      const extras = readServerExtras(mode.policiesDir);
      const redis = extras.redisSessions === undefined ? undefined : await startSeededRedis(extras.redisSessions);
      try {
        // The environment is left out on purpose: GATEHOUSE_* variables of the caller must not change what is measured.
        // No shutdown delay: there is no load balancer to drain, and the harness kills a server that takes over 3 s to stop.
        const { settings } = loadSettings(
          [
            '--policies', mode.policiesDir, '--grpc-address', '127.0.0.1:0', '--admin-address', '127.0.0.1:0', '--http-address', '', '--log-level', 'error',
            '--shutdown-delay', '0s', '--shutdown-grace', '1s', ...(redis === undefined ? [] : ['--redis-url', redis.url]),
          ],
          {},
        );
        const jwt = extras.jwtTokenCacheSize === undefined ? undefined : createJwtServices({ redisUrl: settings.redisUrl, tokenCacheSize: extras.jwtTokenCacheSize });
        const g = await startGatehouse(settings, jwt === undefined ? {} : { jwt });
        let ready = 0;
        let invalid = 0;
        for (const s of g.store.statuses()) s.ready ? ready++ : invalid++;
        const stop = async (): Promise<void> => {
          try {
            await g.stop();
          } finally {
            await redis?.stop();
          }
        };
        return { port: g.grpcPort, policiesReady: ready, policiesInvalid: invalid, stop };
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

async function main(): Promise<void> {
  if (process.send === undefined) throw new Error('server.js runs as a child process with an IPC channel');
  // Without the orchestrator nobody would ever stop this server.
  process.on('disconnect', () => process.exit(0));
  const running = await start(modeOf(process.argv.slice(2)));
  process.on('message', (m: unknown) => {
    const command = parseServerCommand(m);
    if (command === undefined) return;
    switch (command.type) {
      case 'cpu': {
        const u = process.cpuUsage();
        send({ type: 'cpu', micros: u.user + u.system });
        return;
      }
      case 'stop':
        running.stop().finally(() => process.exit(0));
        return;
      default: {
        const never: never = command;
        throw new Error(`unknown command ${JSON.stringify(never)}`);
      }
    }
  });
  send({ type: 'ready', port: running.port, policiesReady: running.policiesReady, policiesInvalid: running.policiesInvalid });
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
