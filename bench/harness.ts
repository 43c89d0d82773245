// Runs scenarios one after another: server child process (one per policy set), load generator in a
// worker thread, samples verified against the scenario's expectation. Every process and thread it
// starts is gone when it returns or throws, and the whole run is bounded by `timeLimitMs`.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { buildCheckRequest, checkMethod, type DecodedCheckResponse, decodeCheckResponse } from '../test/support/envoy-client.js';
import type { ClientKind } from './channel.js';
import { Histogram } from './histogram.js';
import { type LoadConfig, type LoadResult, parseLoadMessage, type ServerMode } from './protocol.js';
import { NOOP_SCENARIO, type Scenario, type ServerSpec } from './scenarios.js';
import { killAllServers, type ServerProcess, startServer } from './servers.js';
import { mismatch } from './verify.js';

export interface BenchOptions {
  readonly scenarios: readonly Scenario[];
  /** The load generator's gRPC client. */
  readonly client: ClientKind;
  readonly durationMs: number;
  readonly warmupMs: number;
  readonly concurrency: number;
  readonly connections: number;
  readonly deadlineMs: number;
  /** The whole run fails past this, processes killed. */
  readonly timeLimitMs: number;
  /** Aborts the run (interrupt): it rejects after stopping everything it started. */
  readonly signal?: AbortSignal;
  /** Progress lines (stderr in the CLI). */
  readonly progress?: (line: string) => void;
  /** Measure the no-op again at the end and use the faster run as the floor (the CLI does). */
  readonly closingFloor?: boolean;
}

export interface ScenarioResult {
  readonly name: string;
  readonly requests: number;
  readonly errors: number;
  readonly firstError: string | undefined;
  readonly windowMs: number;
  readonly rps: number;
  /** rps / no-op rps of the same run; undefined when no-op did not run. */
  readonly ratio: number | undefined;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  readonly maxMs: number;
  /** CPU used by the server process over the window, in cores (1 = one core busy). */
  readonly serverCpu: number;
  /**
   * Server CPU time per answered Check, in microseconds: gatehouse's cost even when the client, not
   * the server, limits throughput (server CPU well under one core).
   */
  readonly serverMicrosPerCheck: number;
  /** CPU used by the load generator's process over the window, in cores. */
  readonly clientCpu: number;
  readonly serverPid: number;
  readonly policies: number;
  /** Responses sampled over the window, decoded. */
  readonly samples: readonly DecodedCheckResponse[];
  /** What was wrong with a sample, if anything: the scenario did not measure what it claims. */
  readonly problem: string | undefined;
}

export interface BenchReport {
  readonly node: string;
  readonly client: ClientKind;
  readonly durationMs: number;
  readonly warmupMs: number;
  readonly concurrency: number;
  readonly connections: number;
  readonly results: readonly ScenarioResult[];
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

/** Distinct request variants per scenario (request ids, client ports), as Envoy's differ. */
const VARIANTS = 16;
const SAMPLES = 8;
const SERVER_START_MS = 60_000;
const WORKER_ENTRY = new URL('./load-worker.js', import.meta.url);

export async function runBench(options: BenchOptions): Promise<BenchReport> {
  if (options.scenarios.length === 0) throw new RangeError('no scenario to run');
  const root = mkdtempSync(join(tmpdir(), 'gatehouse-bench-'));
  const state: RunState = { server: undefined, serverKey: undefined, worker: undefined, aborted: false };
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
    state.aborted = true;
    clearTimeout(timer);
    await state.worker?.terminate();
    await state.server?.stop();
    await killAllServers();
    rmSync(root, { recursive: true, force: true });
  }
}

interface RunState {
  server: ServerProcess | undefined;
  serverKey: string | undefined;
  worker: Worker | undefined;
  /** Set once the run is over, so a run outlived by its time limit starts nothing more. */
  aborted: boolean;
}

