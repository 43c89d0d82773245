// One measured window: h2load against one server (gatehouse or the no-op floor), bracketed by
// verification. Before and after, a separate client sends the scenario's request and checks the
// decoded answer; the server's own tally of Checks by outcome must show that every Check answered
// over the window (h2load's included) was the expected one, since h2load sees only HTTP statuses and
// a gRPC deny is an HTTP 200 too.
import { readFileSync, rmSync } from 'node:fs';
import { type DecodedCheckResponse, decodeCheckResponse } from '../test/support/envoy-client.js';
import { connectHttp2 } from './channel-http2.js';
import { runH2load, logQuantiles } from './h2load.js';
import type { Tally } from './protocol.js';
import type { Expectation, Transport } from './scenarios.js';
import type { ServerProcess } from './servers.js';
import { httpMismatch, mismatch, outcomeKey } from './verify.js';

export const CHECK_PATH = '/envoy.service.auth.v3.Authorization/Check';
/** Requests the separate client sends before and after each window. */
const VERIFY_CALLS = 2;
const CONNECT_TIMEOUT_MS = 10_000;

/** A server's side of a scenario: where to send what, and what must come back. */
export interface Target {
  readonly server: ServerProcess;
  readonly transport: Transport;
  /** gRPC: the serialized CheckRequest (unframed); its framed copy is in bodyFile. */
  readonly request: Buffer;
  readonly bodyFile: string;
  /** HTTP: path and headers of the forward-auth request. */
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly expect: Expectation;
  readonly decode: (bytes: Buffer) => unknown;
}

export type WindowKind = 'throughput' | 'latency' | 'rate';

/** The last answer the verifying client got: a decoded CheckResponse, or a forward-auth answer's status and headers. */
export type Sample =
  | { readonly transport: 'grpc'; readonly response: DecodedCheckResponse }
  | { readonly transport: 'http'; readonly status: number; readonly headers: Readonly<Record<string, string>> };

interface Verified {
  readonly problem: string | undefined;
  readonly sample: Sample | undefined;
}

export interface WindowOptions {
  readonly durationMs: number;
  readonly warmupMs: number;
  readonly deadlineMs: number;
  /** Fixed-rate runs: total requests per second. */
  readonly rate?: number;
  /** Per-request log for the rate run's percentiles. */
  readonly logFile?: string;
  readonly signal?: AbortSignal;
}

export interface WindowResult {
  readonly rps: number;
  /** Requests h2load completed. */
  readonly done: number;
  readonly meanMicros: number;
  /** p50, p99, p99.9 in µs (rate runs; NaN otherwise). */
  readonly quantiles: readonly number[];
  /** Server and h2load CPU over the h2load run, in cores. */
  readonly serverCpu: number;
  /**
   * Server CPU time over the h2load run (warm-up included) / Checks the server decided in it, µs.
   * Unlike req/s, it does not move with how the scheduler shares the cores.
   */
  readonly cpuMicrosPerCheck: number;
  readonly loadCpu: number;
  /** Rate runs: JS heap bytes allocated per Check, GCs, event loop utilization. */
  readonly bytesPerCheck: number;
  readonly gcs: number;
  readonly elu: number;
  /** What was wrong: errors, unexpected answers; undefined when all was as claimed. */
  readonly problem: string | undefined;
  /** Rate runs: Checks that passed their deadline (grpc-js answered them itself), reported, not a wrong answer. */
  readonly lateChecks: number;
  readonly sample: Sample | undefined;
}

/**
 * h2load's shape per transport: h2c multiplexes on one connection; HTTP/1.1 needs a pool (no
 * pipelining). Fixed-rate runs spread the rate over 10 connections (16 for HTTP/1.1) opened 1 ms
 * apart, so that h2load's 10 ms rate ticks do not send the whole rate in one burst.
 */
function shape(transport: Transport, kind: WindowKind): { connections: number; inFlight: number } {
  if (kind === 'latency') return { connections: 1, inFlight: 1 };
  if (transport === 'http') return { connections: 16, inFlight: 1 };
  return kind === 'rate' ? { connections: 10, inFlight: 64 } : { connections: 1, inFlight: 64 };
}

async function verifyOnce(t: Target, deadlineMs: number): Promise<Verified> {
  let sample: Sample | undefined;
  if (t.transport === 'http') {
    for (let i = 0; i < VERIFY_CALLS; i++) {
      const res = await fetch(`http://127.0.0.1:${t.server.httpPort}${t.path}`, { headers: t.headers });
      await res.arrayBuffer();
      sample = { transport: 'http', status: res.status, headers: Object.fromEntries(res.headers) };
      const problem = httpMismatch(res.status, res.headers, t.expect);
      if (problem !== undefined) return { problem, sample };
    }
    return { problem: undefined, sample };
  }
  const channel = await connectHttp2({ address: `127.0.0.1:${t.server.grpcPort}`, method: CHECK_PATH, deadlineMs, connectTimeoutMs: CONNECT_TIMEOUT_MS });
  try {
    for (let i = 0; i < VERIFY_CALLS; i++) {
      const answer = await new Promise<{ error: string | undefined; bytes: Buffer | undefined }>((resolve) => channel.call(t.request, (error, bytes) => resolve({ error, bytes })));
      // ext_authz answers a deny inside an OK CheckResponse: a gRPC error is never what a scenario claims.
      if (answer.error !== undefined || answer.bytes === undefined) return { problem: `gRPC error ${answer.error ?? 'without a response'}`, sample };
      sample = { transport: 'grpc', response: decodeCheckResponse(t.decode(answer.bytes)) };
      const problem = mismatch(sample.response, t.expect);
      if (problem !== undefined) return { problem, sample };
    }
    return { problem: undefined, sample };
  } finally {
    channel.close();
  }
}

