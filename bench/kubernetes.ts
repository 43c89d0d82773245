// The Kubernetes source at scale: initial sync of 10,000 AuthPolicies and 100,000 key Secrets from the
// fake API server (in a child process, so it has its own event loop and its memory is not counted),
// resident memory after the sync, and the time from a Secret change to the changed decision.
//
//   node dist/bench/kubernetes.js [--policies 10000] [--secrets 100000] [--updates 1000] [--json]
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { KubeConfig } from '@kubernetes/client-node';
import { CheckInput } from '../src/core/input.js';
import { Pipeline } from '../src/core/pipeline.js';
import type { PolicyIndex } from '../src/policy/index.js';
import { PolicyStore } from '../src/policy/store.js';
import { KubernetesSource } from '../src/sources/kubernetes.js';
import { createLogger } from '../src/telemetry/log.js';
import { Metrics } from '../src/telemetry/metrics.js';
import { FakeApiServer, type JsonObject } from '../test/support/fake-apiserver/index.js';

const NAMESPACES = 50;
const KEYS_PER_ROTATION_TIMEOUT_MS = 5000;
const TARGETS = { syncMs: 10_000, rssMb: 250, effectMs: 1000 };

interface Options {
  readonly policies: number;
  readonly secrets: number;
  readonly updates: number;
  readonly json: boolean;
}

type ToServer = { readonly kind: 'rotate'; readonly namespace: string; readonly name: string; readonly key: string } | { readonly kind: 'stop' };
type FromServer = { readonly kind: 'ready'; readonly url: string; readonly token: string; readonly populateMs: number };

function parseOptions(argv: readonly string[]): Options {
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
  return { policies, secrets, updates: value('--updates', 1000), json: argv.includes('--json') };
}

const namespaceOf = (policy: number): string => `ns-${policy % NAMESPACES}`;
const hostOf = (policy: number): string => `p${policy}.bench.test`;

// ---- the API server process ----

async function serve(options: Options): Promise<void> {
  const server = new FakeApiServer({ historyLimit: 10_000 });
  await server.start();
  const started = performance.now();
  // A cluster gatehouse has seen before: statuses are already what it computes, so a restart writes none.
  const status: JsonObject = {
    observedGeneration: 1,
    conditions: [{ type: 'Ready', status: 'True', reason: 'Compiled', message: '', lastTransitionTime: '2026-01-01T00:00:00Z', observedGeneration: 1 }],
  };
  for (let p = 0; p < options.policies; p++) {
    server.create({
      apiVersion: 'gatehouse.dev/v1alpha1',
      kind: 'AuthPolicy',
      metadata: { name: `policy-${p}`, namespace: namespaceOf(p) },
      spec: {
        hosts: [hostOf(p)],
        authentication: { methods: [{ name: 'keys', apiKey: { from: [{ header: 'apikey' }], selector: { matchLabels: { 'gatehouse.dev/credential': `group-${p}` } } } }] },
      },
      status,
    });
  }
  // Secret s belongs to policy s % policies: each policy selects secrets/policies Secrets.
  for (let s = 0; s < options.secrets; s++) server.create(secretObject(s % options.policies, `secret-${s}`, `key-${s}-0`));
  process.on('message', (raw: unknown) => {
    const msg = raw as ToServer;
    switch (msg.kind) {
      case 'rotate': {
        const current = server.get('Secret', msg.namespace, msg.name);
        if (current !== undefined) server.update({ ...current, data: { api_key: Buffer.from(msg.key).toString('base64') } });
        return;
      }
      case 'stop':
        void server.stop().then(() => process.exit(0));
        return;
      default: {
        const never: never = msg;
        throw new Error(`unknown message ${JSON.stringify(never)}`);
      }
    }
  });
  const ready: FromServer = { kind: 'ready', url: server.url, token: server.token, populateMs: performance.now() - started };
  process.send?.(ready);
}

function secretObject(policy: number, name: string, key: string): JsonObject {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name,
      namespace: namespaceOf(policy),
      labels: { 'gatehouse.dev/credential': `group-${policy}` },
      annotations: { 'gatehouse.dev/consumer-id': name },
    },
    type: 'Opaque',
    data: { api_key: Buffer.from(key).toString('base64') },
  };
}

// ---- the measuring process ----

function startServerProcess(options: Options): Promise<{ child: ChildProcess; ready: FromServer }> {
  const args = ['--serve', '--policies', String(options.policies), '--secrets', String(options.secrets)];
  const child = fork(fileURLToPath(import.meta.url), args, { execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`the API server process exited with ${String(code)}`)));
    child.once('message', (msg: unknown) => resolve({ child, ready: msg as FromServer }));
  });
}

function kubeConfigFor(url: string, token: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'bench', server: url, skipTLSVerify: true }],
    users: [{ name: 'bench', token }],
    contexts: [{ name: 'bench', cluster: 'bench', user: 'bench' }],
    currentContext: 'bench',
  });
  return kc;
}

function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  const gc: unknown = runInNewContext('gc');
  if (typeof gc === 'function') gc();
}

const mb = (bytes: number): number => bytes / 1024 / 1024;

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

