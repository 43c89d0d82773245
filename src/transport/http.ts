// HTTP forward-auth: the same decisions as the gRPC Check, for proxies that ask over HTTP.
//   /auth           nginx or Traefik, told apart by their headers
//   /auth/nginx     nginx auth_request, ingress-nginx auth-url
//   /auth/traefik   Traefik ForwardAuth
//   /envoy/...      Envoy's HTTP ext_authz (`path_prefix: /envoy`), the original path after the prefix
// Thin like the gRPC transport: request -> CheckInput (http-request.ts) -> engine -> answer
// (http-response.ts), with the shared answer discipline (answer.ts). HTTPS when given certificates.
import { createRequire } from 'node:module';
import type { IncomingMessage, RequestListener, Server, ServerOptions, ServerResponse } from 'node:http';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:https';
import type { Socket } from 'node:net';
import type { Decision } from '../core/decision.js';
import type { CheckEngine } from '../core/engine-port.js';
import { GatehouseError } from '../core/errors.js';
import type { CheckInput } from '../core/input.js';
import { Answerer, type TransportLogger } from './answer.js';
import { closeHttp, listenHttp } from './http-listen.js';
import { detectDialect, type Dialect, headerFields, toForwardInput } from './http-request.js';
import { toHttpAnswer } from './http-response.js';
import { secureContextOf, type TlsCertificates } from './tls.js';

// node:http by require: an ESM import reads all its exports, and on Node 26 its WebSocket getter loads
// node's bundled undici, 2-5 MB of RSS that serving does not use (test/architecture.test.ts holds it).
const { createServer } = createRequire(import.meta.url)('node:http') as typeof import('node:http');

export interface HttpServerOptions {
  /** `host:port`; port 0 picks a free one. */
  readonly address: string;
  readonly engine: CheckEngine;
  /** Bound for one header value and all headers together; beyond it 431 (or 403 for nginx). */
  readonly maxHeaderBytes: number;
  /** Largest request body read (Envoy `with_request_body`); beyond it the request is refused. */
  readonly maxRequestBytes: number;
  /** An asynchronous decision not ready this long after the request arrived is denied (503). */
  readonly decisionTimeoutMs: number;
  readonly logger?: TransportLogger | undefined;
  /** Serve HTTPS with these (rotating) certificates; plain HTTP when undefined. */
  readonly tls?: TlsCertificates | undefined;
}

export interface HttpServer {
  readonly port: number;
  /** Stops accepting; in-flight requests get up to `graceMs`. */
  close(graceMs: number): Promise<void>;
}

export const ENVOY_PREFIX = '/envoy';

/** Slow clients: a request must arrive whole within these. Proxies keep connections alive longer. */
export const HEADERS_TIMEOUT_MS = 10_000;
const REQUEST_TIMEOUT_MS = 15_000;
export const KEEP_ALIVE_TIMEOUT_MS = 75_000;

export async function startHttpServer(o: HttpServerOptions): Promise<HttpServer> {
  const answerer = new Answerer(o.engine, 0, o.logger);
  const options: ServerOptions = {
    maxHeaderSize: o.maxHeaderBytes + 8192,
    headersTimeout: HEADERS_TIMEOUT_MS,
    requestTimeout: REQUEST_TIMEOUT_MS,
    keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
    // How often node looks for requests past their timeouts (default 30 s).
    connectionsCheckingInterval: 1000,
  };
  const heads = new HeadDeadlines();
  const listener: RequestListener = (req, res) => handle(req, res, o, answerer, heads);
  const tls = o.tls;
  if (tls === undefined) {
    const server = createServer(options, listener);
    heads.watch(server, 'connection');
    const port = await listenHttp(server, o.address);
    return { port, close: (graceMs) => closeHttp(server, graceMs) };
  }
  const server: TlsServer = createTlsServer(
    {
      ...options,
      ...secureContextOf(tls.current),
      requestCert: tls.requireClientCertificate,
      rejectUnauthorized: tls.requireClientCertificate,
      handshakeTimeout: HEADERS_TIMEOUT_MS,
    },
    listener,
  );
  // New handshakes get a rotated certificate; open connections keep theirs.
  const unsubscribe = tls.subscribe((m) => server.setSecureContext(secureContextOf(m)));
  heads.watch(server, 'secureConnection');
  const port = await listenHttp(server, o.address).catch((e: unknown) => {
    unsubscribe();
    throw e;
  });
  return {
    port,
    close: async (graceMs) => {
      unsubscribe();
      await closeHttp(server, graceMs);
    },
  };
}

