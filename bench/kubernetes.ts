// The Kubernetes source at scale, measured on the real server: `gatehouse serve --kubernetes` runs as a
// child process against the fake API server (held here) with 10,000 AuthPolicies and 100,000 key
// Secrets. Its resident memory is read from /proc/<pid>/status, so the number is gatehouse's alone
// (this process loads the whole Kubernetes client for the fake server; the child loads what it uses).
// Measured: time to the synced log line, status writes, RSS idle after sync (once memory has settled),
// and the time from a Secret change to the forward-auth endpoint accepting the new key.
//
//   node dist/bench/kubernetes.js [--policies 10000] [--secrets 100000] [--updates 1000]
//                                 [--status current|stale] [--idle-seconds 5] [--node-options '--trace-gc'] [--json]
// --node-options go to the gatehouse process only (before its script); its non-JSON output goes to stderr.
import { request } from 'node:http';
import type { FakeApiServer } from '../test/support/fake-apiserver/index.js';
import { hostOf, initialKey, kubeConfigFile, rotate, startCluster, type StatusMode } from './kubernetes-cluster.js';
import { heapOf, memoryOf, startGatehouse } from './kubernetes-child.js';

const EFFECT_TIMEOUT_MS = 5000;
const TARGETS = { syncMs: 10_000, rssMb: 150, effectMs: 1000 };
const USAGE = 'node dist/bench/kubernetes.js [--policies 10000] [--secrets 100000] [--updates 1000] [--status current|stale] [--idle-seconds 5] [--node-options <flags>] [--json]';

interface Options {
  readonly policies: number;
  readonly secrets: number;
  readonly updates: number;
  readonly status: StatusMode;
  readonly idleSeconds: number;
  readonly nodeOptions: string;
  readonly json: boolean;
}

