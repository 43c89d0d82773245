// Admin HTTP: /metrics (Prometheus), /healthz (the process answers), /readyz (policies loaded and
// not shutting down). Bound to its own address so it is never exposed with the gRPC port.
import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';
import { closeHttp, listenHttp } from './http-listen.js';

export interface Readiness {
  /** undefined when ready, else the reason. */
  (): string | undefined;
}

export interface AdminServer {
  readonly port: number;
  close(): Promise<void>;
}

export async function startAdminServer(address: string, registry: Registry, readiness: Readiness): Promise<AdminServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
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

