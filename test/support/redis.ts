// Real Debian redis-server processes for tests, on free loopback ports, with no persistence unless
// asked: one server, a Sentinel in front of one, or a three-master Redis Cluster.
// Installs the package when missing (once, under a lock shared by concurrent test files) and
// makes sure no server outlives the test process, even one that is killed.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { ensureDebianPackage, onPath } from './debian.js';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually } from './eventually.js';

export interface RedisServer {
  readonly url: string;
  readonly port: number;
  /** Graceful shutdown; the harness can be restarted afterwards. */
  stop(): Promise<void>;
  /** SIGKILL: the server vanishes as in a crash. */
  kill(): Promise<void>;
  /** Starts again on the same port (killing a running server first): empty, or as it was if persistent. */
  restart(): Promise<void>;
  /** SIGSTOP: connections stay open but nothing answers (a stalled Redis). */
  pause(): void;
  /** SIGCONT after pause(). */
  resume(): void;
}

const START_TIMEOUT_MS = 10_000;

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/** Installs redis-server through apt when it is not on PATH; throws loudly when that fails. */
export function ensureRedisServer(): Promise<void> {
  return ensureDebianPackage('redis-server', 'redis-server');
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('no free port'))));
    });
  });
}

/** Sends one inline command and resolves with the reply text once `complete` accepts it ('' on failure). */
function ask(port: number, command: string, complete: (reply: string) => boolean): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    let reply = '';
    const done = (text: string): void => {
      socket.destroy();
      resolve(text);
    };
    socket.setTimeout(500, () => done(''));
    socket.once('error', () => done(''));
    socket.once('connect', () => socket.write(`${command}\r\n`));
    socket.on('data', (d: Buffer) => {
      reply += d.toString();
      if (complete(reply)) done(reply);
    });
  });
}

/** The clock of the redis-server at `port` (TIME), in ms: the one its key expiry follows. */
async function serverTimeMs(port: number): Promise<number> {
  // *2 $<n> <seconds> $<n> <microseconds>: five CRLF-terminated lines.
  const lines = (await ask(port, 'TIME', (r) => r.split('\r\n').length > 5)).split('\r\n');
  const seconds = Number(lines[2]);
  const micros = Number(lines[4]);
  if (!Number.isInteger(seconds) || !Number.isInteger(micros)) throw new Error(`redis-server on port ${port} gave no TIME`);
  return seconds * 1000 + micros / 1000;
}

/**
 * Resolves once `ms` have passed on the clock of the redis-server at `port`, so a key set before the
 * call with a TTL of `ms` has expired. Redis expires keys by its own clock, which a test cannot inject:
 * TTL tests wait for that clock instead of sleeping and hoping.
 */
export async function elapseOnRedis(port: number, ms: number): Promise<void> {
  // Redis counts a key expired only once its millisecond clock is past the expiry: one more ms.
  const until = (await serverTimeMs(port)) + ms + 1;
  await eventually(async () => (await serverTimeMs(port)) >= until, ms + 5000, `${ms} ms on the clock of redis-server ${port}`);
}

async function ping(port: number): Promise<boolean> {
  return (await ask(port, 'PING', (r) => r.includes('\r\n'))).startsWith('+PONG');
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

export interface RedisOptions {
  /**
   * Append-only file, fsynced on every write: the data survives kill() and comes back on restart(),
   * as with a Redis that runs with persistence in production.
   */
  readonly persistent?: boolean;
}

function serverArgs(port: number, dir: string, options: RedisOptions = {}): string[] {
  const persistence = options.persistent === true ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no'];
  return [
    '--port', String(port), '--bind', '127.0.0.1', '--save', '', ...persistence,
    '--daemonize', 'no', '--dir', dir, '--logfile', '', '--loglevel', 'warning',
  ];
}

function spawnServer(args: string[]): { child: ChildProcess; log: () => string } {
  // setpriv --pdeathsig makes the kernel kill the server if this process dies without cleanup.
  const [cmd, argv] = onPath('setpriv')
    ? ['setpriv', ['--pdeathsig', 'KILL', '--', 'redis-server', ...args]]
    : ['redis-server', args];
  const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  child.once('exit', () => live.delete(child));
  let output = '';
  const keep = (d: Buffer): void => {
    output = (output + d.toString()).slice(-4000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  child.once('error', (err) => keep(Buffer.from(`spawn failed: ${err.message}`)));
  return { child, log: () => output };
}

async function waitUntilAnswering(child: ChildProcess, port: number, log: () => string): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`redis-server on port ${port} exited during start-up:\n${log()}`);
    }
    if (await ping(port)) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  child.kill('SIGKILL');
  throw new Error(`redis-server on port ${port} did not answer PING within ${START_TIMEOUT_MS} ms:\n${log()}`);
}