function parseOptions(argv: readonly string[]): Options | undefined {
  if (argv.includes('--help') || argv.includes('-h')) return undefined;
  const value = (flag: string, fallback: number): number => {
    const i = argv.indexOf(flag);
    if (i === -1) return fallback;
    const n = Number(argv[i + 1]);
    if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} needs a positive integer, got ${String(argv[i + 1])}`);
    return n;
  };
  const policies = value('--policies', 10_000);
  const secrets = value('--secrets', 100_000);
  if (secrets < policies) throw new Error('--secrets must be at least --policies (every policy selects its own Secrets)');
  const s = argv.indexOf('--status');
  const status = s === -1 ? 'current' : argv[s + 1];
  if (status !== 'current' && status !== 'stale') throw new Error(`--status is current or stale, got ${String(status)}`);
  const n = argv.indexOf('--node-options');
  const nodeOptions = n === -1 ? '' : (argv[n + 1] ?? '');
  return { policies, secrets, updates: value('--updates', 1000), status, idleSeconds: value('--idle-seconds', 5), nodeOptions, json: argv.includes('--json') };
}

/** The forward-auth answer (status code) for a request to `host` with API key `key`. */
function authStatus(port: number, host: string, key: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/auth/nginx', headers: { 'x-original-method': 'GET', 'x-original-uri': '/', 'x-forwarded-host': host, apikey: key } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Polls until `ready` answers true or the time is up; answers whether it did. */
async function until(ready: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (await ready()) return true;
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  return false;
}

/** Waits until the server has seen no status write for `quietMs`. */
async function statusWritesSettled(server: FakeApiServer, quietMs: number): Promise<number> {
  let count = server.statusWrites.length;
  let quietSince = performance.now();
  while (performance.now() - quietSince < quietMs) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    if (server.statusWrites.length !== count) {
      count = server.statusWrites.length;
      quietSince = performance.now();
    }
  }
  return count;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

async function measure(options: Options): Promise<void> {
  const populateStarted = performance.now();
  const server = await startCluster(options.policies, options.secrets, options.status);
  const populateMs = performance.now() - populateStarted;
  const started = performance.now();
  const gatehouse = startGatehouse({ kubeconfig: kubeConfigFile(server) }, options.nodeOptions);
  const pid = gatehouse.child.pid ?? 0;
  let peak = 0;
  const sampler = setInterval(() => (peak = Math.max(peak, memoryOf(pid).rss)), 100);
  try {
    const ports = await gatehouse.logged('gatehouse started');
    const synced = await gatehouse.logged('kubernetes source synced');
    const syncMs = performance.now() - started;
    const rssAtSync = memoryOf(pid).rss;
    const port = Number(ports.httpPort);
    const statusWrites = await statusWritesSettled(server, 2000);
    // Idle means after the collections that follow the first sync (src/sources/settle-memory.ts).
    await gatehouse.logged('memory settled after the first sync');
    await new Promise((resolve) => setTimeout(resolve, options.idleSeconds * 1000));
    const idle = memoryOf(pid);
    const heapIdle = await heapOf(Number(ports.adminPort));
    const firstAccepted = (await authStatus(port, hostOf(0), initialKey(0))) === 200;

    const latencies: number[] = [];
    let timeouts = 0;
    const perPolicy = Math.floor(options.secrets / options.policies);
    for (let i = 0; i < options.updates; i++) {
      const policy = (i * 7919) % options.policies;
      const secret = policy + options.policies * (i % perPolicy);
      const key = `rotated-${i}`;
      const t0 = performance.now();
      rotate(server, policy, secret, key);
      if (await until(async () => (await authStatus(port, hostOf(policy), key)) === 200, EFFECT_TIMEOUT_MS)) latencies.push(performance.now() - t0);
      else timeouts++;
    }
    latencies.sort((a, b) => a - b);
    const after = memoryOf(pid);
    const result = {
      policies: options.policies,
      secrets: options.secrets,
      keys: Number(synced.secrets ?? 0),
      status: options.status,
      serverPopulateMs: Math.round(populateMs),
      syncMs: Math.round(syncMs),
      sourceSyncMs: Number(synced.ms ?? Number.NaN),
      rssAtSyncMb: rssAtSync,
      rssIdleMb: idle.rss,
      heapIdleMb: heapIdle.used,
      heapTotalIdleMb: heapIdle.total,
      externalIdleMb: heapIdle.external,
      rssPeakMb: Math.max(peak, idle.hwm),
      rssAfterUpdatesMb: after.rss,
      statusWrites,
      firstKeyAccepted: firstAccepted,
      updates: options.updates,
      effectP50Ms: Number(percentile(latencies, 50).toFixed(2)),
      effectP99Ms: Number(percentile(latencies, 99).toFixed(2)),
      effectMaxMs: Number((latencies.at(-1) ?? Number.NaN).toFixed(2)),
      timeouts,
    };
    if (options.json) process.stdout.write(JSON.stringify(result, null, 2) + '\n');
    else process.stdout.write(table(result));
    const pass = firstAccepted && result.syncMs <= TARGETS.syncMs && result.rssIdleMb <= TARGETS.rssMb && result.effectP99Ms <= TARGETS.effectMs && timeouts === 0;
    process.exitCode = pass ? 0 : 1;
  } finally {
    clearInterval(sampler);
    const exited = new Promise((resolve) => gatehouse.child.once('exit', resolve));
    gatehouse.child.kill('SIGTERM');
    await exited;
    await server.stop();
  }
}

function table(r: Record<string, number | string | boolean>): string {
  const rows: Array<[string, string, string]> = [
    ['objects', `${r.policies} AuthPolicies, ${r.secrets} Secrets (${r.keys} held), statuses ${r.status}`, ''],
    ['start to synced (list + compile)', `${r.syncMs} ms (source ${r.sourceSyncMs} ms)`, `<= ${TARGETS.syncMs} ms`],
    ['RSS at sync', `${r.rssAtSyncMb} MB`, ''],
    ['RSS idle after sync (V8 heap used)', `${r.rssIdleMb} MB (${r.heapIdleMb} MB)`, `<= ${TARGETS.rssMb} MB`],
    ['V8 heap held, outside the heap (Buffers)', `${r.heapTotalIdleMb} MB, ${r.externalIdleMb} MB`, ''],
    ['RSS peak', `${r.rssPeakMb} MB`, ''],
    ['status writes at start', String(r.statusWrites), r.status === 'current' ? '0 (statuses already current)' : ''],
    ['a listed key is accepted', String(r.firstKeyAccepted), 'true'],
    [`Secret change -> accepted (${r.updates} rotations)`, `p50 ${r.effectP50Ms} ms, p99 ${r.effectP99Ms} ms, max ${r.effectMaxMs} ms`, `p99 <= ${TARGETS.effectMs} ms`],
    ['rotations not effective within 5 s', String(r.timeouts), '0'],
    ['RSS after the rotations', `${r.rssAfterUpdatesMb} MB`, ''],
  ];
  const widths = [0, 1, 2].map((c) => Math.max(...rows.map((row) => row[c]?.length ?? 0), 6));
  const line = (cells: readonly string[]): string => `| ${cells.map((cell, c) => cell.padEnd(widths[c] ?? 0)).join(' | ')} |\n`;
  return line(['measure', 'value', 'target']) + line(widths.map((w) => '-'.repeat(w))) + rows.map(line).join('');
}

const options = parseOptions(process.argv.slice(2));
if (options === undefined) process.stdout.write(`usage: ${USAGE}\n`);
else await measure(options);
