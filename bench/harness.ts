// Runs scenarios one after another against gatehouse (a child process per policy set) and the no-op
// floor (one child process for the whole run), h2load driving both from the other core. Per scenario:
// `rounds` throughput windows (1 connection × 64 in flight) and `rounds` latency windows (1 in
// flight), no-op and gatehouse interleaved, the best of each kept and each round's pair compared; then one fixed-rate window each at
// half the floor's best throughput (at most 90% of gatehouse's own) for percentiles and allocation. Every process it starts is gone
// when it returns or throws, and the whole run is bounded by `timeLimitMs`.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildCheckRequest, checkMethod } from '../test/support/envoy-client.js';
import { frame } from './channel-http2.js';
import type { Scenario, RequestSpec } from './scenarios.js';
import { BASE_NAME, SCALE_NAME } from './scenarios.js';
import { killAllServers, type ServerProcess, startServer } from './servers.js';
import { measureWindow, type Sample, type Target, type WindowKind, type WindowResult } from './window.js';

export interface BenchOptions {
  readonly scenarios: readonly Scenario[];
  /** Interleaved no-op/gatehouse windows per measure; the best is kept. */
  readonly rounds: number;
  /** Throughput and latency windows. */
  readonly durationMs: number;
  readonly warmupMs: number;
  /** Fixed-rate windows (percentiles, allocation). */
  readonly rateDurationMs: number;
  /**
   * Load a server takes, discarded, before its first measured window on a transport: a new process
   * needs seconds of traffic before its JIT and young generation reach their steady state (the floor
   * served 12.6k req/s in its first 2 s window and 18-20k from the fourth on). Absent: none.
   */
  readonly settleMs?: number;
  /** grpc-timeout on every Check, as Envoy's ext_authz timeout. */
  readonly deadlineMs: number;
  /** The whole run fails past this, processes killed. */
  readonly timeLimitMs: number;
  /** Aborts the run (interrupt): it rejects after stopping everything it started. */
  readonly signal?: AbortSignal;
  /** Progress lines (stderr in the CLI). */
  readonly progress?: (line: string) => void;
}

/** One server's figures in a scenario: best throughput and mean, and the fixed-rate window. */
export interface Figures {
  /** Best req/s at 64 in flight (16 connections × 1 for HTTP/1.1). */
  readonly rps: number;
  /** Lowest mean latency at 1 in flight, µs. */
  readonly meanMicros: number;
  /** Each round's req/s at 64 in flight and mean µs at 1 in flight, in round order (NaN for a window that failed). */
  readonly rpsByRound: readonly number[];
  readonly meanByRound: readonly number[];
  /** Rate asked of the fixed-rate window (half the floor's best, at most 90% of gatehouse's best), the rate h2load achieved, and its p50, p99, p99.9 in µs. */
  readonly rate: number;
  readonly achievedRate: number;
  /** Requests h2load completed in the fixed-rate window: sized to its warm-up and `rateDurationMs` at the rate. */
  readonly rateRequests: number;
  readonly p50Micros: number;
  readonly p99Micros: number;
  readonly p999Micros: number;
  /** Server and h2load CPU in the best throughput window, in cores. */
  readonly serverCpu: number;
  /** Median over the throughput windows (64 in flight) and the latency windows (1 in flight) of server CPU µs per Check. */
  readonly cpuMicrosPerCheck: number;
  readonly cpuMicrosPerCheckAt1: number;
  readonly loadCpu: number;
  /** JS heap bytes allocated per Check over the fixed-rate window. */
  readonly bytesPerCheck: number;
  /** Checks of the fixed-rate window that passed their deadline. */
  readonly lateChecks: number;
}