async function measure(options: Options): Promise<void> {
  const { child, ready } = await startServerProcess(options);
  const stopChild = (): void => {
    if (child.connected) child.send({ kind: 'stop' } satisfies ToServer);
  };
  process.once('exit', () => child.kill());
  try {
    const pipeline = new Pipeline({ onNoPolicy: 'deny' });
    const accepts = (index: PolicyIndex | undefined, policy: number, key: string): boolean => {
      const input = new CheckInput({ method: 'GET', scheme: 'https', host: hostOf(policy), path: '/', headers: new Map([['apikey', key]]), peer: '127.0.0.1' });
      const decision = pipeline.decide(index, input, Date.now());
      return !(decision instanceof Promise) && decision.kind === 'allow';
    };
    let waiter: { policy: number; key: string; done: () => void } | undefined;
    let source: KubernetesSource | undefined;
    const store = new PolicyStore({ clock: Date.now }, {
      onStatus: (s) => source?.statusChanged(s),
      onIndex: (index) => {
        if (waiter !== undefined && accepts(index, waiter.policy, waiter.key)) waiter.done();
      },
    });
    const events: Array<{ msg: string; at: number }> = [];
    const logger = createLogger('info', (line) => {
      const entry = JSON.parse(line) as { level: string; msg: string };
      events.push({ msg: entry.msg, at: performance.now() });
      if (entry.level === 'warn' || entry.level === 'error') process.stderr.write(line + '\n');
    });
    source = new KubernetesSource({
      kubeConfig: kubeConfigFor(ready.url, ready.token),
      store,
      logger,
      metrics: new Metrics({ processMetrics: false }),
      namespaces: [],
      policySelector: '',
      secretSelector: '',
      staleAfterMs: 60_000,
    });
    const rssBefore = process.memoryUsage().rss;
    const started = performance.now();
    source.start();
    await source.whenSynced();
    const syncMs = performance.now() - started;
    const lastList = events.filter((e) => e.msg === 'kubernetes objects listed').reduce((max, e) => Math.max(max, e.at), started);
    const compileMs = performance.now() - lastList;
    const rssAtSync = process.memoryUsage().rss;
    collectGarbage();
    const { rss, heapUsed } = process.memoryUsage();
    const keyCount = store.index?.keyCount ?? 0;
    await source.statusIdle();

    const latencies: number[] = [];
    let timeouts = 0;
    for (let i = 0; i < options.updates; i++) {
      const policy = (i * 7919) % options.policies;
      const secret = policy + options.policies * (i % Math.floor(options.secrets / options.policies));
      const key = `rotated-${i}`;
      const t0 = performance.now();
      const effect = new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), KEYS_PER_ROTATION_TIMEOUT_MS);
        waiter = { policy, key, done: () => (clearTimeout(timer), resolve(true)) };
      });
      child.send({ kind: 'rotate', namespace: namespaceOf(policy), name: `secret-${secret}`, key } satisfies ToServer);
      if (await effect) latencies.push(performance.now() - t0);
      else timeouts++;
      waiter = undefined;
    }
    latencies.sort((a, b) => a - b);
    const result = {
      policies: options.policies,
      secrets: options.secrets,
      keys: keyCount,
      serverPopulateMs: Math.round(ready.populateMs),
      syncMs: Math.round(syncMs),
      compileMs: Math.round(compileMs),
      rssBeforeMb: Math.round(mb(rssBefore)),
      rssAtSyncMb: Math.round(mb(rssAtSync)),
      rssAfterGcMb: Math.round(mb(rss)),
      heapUsedMb: Math.round(mb(heapUsed)),
      statusWrites: source.statusWrites,
      updates: options.updates,
      effectP50Ms: Number(percentile(latencies, 50).toFixed(2)),
      effectP99Ms: Number(percentile(latencies, 99).toFixed(2)),
      effectMaxMs: Number((latencies.at(-1) ?? Number.NaN).toFixed(2)),
      timeouts,
    };
    await source.stop();
    if (options.json) process.stdout.write(JSON.stringify(result, null, 2) + '\n');
    else process.stdout.write(table(result));
    const pass = result.syncMs <= TARGETS.syncMs && result.rssAtSyncMb <= TARGETS.rssMb && result.effectP99Ms <= TARGETS.effectMs && timeouts === 0;
    process.exitCode = pass ? 0 : 1;
  } finally {
    stopChild();
  }
}

function table(r: Record<string, number>): string {
  const rows: Array<[string, string, string]> = [
    ['objects', `${r.policies} AuthPolicies, ${r.secrets} Secrets, ${r.keys} keys`, ''],
    ['initial sync (list + compile)', `${r.syncMs} ms`, `<= ${TARGETS.syncMs} ms`],
    ['  of which compile and index', `${r.compileMs} ms`, ''],
    ['RSS before start', `${r.rssBeforeMb} MB`, ''],
    ['RSS at sync', `${r.rssAtSyncMb} MB`, `<= ${TARGETS.rssMb} MB`],
    ['RSS after GC (heap used)', `${r.rssAfterGcMb} MB (${r.heapUsedMb} MB)`, ''],
    ['status writes at start', String(r.statusWrites), '0 (statuses already current)'],
    [`Secret change -> decision (${r.updates} rotations)`, `p50 ${r.effectP50Ms} ms, p99 ${r.effectP99Ms} ms, max ${r.effectMaxMs} ms`, `p99 <= ${TARGETS.effectMs} ms`],
    ['rotations not effective within 5 s', String(r.timeouts), '0'],
  ];
  const widths = [0, 1, 2].map((c) => Math.max(...rows.map((row) => row[c]?.length ?? 0), 6));
  const line = (cells: readonly string[]): string => `| ${cells.map((cell, c) => cell.padEnd(widths[c] ?? 0)).join(' | ')} |\n`;
  return line(['measure', 'value', 'target']) + line(widths.map((w) => '-'.repeat(w))) + rows.map(line).join('');
}

const options = parseOptions(process.argv.slice(2));
if (process.argv.includes('--serve')) await serve(options);
else await measure(options);