/** Starts a fresh redis-server on 127.0.0.1 and resolves once it answers PING. */
export async function startRedis(options: RedisOptions = {}): Promise<RedisServer> {
  await ensureRedisServer();
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-redis-'));
  let port = 0;
  let current: ChildProcess | undefined;
  let paused = false;

  const launch = async (): Promise<void> => {
    mkdirSync(dir, { recursive: true });
    const { child, log } = spawnServer(serverArgs(port, dir, options));
    current = child;
    paused = false;
    await waitUntilAnswering(child, port, log);
  };
  const killNow = async (): Promise<void> => {
    const child = current;
    if (child === undefined) return;
    child.kill('SIGKILL');
    await exited(child);
    current = undefined;
  };

  // Another process may grab the probed port before redis binds it; try a few.
  for (let attempt = 1; ; attempt++) {
    port = await freePort();
    try {
      await launch();
      break;
    } catch (err) {
      await killNow();
      if (attempt >= 3) {
        rmSync(dir, { recursive: true, force: true });
        throw err;
      }
    }
  }

  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    async stop() {
      const child = current;
      if (child === undefined) return;
      if (paused) child.kill('SIGCONT');
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited(child);
      clearTimeout(timer);
      current = undefined;
      rmSync(dir, { recursive: true, force: true });
    },
    kill: killNow,
    async restart() {
      await killNow();
      await launch();
    },
    pause() {
      if (current === undefined) throw new Error('redis-server is not running');
      current.kill('SIGSTOP');
      paused = true;
    },
    resume() {
      if (current === undefined) throw new Error('redis-server is not running');
      current.kill('SIGCONT');
      paused = false;
    },
  };
}

/** Processes started together and stopped together (a Sentinel, a cluster). */
export interface RedisGroup {
  readonly url: string;
  /** Ports of the group's processes: the Sentinel's, or each cluster node's. */
  readonly ports: readonly number[];
  stop(): Promise<void>;
}

async function launchGroup(dir: string, argLists: string[][], ports: number[]): Promise<RedisGroup['stop']> {
  const children = argLists.map((args) => spawnServer(args));
  const stop = async (): Promise<void> => {
    for (const { child } of children) child.kill('SIGKILL');
    await Promise.all(children.map(({ child }) => exited(child)));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await Promise.all(children.map(({ child, log }, i) => waitUntilAnswering(child, ports[i] ?? 0, log)));
  } catch (err) {
    await stop();
    throw err;
  }
  return stop;
}

/** A Sentinel watching `master` under the name `mymaster`. */
export async function startSentinel(master: RedisServer): Promise<RedisGroup> {
  await ensureRedisServer();
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-sentinel-'));
  const port = await freePort();
  // Sentinel rewrites its config file, so it lives in the scratch directory.
  const conf = join(dir, 'sentinel.conf');
  writeFileSync(
    conf,
    [
      `port ${port}`,
      'bind 127.0.0.1',
      `dir ${dir}`,
      `sentinel monitor mymaster 127.0.0.1 ${master.port} 1`,
      'sentinel down-after-milliseconds mymaster 5000',
      '',
    ].join('\n'),
  );
  const stop = await launchGroup(dir, [[conf, '--sentinel', '--loglevel', 'warning']], [port]);
  return { url: `redis+sentinel://127.0.0.1:${port}/mymaster`, ports: [port], stop };
}

/** A port whose cluster bus port (+10000) is free too. */
async function freeClusterPort(taken: Set<number>): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 25_000);
    if (taken.has(port) || taken.has(port + 10_000)) continue;
    if ((await portFree(port)) && (await portFree(port + 10_000))) return port;
  }
  throw new Error('no free port pair for a Redis Cluster node');
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** Three Redis Cluster masters sharing all 16384 slots. */
export async function startRedisCluster(): Promise<RedisGroup> {
  await ensureRedisServer();
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-cluster-'));
  const taken = new Set<number>();
  const ports: number[] = [];
  for (let i = 0; i < 3; i++) {
    const port = await freeClusterPort(taken);
    taken.add(port).add(port + 10_000);
    ports.push(port);
  }
  const args = ports.map((port) => [
    ...serverArgs(port, dir),
    '--cluster-enabled', 'yes',
    '--cluster-config-file', join(dir, `nodes-${port}.conf`),
    '--cluster-node-timeout', '2000',
  ]);
  const stop = await launchGroup(dir, args, ports);
  try {
    const create = spawnSync(
      'redis-cli',
      ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'],
      { encoding: 'utf8', timeout: 30_000 },
    );
    if (create.status !== 0) throw new Error(`redis-cli --cluster create failed:\n${create.stdout}${create.stderr}`);
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (const port of ports) {
      const ok = (r: string): boolean => r.includes('cluster_state:ok');
      while (!ok(await ask(port, 'CLUSTER INFO', (r) => r.includes('cluster_state:')))) {
        if (Date.now() > deadline) throw new Error(`cluster node ${port} never reported cluster_state:ok`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { url: `redis+cluster://${ports.map((p) => `127.0.0.1:${p}`).join(',')}`, ports, stop };
}