export interface ScenarioResult {
  readonly name: string;
  readonly transport: Scenario['transport'];
  readonly policies: number;
  readonly gatehouse: Figures;
  readonly floor: Figures;
  /** gatehouse req/s / floor req/s. */
  readonly ratio: number;
  /** gatehouse mean - floor mean at 1 in flight, µs. */
  readonly addedMicros: number;
  /**
   * The same two measures paired by round: the median over the rounds of gatehouse's req/s over the
   * floor's in the same round, and of gatehouse's mean minus the floor's. A slow spell of the machine
   * lowers both windows of its round, where a best-of-N takes each server's best from whichever round
   * was quietest for it.
   */
  readonly pairedRatio: number;
  readonly pairedAddedMicros: number;
  /**
   * The same-process floor: no-op servers inside gatehouse's process, measured in the same rounds
   * (throughput and latency windows only; its rate, percentile and allocation figures are NaN, and
   * all are NaN when the scenario failed before it was measured).
   */
  readonly beside: Figures;
  /** gatehouse req/s / same-process floor req/s; gatehouse mean - its mean (µs); CPU µs per Check over its, at 64 and at 1 in flight. */
  readonly besideRatio: number;
  readonly besideAddedMicros: number;
  readonly besideAddedCpuMicros: number;
  readonly besideAddedCpuMicrosAt1: number;
  /** Paired by round as pairedRatio and pairedAddedMicros, against the same-process floor. */
  readonly besidePairedRatio: number;
  readonly besidePairedAddedMicros: number;
  /**
   * Scenarios with a signature floor (Scenario.signatureFloor): its figures, measured in the same
   * rounds (throughput and latency windows); undefined for the others.
   */
  readonly signature: Figures | undefined;
  /** Signature floor req/s / floor req/s: the most any authenticator of these tokens could reach; best-of and paired. NaN without one. */
  readonly signatureRatio: number;
  readonly signaturePairedRatio: number;
  /** gatehouse req/s / signature floor req/s, best-of and paired. NaN without one. */
  readonly overSignature: number;
  readonly overSignaturePaired: number;
  readonly rssIdleBytes: number;
  readonly rssAfterBytes: number;
  readonly serverPid: number;
  /** What was wrong (errors, unexpected answers); undefined when the scenario measured what it claims. */
  readonly problem: string | undefined;
  /** gatehouse's answer to the verifying client after the last window. */
  readonly sample: Sample | undefined;
}

export interface BenchReport {
  readonly node: string;
  readonly rounds: number;
  readonly durationMs: number;
  readonly warmupMs: number;
  readonly rateDurationMs: number;
  readonly settleMs: number;
  readonly floorRssIdleBytes: number;
  readonly floorRssAfterBytes: number;
  readonly results: readonly ScenarioResult[];
  /**
   * Mean latency at 10,000 policies + 100,000 keys / at 1 policy, each first divided by the floor
   * measured beside it so that load drifting between the two scenarios cancels; undefined unless both ran.
   */
  readonly scaling: number | undefined;
  /** The same without the floors: the two means as measured, minutes apart. */
  readonly scalingRaw: number | undefined;
  /** Every scenario answered without errors and as expected. */
  readonly ok: boolean;
}

export class BenchTimeoutError extends Error {
  override readonly name = 'BenchTimeoutError';
  readonly code = 'bench_timeout';
}

export class BenchAbortedError extends Error {
  override readonly name = 'BenchAbortedError';
  readonly code = 'bench_aborted';
}

const SERVER_START_MS = 120_000;
const NOOP_EXPECT = { grpc: { kind: 'allow', headers: {} }, http: { kind: 'allow', headers: { 'x-consumer-id': 'noop' } } } as const;

interface RunState {
  readonly servers: Set<ServerProcess>;
  readonly abort: AbortController;
  /** `pid transport` of the servers already settled. */
  readonly settled: Set<string>;
}

export async function runBench(options: BenchOptions): Promise<BenchReport> {
  if (options.scenarios.length === 0) throw new RangeError('no scenario to run');
  const root = mkdtempSync(join(tmpdir(), 'gatehouse-bench-'));
  const state: RunState = { servers: new Set(), abort: new AbortController(), settled: new Set() };
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new BenchTimeoutError(`benchmark exceeded its time limit of ${options.timeLimitMs} ms`)), options.timeLimitMs);
    onAbort = () => reject(new BenchAbortedError('benchmark interrupted'));
    if (options.signal?.aborted === true) onAbort();
    else options.signal?.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([run(options, root, state), limit]);
  } finally {
    if (onAbort !== undefined) options.signal?.removeEventListener('abort', onAbort);
    clearTimeout(timer);
    state.abort.abort(); // kills an h2load still running and stops the run starting anything more
    await Promise.all([...state.servers].map((s) => s.stop()));
    await killAllServers();
    rmSync(root, { recursive: true, force: true });
  }
}

async function start(state: RunState, mode: Parameters<typeof startServer>[0]): Promise<ServerProcess> {
  if (state.abort.signal.aborted) throw new BenchAbortedError('benchmark aborted');
  const s = await startServer(mode, SERVER_START_MS);
  state.servers.add(s);
  return s;
}

async function stop(state: RunState, s: ServerProcess): Promise<void> {
  state.servers.delete(s);
  await s.stop();
}

