// Real Debian redis-server processes for tests, on free loopback ports, with no persistence unless
// asked: one server, a Sentinel in front of one, a Sentinel group (master, replica, three Sentinels
// that fail over in seconds), or a Redis Cluster of three masters, with a replica each if asked.
// Installs the package when missing (once, under a lock shared by concurrent test files) and
// makes sure no server outlives the test process, even one that is killed.
import { spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually } from './eventually.js';
import {
  ask,
  command,
  ensureRedisServer,
  exited,
  freeClusterPort,
  freePort,
  info,
  launchGroup,
  serverArgs,
  spawnServer,
  waitUntilAnswering,
  type RedisOptions,
} from './redis-process.js';

export type { RedisOptions } from './redis-process.js';

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
      if (child !== undefined) {
        if (paused) child.kill('SIGCONT');
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
        await exited(child);
        clearTimeout(timer);
        current = undefined;
      }
      // A killed server leaves its directory too.
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

/** Processes started together and stopped together (Sentinels and their servers, a cluster). */
export interface RedisGroup {
  readonly url: string;
  /** Ports of the group's processes: the Sentinels', or each cluster node's. */
  readonly ports: readonly number[];
  stop(): Promise<void>;
}

interface SentinelTuning {
  readonly count: number;
  readonly quorum: number;
  /** A master silent this long is down for a Sentinel. */
  readonly downAfterMs: number;
  readonly failoverTimeoutMs: number;
}

/** `count` Sentinels watching the master at `masterPort` under the name `mymaster`. */
async function launchSentinels(masterPort: number, tuning: SentinelTuning): Promise<RedisGroup> {
  await ensureRedisServer();
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-sentinel-'));
  const ports: number[] = [];
  for (let i = 0; i < tuning.count; i++) ports.push(await freePort());
  // Sentinel rewrites its config file, so each lives in the scratch directory.
  const args = ports.map((port) => {
    const conf = join(dir, `sentinel-${port}.conf`);
    writeFileSync(
      conf,
      [
        `port ${port}`,
        'bind 127.0.0.1',
        `dir ${dir}`,
        `sentinel monitor mymaster 127.0.0.1 ${masterPort} ${tuning.quorum}`,
        `sentinel down-after-milliseconds mymaster ${tuning.downAfterMs}`,
        `sentinel failover-timeout mymaster ${tuning.failoverTimeoutMs}`,
        '',
      ].join('\n'),
    );
    return [conf, '--sentinel', '--loglevel', 'warning'];
  });
  const { stop } = await launchGroup(dir, args, ports);
  const hosts = ports.map((p) => `127.0.0.1:${p}`).join(',');
  return { url: `redis+sentinel://${hosts}/mymaster`, ports, stop };
}

/** A Sentinel watching `master` under the name `mymaster`. */
export function startSentinel(master: RedisServer): Promise<RedisGroup> {
  return launchSentinels(master.port, { count: 1, quorum: 1, downAfterMs: 5000, failoverTimeoutMs: 180_000 });
}

/** The `master0` line of a Sentinel's INFO: name=mymaster,status=ok,address=127.0.0.1:6379,slaves=1,sentinels=3. */
async function sentinelView(port: number): Promise<ReadonlyMap<string, string>> {
  const line = (await info(port, 'sentinel', 'master0')) ?? '';
  return new Map(line.split(',').map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]));
}

export interface SentinelGroup extends RedisGroup {
  /** The master and its replica as started; a failover swaps their roles. */
  readonly servers: readonly [RedisServer, RedisServer];
  /** The port of the master every Sentinel names; undefined while they disagree or one is silent. */
  masterPort(): Promise<number | undefined>;
  /** Resolves once the replica holds everything the master had written when it was called. */
  replicated(timeoutMs?: number): Promise<void>;
}

/**
 * A master, its replica and three Sentinels (quorum 2) that declare a silent master down after
 * 1 s, so a failover completes in a few seconds. Resolves once every Sentinel knows the replica and
 * the other two Sentinels: a failover can then be agreed.
 */
export async function startSentinelGroup(): Promise<SentinelGroup> {
  const master = await startRedis();
  const started: RedisServer[] = [master];
  let sentinels: RedisGroup | undefined;
  const stop = async (): Promise<void> => {
    await sentinels?.stop();
    await Promise.all(started.map((s) => s.stop()));
  };
  let servers: [RedisServer, RedisServer];
  try {
    const replica = await startRedis({ replicaOf: master.port });
    started.push(replica);
    servers = [master, replica];
    sentinels = await launchSentinels(master.port, { count: 3, quorum: 2, downAfterMs: 1000, failoverTimeoutMs: 2000 });
    const ready = async (port: number): Promise<boolean> => {
      const view = await sentinelView(port);
      return view.get('status') === 'ok' && view.get('slaves') === '1' && view.get('sentinels') === '3';
    };
    for (const port of sentinels.ports) await eventually(() => ready(port), 15_000, `Sentinel ${port} to know the replica and its peers`);
  } catch (err) {
    await stop();
    throw err;
  }
  const sentinelPorts = sentinels.ports;
  const masterPort = async (): Promise<number | undefined> => {
    const named = await Promise.all(sentinelPorts.map(async (p) => (await sentinelView(p)).get('address')));
    const first = named[0];
    if (first === undefined || named.some((a) => a !== first)) return undefined;
    return Number(first.slice(first.lastIndexOf(':') + 1));
  };
  return {
    url: sentinels.url,
    ports: sentinels.ports,
    servers,
    stop,
    masterPort,
    async replicated(timeoutMs = 5000) {
      const current = await masterPort();
      const replica = servers.find((s) => s.port !== current);
      const written = Number(await info(current ?? 0, 'replication', 'master_repl_offset'));
      if (replica === undefined || !Number.isInteger(written)) throw new Error('the Sentinels name no master that answers');
      const received = async (): Promise<boolean> => Number(await info(replica.port, 'replication', 'slave_repl_offset')) >= written;
      await eventually(received, timeoutMs, `the replica ${replica.port} to reach offset ${written}`);
    },
  };
}