const total = (t: Tally): number => Object.values(t).reduce((a, b) => a + b, 0);

function delta(after: Tally, before: Tally): Tally {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(after)) if (v - (before[k] ?? 0) > 0) out[k] = v - (before[k] ?? 0);
  return out;
}

export async function measureWindow(t: Target, kind: WindowKind, o: WindowOptions): Promise<WindowResult> {
  const url = `http://127.0.0.1:${t.transport === 'grpc' ? t.server.grpcPort : t.server.httpPort}${t.transport === 'grpc' ? CHECK_PATH : t.path}`;
  const headers =
    t.transport === 'grpc'
      ? ['content-type: application/grpc', 'te: trailers', `grpc-timeout: ${o.deadlineMs}m`]
      : Object.entries(t.headers).map(([k, v]) => `${k}: ${v}`);
  const { connections, inFlight } = shape(t.transport, kind);
  const before = await t.server.tally();
  const first = await verifyOnce(t, o.deadlineMs);
  const rate = kind === 'rate' ? o.rate : undefined;
  let span: [Tally, Tally] | undefined;
  if (rate !== undefined) t.server.allocStart();
  const spanStart = rate === undefined ? undefined : await t.server.tally();
  const cpu0 = await t.server.cpuMicros();
  const started = performance.now();
  // h2load appends to its log: a file left from an earlier window must not count.
  if (o.logFile !== undefined) rmSync(o.logFile, { force: true });
  const h = await runH2load(
    {
      url,
      h1: t.transport === 'http',
      ...(t.transport === 'grpc' ? { bodyFile: t.bodyFile } : {}),
      headers,
      connections,
      inFlight,
      durationMs: o.durationMs,
      warmupMs: o.warmupMs,
      ...(rate === undefined ? {} : { ratePerConnection: rate / connections, requests: connections * Math.ceil((rate * (o.warmupMs + o.durationMs)) / 1000 / connections) }),
      ...(o.logFile === undefined ? {} : { logFile: o.logFile }),
    },
    o.signal,
  );
  const cpuSpent = (await t.server.cpuMicros()) - cpu0;
  const serverCpu = cpuSpent / ((performance.now() - started) * 1000);
  if (spanStart !== undefined) span = [spanStart, await t.server.tally()];
  const alloc = rate === undefined ? undefined : await t.server.allocStop();
  const last = await verifyOnce(t, o.deadlineMs);
  const after = await t.server.tally();

  const counted = delta(after, before);
  const expectedKey = outcomeKey(t.expect);
  let problem = first.problem ?? last.problem;
  if (h.done === 0) problem ??= 'h2load completed no request';
  // Requests still in flight when h2load's duration ends are cut off, not failed: at most one per stream slot.
  if (h.failed > 0 || h.done - h.status2xx > connections * inFlight) problem ??= `h2load: ${h.done} done, ${h.status2xx} with 2xx, ${h.failed} failed`;
  const others = Object.entries(counted).filter(([k]) => k !== expectedKey);
  if (others.length > 0) problem ??= `the server answered ${others.map(([k, n]) => `${n} × ${k}`).join(', ')} besides ${expectedKey}`;
  // Fewer decisions than answers: the rest were gRPC errors in HTTP 200s (grpc-js answers a call past its deadline itself).
  // In a fixed-rate window a stall (a GC, the other core's work) can hold Checks past the deadline: counted and printed.
  const undecided = h.done + 2 * VERIFY_CALLS - total(counted);
  if (undecided > 0 && kind !== 'rate') problem ??= `the server decided ${total(counted)} Checks, fewer than the ${h.done + 2 * VERIFY_CALLS} answered: the rest were gRPC errors`;

  let quantiles = [Number.NaN, Number.NaN, Number.NaN];
  if (o.logFile !== undefined) {
    quantiles = logQuantiles(readFileSync(o.logFile, 'utf8'), [0.5, 0.99, 0.999], o.warmupMs);
    rmSync(o.logFile, { force: true });
  }
  const spanChecks = span === undefined ? 0 : total(delta(span[1], span[0]));
  // The verifying client's calls fall outside the CPU span.
  const loadChecks = total(counted) - 2 * VERIFY_CALLS;
  return {
    rps: h.rps,
    done: h.done,
    meanMicros: h.meanMicros,
    quantiles,
    serverCpu,
    cpuMicrosPerCheck: loadChecks > 0 ? cpuSpent / loadChecks : Number.NaN,
    loadCpu: h.cpu,
    bytesPerCheck: alloc === undefined || spanChecks === 0 ? Number.NaN : alloc.bytes / spanChecks,
    gcs: alloc?.gcs ?? 0,
    elu: alloc?.elu ?? Number.NaN,
    problem,
    lateChecks: kind === 'rate' ? Math.max(0, undecided) : 0,
    sample: last.sample ?? first.sample,
  };
}