/** The nginx auth_request form of a request: what to ask, and the original request in X-Original-*. */
function forwardAuthHeaders(spec: RequestSpec): Record<string, string> {
  const h: Record<string, string> = {};
  for (const [k, v] of Object.entries(spec.http.headers ?? {})) h[k] = typeof v === 'string' ? v : v.join(', ');
  return {
    ...h,
    'x-original-method': spec.http.method ?? 'GET',
    'x-original-uri': spec.http.path,
    'x-forwarded-host': spec.http.host,
    'x-forwarded-proto': spec.http.scheme ?? 'https',
    'x-real-ip': spec.http.peer ?? '127.0.0.1',
  };
}

async function run(options: BenchOptions, root: string, state: RunState): Promise<BenchReport> {
  const say = options.progress ?? ((): void => undefined);
  const method = await checkMethod();
  const written = new Map<string, { dir: string; count: number }>();
  say('starting the no-op floor');
  const noop = await start(state, { kind: 'noop' });
  const floorRssIdleBytes = noop.rssBytes();
  let current: { id: string; server: ServerProcess; rssIdle: number } | undefined;
  const results: ScenarioResult[] = [];

  for (const [i, scenario] of options.scenarios.entries()) {
    const spec = await scenario.request();
    const request = method.requestSerialize(buildCheckRequest(spec.http, spec.options ?? {}));
    const bodyFile = join(root, `request-${i}.bin`);
    writeFileSync(bodyFile, frame(request));
    const set = scenario.policies;
    if (current?.id !== set.id) {
      if (current !== undefined) await stop(state, current.server);
      current = undefined;
      let entry = written.get(set.id);
      if (entry === undefined) {
        const dir = join(root, set.id);
        mkdirSync(dir);
        say(`writing policy set ${set.id}`);
        entry = { dir, count: await set.write(dir) };
        written.set(set.id, entry);
      }
      say(`starting gatehouse over ${set.id}`);
      const server = await start(state, { kind: 'gatehouse', policiesDir: entry.dir });
      if (server.policiesReady !== entry.count || server.policiesInvalid !== 0) {
        throw new Error(`gatehouse over ${set.id} has ${server.policiesReady} policies ready and ${server.policiesInvalid} invalid; expected ${entry.count} ready`);
      }
      current = { id: set.id, server, rssIdle: server.rssBytes() };
    }
    const path = scenario.transport === 'http' ? '/auth/nginx' : '';
    const headers = scenario.transport === 'http' ? forwardAuthHeaders(spec) : {};
    const decode = (b: Buffer): unknown => method.responseDeserialize(b);
    const common = { transport: scenario.transport, request, bodyFile, path, headers, decode };
    const gh: Target = { ...common, server: current.server, expect: scenario.expect };
    const floor: Target = { ...common, server: noop, expect: NOOP_EXPECT[scenario.transport] };
    if (current.server.beside === undefined) throw new Error(`gatehouse over ${set.id} started without its same-process no-op servers`);
    const beside: Target = { ...common, server: current.server.beside, expect: NOOP_EXPECT[scenario.transport] };
    let signatureServer: ServerProcess | undefined;
    if (scenario.signatureFloor !== undefined) {
      if (scenario.transport !== 'grpc') throw new Error(`${scenario.name}: a signature floor answers gRPC only`);
      const { alg, key } = scenario.signatureFloor();
      const keyFile = join(root, `signature-${i}.key`);
      writeFileSync(keyFile, key, { mode: 0o600 });
      say(`starting the ${alg} signature floor`);
      signatureServer = await start(state, { kind: 'signature', alg, keyFile });
    }
    say(`running ${scenario.name}`);
    const signature: Target | undefined = signatureServer === undefined ? undefined : { ...common, server: signatureServer, expect: NOOP_EXPECT.grpc };
    const measured = await measureScenario(options, state, root, { floor, gatehouse: gh, beside, ...(signature === undefined ? {} : { signature }) });
    if (signatureServer !== undefined) await stop(state, signatureServer);
    const g = measured.gatehouse;
    const b = measured.beside;
    const sig = measured.signature;
    results.push({
      name: scenario.name,
      transport: scenario.transport,
      policies: current.server.policiesReady,
      ...measured,
      ratio: g.rps / measured.floor.rps,
      addedMicros: g.meanMicros - measured.floor.meanMicros,
      besideRatio: g.rps / b.rps,
      besideAddedMicros: g.meanMicros - b.meanMicros,
      besideAddedCpuMicros: g.cpuMicrosPerCheck - b.cpuMicrosPerCheck,
      besideAddedCpuMicrosAt1: g.cpuMicrosPerCheckAt1 - b.cpuMicrosPerCheckAt1,
      pairedRatio: pairedMedian(g.rpsByRound, measured.floor.rpsByRound, (x, y) => x / y),
      pairedAddedMicros: pairedMedian(g.meanByRound, measured.floor.meanByRound, (x, y) => x - y),
      besidePairedRatio: pairedMedian(g.rpsByRound, b.rpsByRound, (x, y) => x / y),
      besidePairedAddedMicros: pairedMedian(g.meanByRound, b.meanByRound, (x, y) => x - y),
      signatureRatio: sig === undefined ? Number.NaN : sig.rps / measured.floor.rps,
      signaturePairedRatio: sig === undefined ? Number.NaN : pairedMedian(sig.rpsByRound, measured.floor.rpsByRound, (x, y) => x / y),
      overSignature: sig === undefined ? Number.NaN : g.rps / sig.rps,
      overSignaturePaired: sig === undefined ? Number.NaN : pairedMedian(g.rpsByRound, sig.rpsByRound, (x, y) => x / y),
      rssIdleBytes: current.rssIdle,
      rssAfterBytes: current.server.rssBytes(),
      serverPid: current.server.pid,
    });
  }
  const floorRssAfterBytes = noop.rssBytes();
  const byName = (n: string): ScenarioResult | undefined => results.find((r) => r.name === n && r.problem === undefined);
  const [base, scaled] = [byName(BASE_NAME), byName(SCALE_NAME)];
  return {
    node: process.version,
    rounds: options.rounds,
    durationMs: options.durationMs,
    warmupMs: options.warmupMs,
    rateDurationMs: options.rateDurationMs,
    settleMs: options.settleMs ?? 0,
    floorRssIdleBytes,
    floorRssAfterBytes,
    results,
    scaling: base === undefined || scaled === undefined ? undefined : scaled.gatehouse.meanMicros / scaled.floor.meanMicros / (base.gatehouse.meanMicros / base.floor.meanMicros),
    scalingRaw: base === undefined || scaled === undefined ? undefined : scaled.gatehouse.meanMicros / base.gatehouse.meanMicros,
    ok: results.every((r) => r.problem === undefined),
  };
}