export interface ClusterOptions {
  /** Replicas per master (cluster-replicas of `redis-cli --cluster create`). Default 0. */
  readonly replicas?: 0 | 1;
}

export interface RedisCluster extends RedisGroup {
  /** The ports of the masters as started; a failover swaps a master with its replica. */
  readonly masters: readonly number[];
  /** The port of the master serving `key`'s slot, as the node at `askPort` (default the first) sees it. */
  masterOf(key: string, askPort?: number): Promise<number>;
  /**
   * Sends CLUSTER FAILOVER to a replica of the master at `port` (the manual failover: the replica
   * catches up first, so nothing acknowledged is lost) and resolves with the replica's port once it is
   * master and the former master has turned into its replica.
   */
  failOver(port: number, timeoutMs?: number): Promise<number>;
}

interface ClusterNode {
  readonly id: string;
  readonly port: number;
  /** The master a replica follows; undefined for a master. */
  readonly masterId: string | undefined;
  readonly slots: readonly (readonly [number, number])[];
}

/** CLUSTER NODES as the node at `port` sees the cluster. */
async function clusterNodes(port: number): Promise<ClusterNode[]> {
  const text = await command(port, 'CLUSTER NODES');
  if (text === undefined) throw new Error(`cluster node ${port} gave no CLUSTER NODES`);
  // <id> <ip:port@bus[,hostname]> <flags> <master id|-> <ping> <pong> <epoch> <link> <slot ranges...>
  return text.trim().split('\n').map((line) => {
    const [id = '', address = '', flags = '', master = '-', , , , , ...slots] = line.trim().split(' ');
    const hostPort = address.slice(0, address.indexOf('@'));
    return {
      id,
      port: Number(hostPort.slice(hostPort.lastIndexOf(':') + 1)),
      masterId: flags.split(',').includes('slave') ? master : undefined,
      // Slots being migrated are listed as [slot->-id]; none are here.
      slots: slots.filter((s) => !s.startsWith('[')).map((s) => {
        const [from = '', to = from] = s.split('-');
        return [Number(from), Number(to)] as const;
      }),
    };
  });
}

async function clusterInfo(port: number, field: string): Promise<string | undefined> {
  const text = (await command(port, 'CLUSTER INFO')) ?? '';
  return text.split('\r\n').find((line) => line.startsWith(`${field}:`))?.slice(field.length + 1);
}

/** Three Redis Cluster masters sharing all 16384 slots, each with `options.replicas` replicas. */
export async function startRedisCluster(options: ClusterOptions = {}): Promise<RedisCluster> {
  await ensureRedisServer();
  const replicas = options.replicas ?? 0;
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-cluster-'));
  const taken = new Set<number>();
  const ports: number[] = [];
  for (let i = 0; i < 3 * (1 + replicas); i++) {
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
  const { stop } = await launchGroup(dir, args, ports);
  let masters: number[];
  try {
    const create = spawnSync(
      'redis-cli',
      ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', String(replicas), '--cluster-yes'],
      { encoding: 'utf8', timeout: 30_000 },
    );
    if (create.status !== 0) throw new Error(`redis-cli --cluster create failed:\n${create.stdout}${create.stderr}`);
    // Every node serves every slot and knows every other node; every replica follows its master.
    for (const port of ports) {
      const joined = async (): Promise<boolean> =>
        (await clusterInfo(port, 'cluster_state')) === 'ok' && (await clusterInfo(port, 'cluster_known_nodes')) === String(ports.length);
      await eventually(joined, 10_000, `cluster node ${port} to report cluster_state:ok with every node known`);
      if ((await info(port, 'replication', 'role')) === 'slave') {
        await eventually(async () => (await info(port, 'replication', 'master_link_status')) === 'up', 10_000, `replica ${port} to sync`);
      }
    }
    masters = (await clusterNodes(ports[0] ?? 0)).filter((n) => n.masterId === undefined).map((n) => n.port);
  } catch (err) {
    await stop();
    throw err;
  }
  const role = (port: number): Promise<string | undefined> => info(port, 'replication', 'role');
  return {
    url: `redis+cluster://${ports.map((p) => `127.0.0.1:${p}`).join(',')}`,
    ports,
    masters,
    stop,
    async masterOf(key, askPort = ports[0] ?? 0) {
      const slot = Number(await command(askPort, `CLUSTER KEYSLOT ${key}`));
      const owner = (await clusterNodes(askPort)).find((n) => n.masterId === undefined && n.slots.some(([a, b]) => slot >= a && slot <= b));
      if (owner === undefined) throw new Error(`no master serves slot ${slot} of ${key}`);
      return owner.port;
    },
    async failOver(port, timeoutMs = 10_000) {
      const nodes = await clusterNodes(port);
      const master = nodes.find((n) => n.port === port);
      const replica = nodes.find((n) => master !== undefined && n.masterId === master.id);
      if (replica === undefined) throw new Error(`cluster node ${port} is no master with a replica`);
      const answer = await command(replica.port, 'CLUSTER FAILOVER');
      if (answer !== 'OK') throw new Error(`CLUSTER FAILOVER on ${replica.port} answered ${answer ?? 'an error'}`);
      const swapped = async (): Promise<boolean> => (await role(replica.port)) === 'master' && (await role(port)) === 'slave';
      await eventually(swapped, timeoutMs, `replica ${replica.port} to take over from ${port}`);
      return replica.port;
    },
  };
}
