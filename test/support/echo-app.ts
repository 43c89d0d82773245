// The application behind a proxy in tests: answers 200 with the request it received as JSON, so a test
// can see exactly which headers reached the upstream.
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Echoed {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
}

export interface EchoApp {
  readonly port: number;
  /**
   * Requests that reached the application, in order, except `/favicon.ico`: a browser asks for that on
   * its own, at a moment of its choosing, so it would race with whatever a test looks at last.
   */
  readonly seen: Echoed[];
  /** The `/favicon.ico` requests that reached the application. */
  readonly favicons: Echoed[];
  close(): Promise<void>;
}

export async function startEchoApp(): Promise<EchoApp> {
  const seen: Echoed[] = [];
  const favicons: Echoed[] = [];
  const server = createServer((req, res) => {
    const echoed: Echoed = { method: req.method ?? '', url: req.url ?? '', headers: req.headers };
    (echoed.url === '/favicon.ico' ? favicons : seen).push(echoed);
    req.resume();
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(echoed));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    port: (server.address() as AddressInfo).port,
    seen,
    favicons,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