type Who = 'floor' | 'gatehouse' | 'beside' | 'signature';
const WHO: Readonly<Record<Who, string>> = { floor: 'no-op floor', gatehouse: 'gatehouse', beside: 'same-process floor', signature: 'signature floor' };

interface Measured {
  readonly gatehouse: Figures;
  readonly floor: Figures;
  readonly beside: Figures;
  readonly signature: Figures | undefined;
  readonly problem: string | undefined;
  readonly sample: Sample | undefined;
}

async function measureScenario(
  o: BenchOptions,
  state: RunState,
  root: string,
  targets: Readonly<Record<Exclude<Who, 'signature'>, Target>> & { readonly signature?: Target },
): Promise<Measured> {
  const w = { durationMs: o.durationMs, warmupMs: o.warmupMs, deadlineMs: o.deadlineMs, signal: state.abort.signal };
  const hasSignature = targets.signature !== undefined;
  const empty = { gatehouse: figures(new Map(), 0), floor: figures(new Map(), 0), beside: figures(new Map(), Number.NaN), signature: hasSignature ? figures(new Map(), Number.NaN) : undefined };
  const target = (who: Who): Target => {
    const t = targets[who];
    if (t === undefined) throw new Error(`no ${WHO[who]} in this scenario`);
    return t;
  };
  const present: readonly Who[] = hasSignature ? ['floor', 'gatehouse', 'beside', 'signature'] : ['floor', 'gatehouse', 'beside'];
  for (const who of present) {
    const t = target(who);
    // Per process and transport: the same-process floor runs in gatehouse's process, already settled.
    const key = `${t.server.pid} ${t.transport}`;
    if ((o.settleMs ?? 0) <= 0 || state.settled.has(key)) continue;
    state.settled.add(key);
    const r = await measureWindow(t, 'throughput', { ...w, warmupMs: 0, durationMs: o.settleMs ?? 0 });
    if (r.problem !== undefined) return { ...empty, problem: `${WHO[who]}, settling: ${r.problem}`, sample: r.sample };
  }
  const runs: Record<Who, Map<WindowKind, WindowResult[]>> = { floor: new Map(), gatehouse: new Map(), beside: new Map(), signature: new Map() };
  let problem: string | undefined;
  let sample: Sample | undefined;
  const measure = async (who: Who, kind: WindowKind, extra: { rate?: number; logFile?: string; durationMs?: number } = {}): Promise<void> => {
    if (problem !== undefined) return;
    const r = await measureWindow(target(who), kind, { ...w, ...extra });
    if (r.problem !== undefined) problem = `${WHO[who]}, ${kind}: ${r.problem}`;
    if (who === 'gatehouse') sample = r.sample ?? sample;
    const list = runs[who].get(kind) ?? [];
    list.push(r);
    runs[who].set(kind, list);
  };
  for (const kind of ['throughput', 'latency'] as const) {
    for (let round = 0; round < o.rounds; round++) {
      // The same-process floor goes first or last in turn, so neither it nor gatehouse always follows the other.
      // The signature floor, where there is one, goes right before or right after gatehouse in turn.
      const order: readonly Who[] = round % 2 === 0 ? ['floor', 'signature', 'gatehouse', 'beside'] : ['floor', 'beside', 'gatehouse', 'signature'];
      for (const who of order) if (present.includes(who)) await measure(who, kind);
    }
  }
  const best = (who: Who): number => Math.max(...(runs[who].get('throughput') ?? []).map((r) => r.rps));
  // Half the floor's throughput, but never more than 90% of what gatehouse itself served: past its
  // capacity a queue grows until Checks pass their deadline, and the percentiles measure the queue.
  const asked = Math.min(best('floor') / 2, best('gatehouse') * 0.9);
  const rate = Number.isFinite(asked) ? Math.max(1, Math.floor(asked)) : 1;
  await measure('floor', 'rate', { rate, logFile: join(root, 'floor.log'), durationMs: o.rateDurationMs });
  await measure('gatehouse', 'rate', { rate, logFile: join(root, 'gatehouse.log'), durationMs: o.rateDurationMs });
  return {
    gatehouse: figures(runs.gatehouse, rate),
    floor: figures(runs.floor, rate),
    beside: figures(runs.beside, Number.NaN),
    signature: hasSignature ? figures(runs.signature, Number.NaN) : undefined,
    problem,
    sample,
  };
}

