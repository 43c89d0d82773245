// Messages between the bench processes: the orchestrator, the server child process (IPC) and the
// load generator thread. Everything crossing a boundary is narrowed from `unknown` here.
import { CLIENT_KINDS, type ClientKind } from './channel.js';

/** What the server child answers with: the constant-allow engine, or gatehouse over a policy dir. */
export type ServerMode = { readonly kind: 'noop' } | { readonly kind: 'gatehouse'; readonly policiesDir: string };

/** Server child -> orchestrator. */
export type ServerMessage =
  | { readonly type: 'ready'; readonly port: number; readonly policiesReady: number; readonly policiesInvalid: number }
  | { readonly type: 'failed'; readonly message: string }
  | { readonly type: 'cpu'; readonly micros: number };

/** Orchestrator -> server child. */
export type ServerCommand = { readonly type: 'cpu' } | { readonly type: 'stop' };

/** The load generator's configuration, passed as workerData. */
export interface LoadConfig {
  readonly client: ClientKind;
  readonly address: string;
  /** gRPC method path, e.g. /envoy.service.auth.v3.Authorization/Check. */
  readonly method: string;
  /** Pre-encoded CheckRequests, sent round-robin. */
  readonly requests: readonly Uint8Array[];
  readonly concurrency: number;
  readonly connections: number;
  readonly warmupMs: number;
  readonly durationMs: number;
  /** grpc-timeout sent with every Check, as Envoy's ext_authz `timeout` does. */
  readonly deadlineMs: number;
  /** How many responses of the timed window to hand back for verification. */
  readonly samples: number;
}

export interface LoadResult {
  /** Checks answered without a gRPC error inside the timed window. */
  readonly completed: number;
  /** gRPC errors over warm-up and window together. */
  readonly errors: number;
  /** The first error's code and text, for the report. */
  readonly firstError: string | undefined;
  /** Actual length of the timed window. */
  readonly windowMs: number;
  /** Latency histogram counts (see Histogram). */
  readonly histogram: Float64Array;
  /** Process CPU time spent during the window, in microseconds (the orchestrator's main thread idles). */
  readonly cpuMicros: number;
  /** Raw CheckResponse bytes sampled through the window. */
  readonly samples: readonly Uint8Array[];
}

/** Load thread -> orchestrator. */
export type LoadMessage =
  | { readonly type: 'window-start' }
  | { readonly type: 'window-end' }
  | { readonly type: 'result'; readonly result: LoadResult };

function field(o: unknown, name: string): unknown {
  return typeof o === 'object' && o !== null ? Reflect.get(o, name) : undefined;
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

export function parseServerMessage(m: unknown): ServerMessage | undefined {
  switch (field(m, 'type')) {
    case 'ready': {
      const port = field(m, 'port');
      const ready = field(m, 'policiesReady');
      const invalid = field(m, 'policiesInvalid');
      if (isCount(port) && isCount(ready) && isCount(invalid)) return { type: 'ready', port, policiesReady: ready, policiesInvalid: invalid };
      return undefined;
    }
    case 'failed': {
      const message = field(m, 'message');
      return typeof message === 'string' ? { type: 'failed', message } : undefined;
    }
    case 'cpu': {
      const micros = field(m, 'micros');
      return isCount(micros) ? { type: 'cpu', micros } : undefined;
    }
    default:
      return undefined;
  }
}

export function parseServerCommand(m: unknown): ServerCommand | undefined {
  const type = field(m, 'type');
  return type === 'cpu' || type === 'stop' ? { type } : undefined;
}

export function parseLoadMessage(m: unknown): LoadMessage | undefined {
  const type = field(m, 'type');
  if (type === 'window-start' || type === 'window-end') return { type };
  if (type !== 'result') return undefined;
  const r = field(m, 'result');
  const histogram = field(r, 'histogram');
  const samples = field(r, 'samples');
  const firstError = field(r, 'firstError');
  const completed = field(r, 'completed');
  const errors = field(r, 'errors');
  const windowMs = field(r, 'windowMs');
  const cpuMicros = field(r, 'cpuMicros');
  if (!(histogram instanceof Float64Array) || !Array.isArray(samples)) return undefined;
  if (!isCount(completed) || !isCount(errors) || typeof windowMs !== 'number' || !isCount(cpuMicros)) return undefined;
  if (firstError !== undefined && typeof firstError !== 'string') return undefined;
  const bytes: Uint8Array[] = [];
  for (const s of samples as unknown[]) if (s instanceof Uint8Array) bytes.push(s);
  return { type: 'result', result: { completed, errors, firstError, windowMs, histogram, cpuMicros, samples: bytes } };
}

/** workerData -> LoadConfig, refusing anything malformed. */
export function parseLoadConfig(d: unknown): LoadConfig {
  const requests = field(d, 'requests');
  const client = CLIENT_KINDS.find((k) => k === field(d, 'client'));
  if (client === undefined) throw new TypeError(`load config client must be one of ${CLIENT_KINDS.join(', ')}`);
  const address = field(d, 'address');
  const method = field(d, 'method');
  const numbers = ['concurrency', 'connections', 'warmupMs', 'durationMs', 'deadlineMs', 'samples'] as const;
  if (typeof address !== 'string' || typeof method !== 'string' || !Array.isArray(requests) || requests.length === 0) {
    throw new TypeError('load config needs address, method and at least one request');
  }
  const list: Uint8Array[] = [];
  for (const r of requests as unknown[]) {
    if (!(r instanceof Uint8Array)) throw new TypeError('load config requests must be byte arrays');
    list.push(r);
  }
  const n: Record<(typeof numbers)[number], number> = { concurrency: 0, connections: 0, warmupMs: 0, durationMs: 0, deadlineMs: 0, samples: 0 };
  for (const k of numbers) {
    const v = field(d, k);
    if (!isCount(v)) throw new TypeError(`load config ${k} must be a whole number >= 0`);
    n[k] = v;
  }
  return { client, address, method, requests: list, ...n };
}
