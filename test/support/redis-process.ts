// The parts test/support/redis.ts builds its servers and topologies from: redis-server processes that
// never outlive the test process, free loopback ports, and a few commands spoken over a raw socket
// (no client library: the harness must see exactly what each server says, whatever the client does).
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { ensureDebianPackage, onPath } from './debian.js';

const START_TIMEOUT_MS = 10_000;

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/** Installs redis-server (with redis-cli) through apt when it is not on PATH; throws loudly when that fails. */
export function ensureRedisServer(): Promise<void> {
  return ensureDebianPackage('redis-server', 'redis-server');
}

export function freePort(): Promise<number> {
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

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A port whose cluster bus port (+10000) is free too. */
export async function freeClusterPort(taken: Set<number>): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 25_000);
    if (taken.has(port) || taken.has(port + 10_000)) continue;
    if ((await portFree(port)) && (await portFree(port + 10_000))) return port;
  }
  throw new Error('no free port pair for a Redis Cluster node');
}

/** Sends one inline command and resolves with the reply text once `complete` accepts it ('' on failure). */
export function ask(port: number, command: string, complete: (reply: string) => boolean): Promise<string> {
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

// A whole reply of one of the simple RESP types: a line (+status, -error, :integer) or a $bulk string.
function wholeReply(reply: string): boolean {
  const bulk = /^\$(-?\d+)\r\n/.exec(reply);
  if (bulk === null) return !reply.startsWith('$') && reply.includes('\r\n');
  const length = Number(bulk[1]);
  return length < 0 || Buffer.byteLength(reply) >= bulk[0].length + length + 2;
}

/**
 * One command with a status, integer or bulk-string reply, as text; undefined when the server
 * answered an error, nothing, or nothing whole within 500 ms.
 */
export async function command(port: number, text: string): Promise<string | undefined> {
  const reply = await ask(port, text, wholeReply);
  if (!wholeReply(reply) || reply.startsWith('-')) return undefined;
  const bulk = /^\$(-?\d+)\r\n/.exec(reply);
  if (bulk === null) return reply.slice(1, reply.indexOf('\r\n'));
  return Number(bulk[1]) < 0 ? undefined : reply.slice(bulk[0].length, reply.length - 2);
}

/** One `name:value` line of INFO `section` from the server at `port`; undefined if it did not answer. */
export async function info(port: number, section: string, name: string): Promise<string | undefined> {
  const text = await command(port, `INFO ${section}`);
  return text?.split('\r\n').find((line) => line.startsWith(`${name}:`))?.slice(name.length + 1);
}

export async function ping(port: number): Promise<boolean> {
  return (await command(port, 'PING')) === 'PONG';
}

export function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

export interface RedisOptions {
  /**
   * Append-only file, fsynced on every write: the data survives kill() and comes back on restart(),
   * as with a Redis that runs with persistence in production.
   */
  readonly persistent?: boolean;
  /** Start as a replica of the server on this loopback port. */
  readonly replicaOf?: number;
}

export function serverArgs(port: number, dir: string, options: RedisOptions = {}): string[] {
  const persistence = options.persistent === true ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no'];
  const replication = options.replicaOf === undefined ? [] : ['--replicaof', '127.0.0.1', String(options.replicaOf)];
  return [
    '--port', String(port), '--bind', '127.0.0.1', '--save', '', ...persistence, ...replication,
    '--daemonize', 'no', '--dir', dir, '--logfile', '', '--loglevel', 'warning',
  ];
}

export function spawnServer(args: string[]): { child: ChildProcess; log: () => string } {
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

export async function waitUntilAnswering(child: ChildProcess, port: number, log: () => string): Promise<void> {
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

/** Processes started together (a cluster's nodes, a group of Sentinels) and stopped together. */
interface Launched {
  /** SIGKILL of every process, then the scratch directory goes. */
  stop(): Promise<void>;
}

/** Starts one redis-server per argument list; resolves once each answers PING on its port. */
export async function launchGroup(dir: string, argLists: string[][], ports: readonly number[]): Promise<Launched> {
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
  return { stop };
}
