// Admin HTTP: /metrics (Prometheus), /healthz (the process answers), /readyz (policies loaded and
// not shutting down), and, only with --enable-explain, POST /debug/explain (a described request
// decided against the live policies in a dry run). Bound to its own address so it is never exposed
// with the gRPC port.
import { createRequire } from 'node:module';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import { readRequest } from '../core/explain-request.js';
import type { CheckInputInit } from '../core/input.js';
import type { Explanation } from '../core/trace.js';
import { closeHttp, listenHttp } from './http-listen.js';
import { readBody } from './http.js';

// node:http by require: an ESM import reads all its exports, and on Node 26 its WebSocket getter loads
// node's bundled undici, 2-5 MB of RSS that serving does not use (test/architecture.test.ts holds it).
const { createServer } = createRequire(import.meta.url)('node:http') as typeof import('node:http');

export interface Readiness {
  /** undefined when ready, else the reason. */
  (): string | undefined;
}

/** Decides a described request against the live policies without side effects. */
export type ExplainHandler = (init: CheckInputInit) => Promise<Explanation>;

export interface AdminServer {
  readonly port: number;
  close(): Promise<void>;
}

export const EXPLAIN_PATH = '/debug/explain';
/** A described request is a few headers: far below any body worth buffering. */
const MAX_EXPLAIN_BYTES = 256 * 1024;
const JSON_TYPE = { 'content-type': 'application/json' };

/** `explain` undefined (the default) leaves POST /debug/explain unanswered: 404 like any unknown path. */
export async function startAdminServer(address: string, registry: Registry, readiness: Readiness, explain?: ExplainHandler): Promise<AdminServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === EXPLAIN_PATH && explain !== undefined) {
      if (req.method !== 'POST') res.writeHead(405, { allow: 'POST', 'content-type': 'text/plain' }).end('POST a request description\n');
      else answerExplain(req, res, explain);
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    switch (path) {
      case '/healthz':
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
        return;
      case '/readyz': {
        const why = readiness();
        if (why === undefined) res.writeHead(200, { 'content-type': 'text/plain' }).end('ready\n');
        else res.writeHead(503, { 'content-type': 'text/plain' }).end(`not ready: ${why}\n`);
        return;
      }
      case '/metrics':
        registry.metrics().then(
          (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
          (e: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics failed: ${(e as Error).message}\n`),
        );
        return;
      default:
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    }
  });
  const port = await listenHttp(server, address);
  return { port, close: () => closeHttp(server) };
}

/** The body is the request's description (`{method, host, path, headers, cookies, body}`); every problem is named. */
function answerExplain(req: IncomingMessage, res: ServerResponse, explain: ExplainHandler): void {
  const refuse = (status: number, problems: readonly string[]): void => void res.writeHead(status, JSON_TYPE).end(JSON.stringify({ code: 'request_malformed', problems }));
  readBody(req, MAX_EXPLAIN_BYTES).then(
    (text) => {
      let raw: unknown;
      try {
        raw = JSON.parse(text ?? '');
      } catch (e) {
        refuse(400, [`body: not JSON: ${(e as Error).message}`]);
        return;
      }
      const read = readRequest(raw);
      if (!read.ok) {
        refuse(400, read.problems);
        return;
      }
      explain(read.init).then(
        (e) => res.writeHead(200, JSON_TYPE).end(JSON.stringify(e)),
        () => res.writeHead(500, JSON_TYPE).end(JSON.stringify({ code: 'internal_error', problems: ['the explain failed'] })),
      );
    },
    (e: unknown) => refuse(413, [(e as Error).message]),
  );
}
