// The gatehouse child process of the Kubernetes benches: `gatehouse serve --kubernetes` against a
// kubeconfig (or `--policies` over files, for the heap report), its log lines awaited by message, its
// memory read from /proc and from its own /metrics.
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { SERVING_NODE_FLAGS } from '../src/service/startup-heap.js';

const CLI = fileURLToPath(new URL('../src/cli.js', import.meta.url));
const SYNC_TIMEOUT_MS = 300_000;

/** Resident and peak resident memory of a process, in MB. */
export function memoryOf(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
  return { rss: Math.round(kb('VmRSS') / 1024), hwm: Math.round(kb('VmHWM') / 1024) };
}

export interface Gatehouse {
  readonly child: ChildProcess;
  /** Resolves with the fields of the first log line with this message. */
  logged(msg: string): Promise<Record<string, unknown>>;
}

/** Where the child reads its policies: a kubeconfig (`--kubernetes`) or a directory of files. */
export type ChildSource = { readonly kubeconfig: string } | { readonly policies: string };

export function startGatehouse(source: ChildSource, nodeOptions: string): Gatehouse {
  const from = 'kubeconfig' in source ? ['--kubernetes'] : ['--policies', source.policies];
  const env = 'kubeconfig' in source ? { ...process.env, KUBECONFIG: source.kubeconfig } : process.env;
  const args = ['serve', ...from, '--grpc-address', '127.0.0.1:0', '--http-address', '127.0.0.1:0', '--admin-address', '127.0.0.1:0', '--shutdown-delay', '0s', '--shutdown-grace', '0s'];
  // As the image runs it; flags in nodeOptions come later and win (`--maglev`, say).
  const child = spawn(process.execPath, [...SERVING_NODE_FLAGS, ...nodeOptions.split(/\s+/).filter((f) => f !== ''), CLI, ...args], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  const waiters = new Map<string, (fields: Record<string, unknown>) => void>();
  const seen = new Map<string, Record<string, unknown>>();
  let buffered = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    let nl: number;
    while ((nl = buffered.indexOf('\n')) !== -1) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(line) as Record<string, unknown>;
      } catch {
        process.stderr.write(line + '\n');
        continue;
      }
      const msg = String(entry.msg);
      if (entry.level === 'warn' || entry.level === 'error') process.stderr.write(line + '\n');
      if (!seen.has(msg)) seen.set(msg, entry);
      waiters.get(msg)?.(entry);
    }
  });
  const logged = (msg: string): Promise<Record<string, unknown>> => {
    const earlier = seen.get(msg);
    if (earlier !== undefined) return Promise.resolve(earlier);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`gatehouse did not log "${msg}" within ${SYNC_TIMEOUT_MS} ms`)), SYNC_TIMEOUT_MS);
      child.once('exit', (code) => reject(new Error(`gatehouse exited with ${String(code)} before logging "${msg}"`)));
      waiters.set(msg, (fields) => (clearTimeout(timer), resolve(fields)));
    });
  };
  return { child, logged };
}

/** The server's V8 heap in use, the heap V8 holds, and memory outside it (Buffers), in MB, from its own /metrics. */
export function heapOf(adminPort: number): Promise<{ used: number; total: number; external: number }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: adminPort, path: '/metrics' }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
      res.on('end', () => {
        const mb = (metric: string): number => Math.round(Number(new RegExp(`^${metric} (\\S+)$`, 'm').exec(text)?.[1] ?? Number.NaN) / 1024 / 1024);
        resolve({ used: mb('nodejs_heap_size_used_bytes'), total: mb('nodejs_heap_size_total_bytes'), external: mb('nodejs_external_memory_bytes') });
      });
    });
    req.on('error', reject);
    req.end();
  });
}