/** The middle value (the mean of the two middle ones for an even count); NaN for none. */
export function median(values: readonly number[]): number {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return Number.NaN;
  const mid = v.length >> 1;
  return v.length % 2 === 1 ? (v[mid] as number) : ((v[mid - 1] as number) + (v[mid] as number)) / 2;
}

/** The median over the rounds both measured of `f(a[round], b[round])`; NaN when none. */
export function pairedMedian(a: readonly number[], b: readonly number[], f: (x: number, y: number) => number): number {
  const n = Math.min(a.length, b.length);
  return median(Array.from({ length: n }, (_, i) => f(a[i] as number, b[i] as number)));
}

function figures(runs: ReadonlyMap<WindowKind, readonly WindowResult[]>, rate: number): Figures {
  const thr = [...(runs.get('throughput') ?? [])].sort((a, b) => b.rps - a.rps)[0];
  const lat = Math.min(...(runs.get('latency') ?? []).map((r) => r.meanMicros));
  const fixed = runs.get('rate')?.[0];
  return {
    rps: thr?.rps ?? Number.NaN,
    meanMicros: Number.isFinite(lat) ? lat : Number.NaN,
    rpsByRound: (runs.get('throughput') ?? []).map((r) => r.rps),
    meanByRound: (runs.get('latency') ?? []).map((r) => r.meanMicros),
    rate,
    achievedRate: fixed?.rps ?? Number.NaN,
    rateRequests: fixed?.done ?? Number.NaN,
    p50Micros: fixed?.quantiles[0] ?? Number.NaN,
    p99Micros: fixed?.quantiles[1] ?? Number.NaN,
    p999Micros: fixed?.quantiles[2] ?? Number.NaN,
    serverCpu: thr?.serverCpu ?? Number.NaN,
    cpuMicrosPerCheck: median((runs.get('throughput') ?? []).map((r) => r.cpuMicrosPerCheck)),
    cpuMicrosPerCheckAt1: median((runs.get('latency') ?? []).map((r) => r.cpuMicrosPerCheck)),
    loadCpu: thr?.loadCpu ?? Number.NaN,
    bytesPerCheck: fixed?.bytesPerCheck ?? Number.NaN,
    lateChecks: fixed?.lateChecks ?? 0,
  };
}