async function run(options: BenchOptions, root: string, state: RunState): Promise<BenchReport> {
  const say = options.progress ?? ((): void => undefined);
  const method = await checkMethod();
  const dirs = new Map<string, { dir: string; count: number }>();
  const raw: { scenario: Scenario; load: LoadResult; server: ServerProcess; serverCpu: number; policies: number }[] = [];

  for (const scenario of options.closingFloor === true ? withClosingFloor(options.scenarios) : options.scenarios) {
    if (state.aborted) throw new BenchAbortedError('benchmark aborted');
    const spec = await scenario.request();
    const requests = Array.from({ length: VARIANTS }, (_, i) => method.requestSerialize(buildCheckRequest(spec.http, spec.options ?? {}, 40001 + i)));

    const key = serverKey(scenario.server);
    if (state.server === undefined || state.serverKey !== key) {
      await state.server?.stop();
      state.server = undefined;
      const mode = await serverMode(scenario.server, root, dirs, say);
      say(`starting ${key} server`);
      const started = await startServer(mode, SERVER_START_MS);
      if (state.aborted) {
        await started.stop();
        throw new BenchAbortedError('benchmark aborted');
      }
      state.server = started;
      state.serverKey = key;
      const expected = scenario.server.kind === 'gatehouse' ? (dirs.get(scenario.server.policies.id)?.count ?? 0) : 0;
      if (state.server.policiesReady !== expected || state.server.policiesInvalid !== 0) {
        throw new Error(`${key} server has ${state.server.policiesReady} policies ready and ${state.server.policiesInvalid} invalid; expected ${expected} ready`);
      }
    }
    const server = state.server;
    say(`running ${scenario.name}`);
    const config: LoadConfig = {
      client: options.client,
      address: `127.0.0.1:${server.port}`,
      method: method.path,
      requests,
      concurrency: options.concurrency,
      connections: options.connections,
      warmupMs: options.warmupMs,
      durationMs: options.durationMs,
      deadlineMs: options.deadlineMs,
      samples: SAMPLES,
    };
    const { load, serverCpuMicros } = await runWorker(config, server, state);
    raw.push({ scenario, load, server, serverCpu: serverCpuMicros / (load.windowMs * 1000), policies: server.policiesReady });
  }

  // The floor is the faster of the no-op runs (start and end of the run): ratios err low, never high.
  const floors = raw.filter((r) => r.scenario.server.kind === 'noop').map((r) => r.load.completed / (r.load.windowMs / 1000));
  const noopRps = floors.length === 0 ? undefined : Math.max(...floors);
  const results = raw.map(({ scenario, load, server, serverCpu, policies }): ScenarioResult => {
    const h = new Histogram(load.histogram);
    const rps = load.completed / (load.windowMs / 1000);
    const samples = load.samples.map((b) => decodeCheckResponse(method.responseDeserialize(Buffer.from(b))));
    let problem = samples.length === 0 ? 'no response was sampled' : undefined;
    for (const s of samples) problem ??= mismatch(s, scenario.expect);
    return {
      name: scenario.name,
      requests: load.completed,
      errors: load.errors,
      firstError: load.firstError,
      windowMs: load.windowMs,
      rps,
      ratio: noopRps === undefined || noopRps === 0 ? undefined : rps / noopRps,
      p50Ms: h.quantile(0.5) / 1000,
      p99Ms: h.quantile(0.99) / 1000,
      p999Ms: h.quantile(0.999) / 1000,
      maxMs: h.max / 1000,
      serverCpu,
      serverMicrosPerCheck: load.completed === 0 ? Number.NaN : (serverCpu * load.windowMs * 1000) / load.completed,
      clientCpu: load.cpuMicros / (load.windowMs * 1000),
      serverPid: server.pid,
      policies,
      samples,
      problem,
    };
  });
  return {
    node: process.version,
    client: options.client,
    durationMs: options.durationMs,
    warmupMs: options.warmupMs,
    concurrency: options.concurrency,
    connections: options.connections,
    results,
    ok: results.every((r) => r.requests > 0 && r.errors === 0 && r.problem === undefined),
  };
}

/**
 * The no-op measured again after everything else: the first minutes of a run on a shared machine
 * often read slower, which would flatter every ratio against a first-only floor.
 */
function withClosingFloor(scenarios: readonly Scenario[]): readonly Scenario[] {
  const noop = scenarios.find((s) => s.name === NOOP_SCENARIO);
  if (noop === undefined || scenarios.length < 3) return scenarios;
  return [...scenarios, { ...noop, name: `${NOOP_SCENARIO} (end of run)` }];
}

function serverKey(spec: ServerSpec): string {
  return spec.kind === 'noop' ? 'no-op' : `gatehouse/${spec.policies.id}`;
}

async function serverMode(spec: ServerSpec, root: string, dirs: Map<string, { dir: string; count: number }>, say: (line: string) => void): Promise<ServerMode> {
  switch (spec.kind) {
    case 'noop':
      return { kind: 'noop' };
    case 'gatehouse': {
      let entry = dirs.get(spec.policies.id);
      if (entry === undefined) {
        const dir = join(root, spec.policies.id);
        mkdirSync(dir);
        say(`writing policy set ${spec.policies.id}`);
        entry = { dir, count: await spec.policies.write(dir) };
        dirs.set(spec.policies.id, entry);
      }
      return { kind: 'gatehouse', policiesDir: entry.dir };
    }
    default: {
      const never: never = spec;
      throw new Error(`unknown server spec ${JSON.stringify(never)}`);
    }
  }
}

/** One load run in a fresh worker thread; the server's CPU is probed when the window opens and closes. */
function runWorker(config: LoadConfig, server: ServerProcess, state: RunState): Promise<{ load: LoadResult; serverCpuMicros: number }> {
  // No inherited execArgv: under `node --test` it would carry the test runner's flags into the thread.
  const worker = new Worker(WORKER_ENTRY, { workerData: config, execArgv: [] });
  state.worker = worker;
  let cpuStart: Promise<number> | undefined;
  let cpuEnd: Promise<number> | undefined;
  // Set when the result arrives: the worker may exit while the server's CPU reading is still on its way.
  let reported = false;
  return new Promise<{ load: LoadResult; serverCpuMicros: number }>((resolve, reject) => {
    worker.on('message', (raw: unknown) => {
      const m = parseLoadMessage(raw);
      if (m === undefined) return reject(new Error('malformed message from the load generator'));
      switch (m.type) {
        case 'window-start':
          cpuStart = server.cpuMicros();
          cpuStart.catch(() => undefined); // awaited with the result; this only keeps it from counting as unhandled
          return;
        case 'window-end':
          cpuEnd = server.cpuMicros();
          cpuEnd.catch(() => undefined);
          return;
        case 'result': {
          reported = true;
          if (cpuStart === undefined || cpuEnd === undefined) return reject(new Error('the load generator never opened and closed its window'));
          Promise.all([cpuStart, cpuEnd]).then(([a, b]) => resolve({ load: m.result, serverCpuMicros: b - a }), reject);
          return;
        }
        default: {
          const never: never = m;
          reject(new Error(`unknown load message ${JSON.stringify(never)}`));
        }
      }
    });
    worker.on('error', reject);
    worker.on('exit', (code) => {
      if (!reported) reject(new Error(`load generator exited (${code}) before reporting`));
    });
  }).finally(() => {
    state.worker = undefined;
    void worker.terminate();
  });
}
