// Messages between the orchestrator and the server child process (IPC). Everything crossing the
// boundary is narrowed from `unknown` here.
import type { SignatureAlgorithm } from './signature-engine.js';

/**
 * What the server child answers with: the constant-allow servers, gatehouse over a policy dir, or the
 * signature floor (constant allow once a bearer token's signature verifies with the key in `keyFile`).
 */
export type ServerMode =
  | { readonly kind: 'noop' }
  | { readonly kind: 'gatehouse'; readonly policiesDir: string }
  | { readonly kind: 'signature'; readonly alg: SignatureAlgorithm; readonly keyFile: string };

/** Checks answered since start, by outcome: `allow` or `deny <code>`. */
export type Tally = Readonly<Record<string, number>>;

/** Server child -> orchestrator. */
export type ServerMessage =
  | {
      readonly type: 'ready';
      readonly grpcPort: number;
      readonly httpPort: number;
      readonly policiesReady: number;
      readonly policiesInvalid: number;
      /** gatehouse mode: the no-op gRPC and HTTP servers in the same process (the same-process floor). */
      readonly beside?: { readonly grpcPort: number; readonly httpPort: number };
    }
  | { readonly type: 'failed'; readonly message: string }
  | { readonly type: 'cpu'; readonly micros: number }
  | { readonly type: 'tally'; readonly tally: Tally }
  /** Bytes allocated on the JS heap since alloc-start, the GCs that ran, and the event loop's busy share. */
  | { readonly type: 'alloc'; readonly bytes: number; readonly gcs: number; readonly elu: number };

/** Orchestrator -> server child. */
export type ServerCommand = { readonly type: 'cpu' | 'stop' | 'tally' | 'tally-beside' | 'alloc-start' | 'alloc-stop' };

const COMMANDS = ['cpu', 'stop', 'tally', 'tally-beside', 'alloc-start', 'alloc-stop'] as const;

function field(o: unknown, name: string): unknown {
  return typeof o === 'object' && o !== null ? Reflect.get(o, name) : undefined;
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function tallyOf(v: unknown): Tally | undefined {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
  const out: Record<string, number> = {};
  for (const [k, n] of Object.entries(v)) {
    if (!isCount(n)) return undefined;
    out[k] = n;
  }
  return out;
}

export function parseServerMessage(m: unknown): ServerMessage | undefined {
  switch (field(m, 'type')) {
    case 'ready': {
      const [grpcPort, httpPort, ready, invalid] = ['grpcPort', 'httpPort', 'policiesReady', 'policiesInvalid'].map((k) => field(m, k));
      if (!(isCount(grpcPort) && isCount(httpPort) && isCount(ready) && isCount(invalid))) return undefined;
      const message = { type: 'ready', grpcPort, httpPort, policiesReady: ready, policiesInvalid: invalid } as const;
      const beside = field(m, 'beside');
      if (beside === undefined) return message;
      const [bg, bh] = ['grpcPort', 'httpPort'].map((k) => field(beside, k));
      return isCount(bg) && isCount(bh) ? { ...message, beside: { grpcPort: bg, httpPort: bh } } : undefined;
    }
    case 'failed': {
      const message = field(m, 'message');
      return typeof message === 'string' ? { type: 'failed', message } : undefined;
    }
    case 'cpu': {
      const micros = field(m, 'micros');
      return isCount(micros) ? { type: 'cpu', micros } : undefined;
    }
    case 'tally': {
      const tally = tallyOf(field(m, 'tally'));
      return tally === undefined ? undefined : { type: 'tally', tally };
    }
    case 'alloc': {
      const [bytes, gcs, elu] = ['bytes', 'gcs', 'elu'].map((k) => field(m, k));
      if (typeof bytes === 'number' && isCount(gcs) && typeof elu === 'number') return { type: 'alloc', bytes, gcs, elu };
      return undefined;
    }
    default:
      return undefined;
  }
}

export function parseServerCommand(m: unknown): ServerCommand | undefined {
  const type = COMMANDS.find((c) => c === field(m, 'type'));
  return type === undefined ? undefined : { type };
}
