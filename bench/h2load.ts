// The load generator: nghttp2's h2load, a C client that drives a no-op Node server several times
// harder than a Node client can, pinned to the load core. One run is one h2load process; its text
// summary gives the counts, req/s and mean latency, its per-request log (--log-file) the percentiles.
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { LOAD_CPU, pinnable } from './affinity.js';

export interface H2loadRun {
  readonly url: string;
  /** HTTP/1.1 (forward-auth) instead of h2c. */
  readonly h1: boolean;
  /** File posted as each request's body (a framed gRPC message); none sends GET. */
  readonly bodyFile?: string;
  /** `name: value` request headers. */
  readonly headers: readonly string[];
  readonly connections: number;
  /** Requests in flight per connection (h2load -m). */
  readonly inFlight: number;
  readonly durationMs: number;
  readonly warmupMs: number;
  /** Fixed rate per connection (h2load --rps); absent: as fast as answers come. */
  readonly ratePerConnection?: number;
  /**
   * Fixed-rate runs: this many requests (-n) instead of a duration, the connections opened 1 ms apart
   * (h2load takes no warm-up then; the caller drops the first rows of the log).
   */
  readonly requests?: number;
  /** Per-request log: start time µs, HTTP status, duration µs. */
  readonly logFile?: string;
}

export interface H2loadResult {
  readonly done: number;
  readonly succeeded: number;
  /** failed + errored + timeout: requests without a whole answer. */
  readonly failed: number;
  readonly status2xx: number;
  /** Requests per second over the measured duration, as h2load prints it. */
  readonly rps: number;
  /** Mean "time for request" in µs. */
  readonly meanMicros: number;
  /** CPU h2load used, in cores over its whole run (1 = one core busy). */
  readonly cpu: number;
}

export class H2loadError extends Error {
  override readonly name = 'H2loadError';
  readonly code = 'bench_h2load_failed';
}

/** Whether h2load is installed (scripts/system-deps.sh installs nghttp2-client). */
export function h2loadAvailable(): boolean {
  return spawnSync('h2load', ['--version'], { stdio: 'ignore' }).status === 0;
}

export function h2loadArgs(run: H2loadRun): string[] {
  const seconds = (ms: number): string => `${Math.round(ms)}ms`;
  const args = ['-c', String(run.connections), '-m', String(run.inFlight)];
  // h2load's rate timer ticks every 10 ms at the fastest and sends what fell due as one burst: clients
  // started 1 ms apart tick at different times, so the bursts are a tenth of the size or less.
  if (run.requests !== undefined) args.push('-n', String(run.requests), '-r', '1', '--rate-period', '1ms');
  else args.push('-D', seconds(run.durationMs), ...(run.warmupMs > 0 ? ['--warm-up-time', seconds(run.warmupMs)] : []));
  if (run.h1) args.push('--h1');
  if (run.bodyFile !== undefined) args.push('-d', run.bodyFile);
  if (run.ratePerConnection !== undefined) args.push('--rps', run.ratePerConnection.toFixed(2));
  if (run.logFile !== undefined) args.push('--log-file', run.logFile);
  for (const h of run.headers) args.push('-H', h);
  args.push(run.url);
  return args;
}

const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/** CPU time of this process's waited-for children (utime + stime of exited children), in seconds. */
function childrenCpuSeconds(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // After the name: state is field 3, so cutime (16) and cstime (17) sit at 13 and 14.
  return (Number(fields[13]) + Number(fields[14])) / CLOCK_TICKS;
}

export async function runH2load(run: H2loadRun, signal?: AbortSignal): Promise<H2loadResult> {
  const args = h2loadArgs(run);
  const [cmd, argv] = pinnable() ? ['taskset', ['-c', String(LOAD_CPU), 'h2load', ...args]] : ['h2load', args];
  const cpuBefore = childrenCpuSeconds();
  const started = performance.now();
  const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'], signal });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
  child.stderr.on('data', (c: Buffer) => (out += c.toString('utf8')));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (c) => resolve(c));
  });
  const wallS = (performance.now() - started) / 1000;
  if (code !== 0) throw new H2loadError(`h2load ${args.join(' ')} exited ${String(code)}:\n${out.slice(-2000)}`);
  return { ...parseH2loadOutput(out), cpu: (childrenCpuSeconds() - cpuBefore) / wallS };
}

/** "363us", "3.68ms", "1.20s" -> µs. */
function micros(text: string): number {
  const m = /^([0-9.]+)(us|ms|s)$/.exec(text);
  if (m === null) return Number.NaN;
  return Number(m[1]) * (m[2] === 'us' ? 1 : m[2] === 'ms' ? 1000 : 1_000_000);
}

/** The figures of h2load's summary; throws when a line is missing (another h2load version). */
export function parseH2loadOutput(text: string): Omit<H2loadResult, 'cpu'> {
  const find = (re: RegExp, what: string): RegExpExecArray => {
    const m = re.exec(text);
    if (m === null) throw new H2loadError(`h2load printed no ${what}:\n${text.slice(-2000)}`);
    return m;
  };
  const finished = find(/^finished in [0-9.]+m?s, ([0-9.]+) req\/s/m, 'req/s');
  const counts = find(/^requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/m, 'request counts');
  const status = find(/^status codes: (\d+) 2xx/m, 'status codes');
  const time = find(/^time for request:\s+(\S+)\s+(\S+)\s+(\S+)/m, 'request times');
  const n = (s: string | undefined): number => Number(s);
  return {
    done: n(counts[1]),
    succeeded: n(counts[2]),
    failed: n(counts[3]) + n(counts[4]) + n(counts[5]),
    status2xx: n(status[1]),
    rps: n(finished[1]),
    meanMicros: micros(time[3] ?? ''),
  };
}

/**
 * Latency quantiles (µs) from an h2load --log-file, leaving out requests started in the first
 * `skipMs` (the warm-up, which h2load logs too). NaN each when nothing is left.
 */
export function logQuantiles(text: string, quantiles: readonly number[], skipMs: number): number[] {
  const rows: { start: number; micros: number }[] = [];
  for (const line of text.split('\n')) {
    const [start, status, duration] = line.split('\t');
    if (start === undefined || status === undefined || duration === undefined) continue;
    rows.push({ start: Number(start), micros: Number(duration) });
  }
  const first = rows.reduce((min, r) => Math.min(min, r.start), Number.POSITIVE_INFINITY);
  const kept = rows.filter((r) => r.start >= first + skipMs * 1000).map((r) => r.micros);
  kept.sort((a, b) => a - b);
  return quantiles.map((q) => (kept.length === 0 ? Number.NaN : (kept[Math.min(kept.length - 1, Math.max(0, Math.ceil(q * kept.length) - 1))] ?? Number.NaN)));
}