/**
 * A connection must deliver each request's headers in time, whatever else node's own periodic check
 * does: between the connection (or the end of the last answer, plus the keep-alive allowance) and the
 * next complete request head, a client that dribbles bytes is cut off. One timer per connection, set
 * when it opens: a request and its answer only move the connection's deadline (no timer, listener or
 * closure per request), and the timer, when it fires early, waits out the rest.
 */
export class HeadDeadlines {
  readonly #connections = new WeakMap<Socket, HeadDeadline>();
  readonly #now: () => number;

  /** `now`: a monotonic clock in ms (tests give a mocked one). */
  constructor(now: () => number = () => performance.now()) {
    this.#now = now;
  }

  watch(server: Pick<Server, 'on'> | TlsServer, accepted: 'connection' | 'secureConnection'): void {
    // Over TLS the request's socket is the TLS socket (the handshake has its own timeout).
    server.on(accepted, (socket: Socket) => {
      const head = new HeadDeadline(socket, this.#now);
      this.#connections.set(socket, head);
      socket.once('close', () => head.stop());
    });
  }

  /** A request head arrived on `socket`: no deadline until its answer is sent. */
  arrived(socket: Socket): void {
    const head = this.#connections.get(socket);
    if (head !== undefined) head.pending++;
  }

  /** An answer was sent on `socket`: the next head is due within the keep-alive allowance. */
  answered(socket: Socket): void {
    const head = this.#connections.get(socket);
    if (head === undefined) return;
    head.pending = Math.max(0, head.pending - 1);
    head.deadline = this.#now() + KEEP_ALIVE_TIMEOUT_MS + HEADERS_TIMEOUT_MS;
  }
}

class HeadDeadline {
  /** Requests whose head arrived and whose answer is not sent yet (pipelined ones too). */
  pending = 0;
  deadline: number;
  readonly #socket: Socket;
  readonly #now: () => number;
  #timer: NodeJS.Timeout;

  constructor(socket: Socket, now: () => number) {
    this.#socket = socket;
    this.#now = now;
    this.deadline = now() + HEADERS_TIMEOUT_MS;
    this.#timer = this.#arm(HEADERS_TIMEOUT_MS);
  }

  #arm(ms: number): NodeJS.Timeout {
    const timer = setTimeout(checkHead, ms, this);
    timer.unref();
    return timer;
  }

