// What holds the memory of `gatehouse serve --kubernetes` at scale: the same child and cluster as
// bench/kubernetes.ts; once synced and idle, the child writes a heap snapshot (SIGUSR2, which runs a
// full GC first) and this prints the heap by kind of object (self sizes) and the biggest holders
// (retained sizes, from the dominator tree). With --files, the child is `gatehouse serve --policies`
// over the files of the wire bench's 10,000-policy scenario (one key Secret per policy, --secrets keys
// in all) instead.
//
//   node dist/bench/kubernetes-heap.js [--files] [--policies 10000] [--secrets 100000] [--idle-seconds 3] [--top 30] [--keep]
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kubeConfigFile, startCluster } from './kubernetes-cluster.js';
import { memoryOf, startGatehouse } from './kubernetes-child.js';
import { labelOf, readHeapSnapshot, retainedSizes } from './heap-snapshot.js';
import { apiKeyPolicies } from './policies.js';

const USAGE = 'node dist/bench/kubernetes-heap.js [--files] [--policies 10000] [--secrets 100000] [--idle-seconds 3] [--top 30] [--keep]';

function flag(argv: readonly string[], name: string, fallback: number): number {
  const i = argv.indexOf(name);
  if (i === -1) return fallback;
  const n = Number(argv[i + 1]);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} needs a positive integer, got ${String(argv[i + 1])}`);
  return n;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

/** Waits until the snapshot file is complete: it ends the JSON and stops growing. */
async function snapshotWritten(dir: string): Promise<string> {
  for (let waited = 0; waited < 300_000; waited += 250) {
    await sleep(250);
    const name = readdirSync(dir).find((f) => f.endsWith('.heapsnapshot'));
    if (name === undefined) continue;
    const file = join(dir, name);
    const size = statSync(file).size;
    await sleep(500);
    if (size > 0 && statSync(file).size === size) return file;
  }
  throw new Error(`no heap snapshot in ${dir} within 300 s`);
}

async function main(argv: readonly string[]): Promise<void> {
  if (argv.includes('--help') || argv.includes('-h')) return void process.stdout.write(`usage: ${USAGE}\n`);
  const policies = flag(argv, '--policies', 10_000);
  const secrets = flag(argv, '--secrets', 100_000);
  const top = flag(argv, '--top', 30);
  const files = argv.includes('--files');
  if (files && secrets % policies !== 0) throw new Error('--files needs --secrets (keys) to be a multiple of --policies');
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-heap-'));
  const server = files ? undefined : await startCluster(policies, secrets, 'current');
  const policyDir = join(dir, 'policies');
  if (files) {
    mkdirSync(policyDir);
    await apiKeyPolicies(policies, secrets / policies).write(policyDir);
  }
  const source = server === undefined ? { policies: policyDir } : { kubeconfig: kubeConfigFile(server) };
  const gatehouse = startGatehouse(source, `--heapsnapshot-signal=SIGUSR2 --diagnostic-dir=${dir}`);
  const pid = gatehouse.child.pid ?? 0;
  let file: string;
  let rss: number;
  try {
    await gatehouse.logged(files ? 'policy files loaded' : 'memory settled after the first sync');
    await sleep(flag(argv, '--idle-seconds', 3) * 1000);
    rss = memoryOf(pid).rss;
    gatehouse.child.kill('SIGUSR2');
    file = await snapshotWritten(dir);
  } finally {
    const exited = new Promise((resolve) => gatehouse.child.once('exit', resolve));
    gatehouse.child.kill('SIGTERM');
    await exited;
    await server?.stop();
  }
  const g = readHeapSnapshot(file);
  const { idom, retained } = retainedSizes(g);
  const n = g.type.length;
  let total = 0;
  const groups = new Map<string, { count: number; self: number }>();
  for (let v = 0; v < n; v++) {
    total += g.selfSize[v] ?? 0;
    const label = labelOf(g, v);
    const group = groups.get(label) ?? { count: 0, self: 0 };
    group.count++;
    group.self += g.selfSize[v] ?? 0;
    groups.set(label, group);
  }
  const out: string[] = [];
  out.push(`${policies} AuthPolicies, ${secrets} ${files ? 'keys in files' : 'Secrets'}: RSS before the snapshot ${rss} MB, heap in the snapshot ${mb(total)} (${n} objects)`);
  out.push(`heap per ${files ? 'key' : 'Secret'} ${((total / secrets) | 0)} B all included; per policy ${((total / policies) | 0)} B`);
  out.push('', `kinds of object by self size (top ${top})`, '| kind | count | self | avg |', '|---|---|---|---|');
  for (const [label, x] of [...groups].sort((a, b) => b[1].self - a[1].self).slice(0, top)) {
    out.push(`| ${label.slice(0, 60)} | ${x.count} | ${mb(x.self)} | ${Math.round(x.self / x.count)} B |`);
  }
  // Holders: the biggest retained sizes, leaving out a node that retains nearly all of what its
  // dominator does (a chain of wrappers shows once, at its top).
  const holders: number[] = [];
  for (let v = 1; v < n; v++) {
    const r = retained[v] ?? 0;
    if (r < total / 200) continue;
    const d = idom[v] ?? 0;
    if (d !== 0 && r > 0.9 * (retained[d] ?? 0) && labelOf(g, d).startsWith('(') === false) continue;
    holders.push(v);
  }
  holders.sort((a, b) => (retained[b] ?? 0) - (retained[a] ?? 0));
  out.push('', `biggest holders by retained size (over 0.5% of the heap, top ${top})`, '| holder | held by | retained |', '|---|---|---|');
  for (const v of holders.slice(0, top)) out.push(`| ${labelOf(g, v).slice(0, 60)} | ${labelOf(g, idom[v] ?? 0).slice(0, 40)} | ${mb(retained[v] ?? 0)} |`);
  process.stdout.write(out.join('\n') + '\n');
  if (argv.includes('--keep')) process.stdout.write(`snapshot kept: ${file}\n`);
  else if (existsSync(dir)) rmSync(dir, { recursive: true });
}

await main(process.argv.slice(2));
