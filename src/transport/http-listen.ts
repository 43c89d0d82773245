// Binding a node:http or node:https server to `host:port` (port 0 picks one) and closing it, shared by
// the admin endpoint and the forward-auth transport. A bind failure becomes `listen_failed` with a
// short reason.
import type { Server as PlainServer } from 'node:http';
import type { Server as TlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { listenFailed } from './listen-error.js';

export function splitAddress(address: string): { host: string; port: number } {
  const colon = address.lastIndexOf(':');
  const host = address.slice(0, colon).replace(/^\[|\]$/g, '');
  return { host, port: Number(address.slice(colon + 1)) };
}

/** Listens on `address`; resolves with the bound port. */
type Server = PlainServer | TlsServer;

export async function listenHttp(server: Server, address: string): Promise<number> {
  const { host, port } = splitAddress(address);
  await new Promise<void>((resolve, reject) => {
    const failed = (e: Error): void => reject(listenFailed(e));
    server.once('error', failed);
    server.listen(port, host, () => {
      server.off('error', failed);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}

/** Stops accepting, closes idle keep-alive connections, and resolves once `graceMs` passed or all closed. */
export function closeHttp(server: Server, graceMs = 0): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(() => server.closeAllConnections(), graceMs);
    timer.unref();
    server.close(() => {
      clearTimeout(timer);
      resolve();
    });
    server.closeIdleConnections();
    if (graceMs <= 0) server.closeAllConnections();
  });
}
