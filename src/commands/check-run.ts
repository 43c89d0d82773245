// The heavy half of `gatehouse check`: one Check over gRPC with the server's own protos (proto/), the
// request built as Envoy's ext_authz filter builds it, the answer printed as a table or as JSON.
import { randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { loadServices } from '../transport/grpc-protos.js';
import type { CheckValues } from './check.js';
import type { CommandIo } from './io.js';

/** A header as the answer carries it; value or raw_value, depending on the server. */
interface HeaderOption {
  readonly header?: { readonly key?: string; readonly value?: string; readonly raw_value?: Buffer };
}

/** A CheckResponse as @grpc/proto-loader decodes it with the server's options: unset fields absent. */
interface Received {
  readonly status?: { readonly code?: number; readonly message?: string };
  readonly ok_response?: {
    readonly headers?: readonly HeaderOption[];
    readonly headers_to_remove?: readonly string[];
    readonly response_headers_to_add?: readonly HeaderOption[];
    readonly query_parameters_to_set?: readonly { readonly key?: string; readonly value?: string }[];
    readonly query_parameters_to_remove?: readonly string[];
  };
  readonly denied_response?: {
    readonly status?: { readonly code?: number };
    readonly headers?: readonly HeaderOption[];
    readonly body?: string;
  };
}

interface Pair {
  readonly name: string;
  readonly value: string;
}

/** What the command prints, as JSON with --json. */
export type CheckAnswer =
  | {
      readonly decision: 'allow';
      readonly setHeaders: readonly Pair[];
      readonly removeHeaders: readonly string[];
      readonly responseHeaders: readonly Pair[];
      readonly setQuery: readonly Pair[];
      readonly removeQuery: readonly string[];
    }
  | { readonly decision: 'deny'; readonly status: number; readonly headers: readonly Pair[]; readonly body: string };

// Exit codes (the command's help says the same).
const ALLOWED = 0;
const DENIED = 1;
const NO_ANSWER = 3;

export async function check(values: CheckValues, io: CommandIo): Promise<number> {
  const { authorization } = await loadServices();
  const method = authorization['Check'];
  if (method === undefined) throw new Error('proto/: Authorization has no Check method');
  const client = new grpc.Client(values.grpcAddress, grpc.credentials.createInsecure());
  let received: Received;
  try {
    received = await new Promise<Received>((resolve, reject) => {
      client.makeUnaryRequest(method.path, method.requestSerialize, method.responseDeserialize, checkRequest(values), new grpc.Metadata(), { deadline: Date.now() + values.timeoutMs }, (err, res) =>
        // The loader's decoding of a CheckResponse is what Received describes (every field optional).
        err === null ? resolve((res ?? {}) as Received) : reject(err),
      );
    });
  } catch (e) {
    io.stderr(`gatehouse check: no decision from ${values.grpcAddress}: ${describe(e)}\n`);
    return NO_ANSWER;
  } finally {
    client.close();
  }
  const answer = toAnswer(received);
  io.stdout(values.json ? `${JSON.stringify(answer, null, 2)}\n` : table(answer));
  return answer.decision === 'allow' ? ALLOWED : DENIED;
}

/** The CheckRequest Envoy's HTTP ext_authz filter sends for this request (headers merged in a map). */
function checkRequest(v: CheckValues): Record<string, unknown> {
  const headers: Record<string, string> = { ':authority': v.host, ':path': v.path, ':method': v.method, ':scheme': v.scheme };
  for (const h of v.headers) headers[h.name] = headers[h.name] === undefined ? h.value : `${headers[h.name]},${h.value}`;
  headers['x-forwarded-proto'] ??= v.scheme;
  headers['x-request-id'] ??= randomUUID();
  const now = Date.now();
  return {
    attributes: {
      source: { address: { socket_address: { address: '127.0.0.1', port_value: 0 } } },
      request: {
        time: { seconds: Math.floor(now / 1000), nanos: (now % 1000) * 1e6 },
        http: { id: headers['x-request-id'], method: v.method, path: v.path, host: v.host, scheme: v.scheme, protocol: 'HTTP/1.1', headers },
      },
    },
  };
}

function toAnswer(r: Received): CheckAnswer {
  const ok = r.ok_response;
  if (ok !== undefined || (r.status?.code ?? 0) === 0) {
    return {
      decision: 'allow',
      setHeaders: pairs(ok?.headers),
      removeHeaders: [...(ok?.headers_to_remove ?? [])],
      responseHeaders: pairs(ok?.response_headers_to_add),
      setQuery: (ok?.query_parameters_to_set ?? []).map((q) => ({ name: q.key ?? '', value: q.value ?? '' })),
      removeQuery: [...(ok?.query_parameters_to_remove ?? [])],
    };
  }
  const denied = r.denied_response;
  // Without a denied_response Envoy answers the client 403 with an empty body.
  return { decision: 'deny', status: denied?.status?.code ?? 403, headers: pairs(denied?.headers), body: denied?.body ?? '' };
}

function pairs(options: readonly HeaderOption[] | undefined): Pair[] {
  return (options ?? []).map((o) => {
    const raw = o.header?.raw_value;
    return { name: o.header?.key ?? '', value: raw !== undefined && raw.length > 0 ? raw.toString('utf8') : (o.header?.value ?? '') };
  });
}

/** Two columns: what, then the value; one row per header so that it reads (and greps) line by line. */
function table(a: CheckAnswer): string {
  const rows: [string, string][] = [['decision', a.decision]];
  const header = (p: Pair): string => `${p.name}: ${p.value}`;
  if (a.decision === 'allow') {
    for (const p of a.setHeaders) rows.push(['set header', header(p)]);
    for (const n of a.removeHeaders) rows.push(['remove header', n]);
    for (const p of a.setQuery) rows.push(['set query', `${p.name}=${p.value}`]);
    for (const n of a.removeQuery) rows.push(['remove query', n]);
    for (const p of a.responseHeaders) rows.push(['response header', header(p)]);
  } else {
    rows.push(['status', String(a.status)]);
    for (const p of a.headers) rows.push(['header', header(p)]);
    if (a.body !== '') rows.push(['body', a.body]);
  }
  const width = Math.max(...rows.map(([label]) => label.length)) + 2;
  // A value of several lines (an HTML body) keeps its continuation lines in the value column.
  return rows.map(([label, value]) => `${label.padEnd(width)}${value.replace(/\n/g, `\n${' '.repeat(width)}`)}\n`).join('');
}

/** The gRPC status and its details, without grpc-js's empty trailing notes. */
function describe(e: unknown): string {
  if (!(e instanceof Error) || !('code' in e) || typeof e.code !== 'number') return e instanceof Error ? e.message : String(e);
  const details = ('details' in e && typeof e.details === 'string' ? e.details : e.message).replace(/\s*Resolution note:\s*$/, '');
  const hint = e.code === grpc.status.UNAVAILABLE ? ' (is gatehouse serve listening there? see its --grpc-address)' : '';
  return `${grpc.status[e.code] ?? String(e.code)}: ${details}${hint}`;
}