  /** The timer fired: cut the connection off if its head is overdue, else look again when it falls due. */
  check(): void {
    if (this.#socket.destroyed) return;
    const left = this.pending > 0 ? KEEP_ALIVE_TIMEOUT_MS + HEADERS_TIMEOUT_MS : this.deadline - this.#now();
    if (left <= 0) this.#socket.destroy();
    else this.#timer = this.#arm(left);
  }

  stop(): void {
    clearTimeout(this.#timer);
  }
}

function checkHead(head: HeadDeadline): void {
  head.check();
}

/** The dialect a request speaks; undefined on a known path that does not say; NOT_FOUND elsewhere. */
const NOT_FOUND = 'not_found';

function dialectOf(url: string, headers: ReadonlyMap<string, string>): Dialect | undefined | typeof NOT_FOUND {
  if (url.startsWith(`${ENVOY_PREFIX}/`) || url === ENVOY_PREFIX) return 'envoy';
  const query = url.indexOf('?');
  const path = query === -1 ? url : url.slice(0, query);
  if (path === '/auth/nginx') return 'nginx';
  if (path === '/auth/traefik') return 'traefik';
  if (path === '/auth' || path === '/auth/') return detectDialect(headers);
  return NOT_FOUND;
}

function handle(req: IncomingMessage, res: ServerResponse, o: HttpServerOptions, answerer: Answerer, heads: HeadDeadlines): void {
  const start = performance.now();
  const socket = req.socket;
  heads.arrived(socket);
  // Read from node's raw list: `req.headers` is never built.
  const fields = headerFields(req.rawHeaders);
  const dialect = dialectOf(req.url ?? '', fields);
  if (dialect === NOT_FOUND) {
    res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ code: 'not_found', message: 'Use /auth, /auth/nginx, /auth/traefik or /envoy/...' }));
    heads.answered(socket);
    return;
  }
  // A request the proxy did not describe is denied with 400 and says why; never allowed.
  const as: Dialect = dialect ?? 'traefik';
  const cookie = fields.get('cookie');
  const send = (decision: Decision): void => {
    const a = toHttpAnswer(decision, as, cookie);
    // writeHead's flat form: name, value, name, value...
    const headers: string[] = [];
    for (const h of a.headers) headers.push(h.name, h.value);
    headers.push('content-length', String(Buffer.byteLength(a.body)));
    res.writeHead(a.status, headers).end(a.body);
    heads.answered(socket);
  };
  if (dialect === undefined) {
    answerer.answer(send, answerer.reject(new GatehouseError('forward_request_incomplete', 'no X-Original-URI, X-Original-URL or X-Forwarded-Uri on /auth')), start, undefined);
    req.resume();
    return;
  }
  const decide = (body: string | undefined): void => {
    let input: CheckInput;
    try {
      input = toForwardInput(dialect, { method: req.method ?? 'GET', url: req.url ?? '/', headers: fields, socketPeer: socket.remoteAddress ?? '', body }, o.maxHeaderBytes, ENVOY_PREFIX);
    } catch (err) {
      answerer.answer(send, answerer.reject(err), start, undefined);
      return;
    }
    answerer.decide(send, start, input, Date.now() + o.decisionTimeoutMs);
  };
  // Proxies ask without a body unless told to forward it: decided at once, without a promise.
  const length = fields.get('content-length');
  const te = fields.get('transfer-encoding');
  if (!hasBody(length, te)) {
    req.resume();
    decide(undefined);
    return;
  }
  bodyOf(req, o.maxRequestBytes, length).then(decide, (err: unknown) => answerer.answer(send, answerer.reject(err), start, undefined));
}

/** Whether a request says it has a body: a Transfer-Encoding, or a Content-Length that is a number other than 0. */
function hasBody(contentLength: string | undefined, transferEncoding: string | undefined): boolean {
  const length = Number(contentLength ?? '0');
  return transferEncoding !== undefined || (Number.isFinite(length) && length !== 0);
}

/** The body as UTF-8 when one was sent; refused beyond `max` bytes. Shared with the admin endpoint. */
export function readBody(req: IncomingMessage, max: number): Promise<string | undefined> {
  const length = req.headers['content-length'];
  if (!hasBody(length, req.headers['transfer-encoding'])) {
    req.resume();
    return Promise.resolve(undefined);
  }
  return bodyOf(req, max, length);
}

/** Reads a body the request announced (`contentLength` as sent, when sent). */
function bodyOf(req: IncomingMessage, max: number, contentLength: string | undefined): Promise<string | undefined> {
  const length = Number(contentLength ?? '0');
  if (length > max) {
    req.resume();
    return Promise.reject(new GatehouseError('request_malformed', `request body of ${length} bytes exceeds ${max}`));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > max) {
        req.destroy();
        reject(new GatehouseError('request_malformed', `request body exceeds ${max} bytes`));
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(size === 0 ? undefined : Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
