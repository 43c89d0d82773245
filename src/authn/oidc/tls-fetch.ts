// A fetch for a provider behind a private CA: node:https with the system roots plus the configured
// certificates (Node's global fetch takes no CA of its own). Certificate checks stay on. Only what
// openid-client and the JWKS cache send: a method, headers, a string or form body, a signal.
import { createRequire } from 'node:module';
import { request as httpsRequest } from 'node:https';
import { rootCertificates } from 'node:tls';

// node:http by require: an ESM import reads all its exports, and on Node 26 its WebSocket getter loads
// node's bundled undici, 2-5 MB of RSS that serving does not use (test/architecture.test.ts holds it).
const { request: httpRequest } = createRequire(import.meta.url)('node:http') as typeof import('node:http');

const MAX_BODY = 1 << 20;

export function fetchTrusting(caPem: string): typeof fetch {
  const ca = [...rootCertificates, caPem];
  return (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = new URL(input instanceof Request ? input.url : input.toString());
    const headers = new Headers(init?.headers);
    const body = init?.body;
    const payload = body === undefined || body === null ? undefined : typeof body === 'string' || body instanceof URLSearchParams ? body.toString() : undefined;
    if (body !== undefined && body !== null && payload === undefined) return Promise.reject(new TypeError('unsupported request body'));
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise<Response>((resolve, reject) => {
      const req = send(
        url,
        { method: init?.method ?? 'GET', headers: Object.fromEntries(headers), ca, signal: init?.signal ?? undefined },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > MAX_BODY) req.destroy(new Error(`response exceeds ${MAX_BODY} bytes`));
            else chunks.push(chunk);
          });
          res.on('end', () => {
            const out = new Headers();
            for (const [k, v] of Object.entries(res.headers)) {
              // Repeated headers (Set-Cookie) stay separate values.
              if (Array.isArray(v)) for (const one of v) out.append(k, one);
              else if (v !== undefined) out.set(k, v);
            }
            const status = res.statusCode ?? 502;
            // A Response cannot carry a body with these statuses.
            const empty = status === 204 || status === 304;
            resolve(new Response(empty ? null : Buffer.concat(chunks), { status, headers: out }));
          });
          res.on('error', reject);
        },
      );
      req.on('error', (e) => reject(new TypeError('fetch failed', { cause: e })));
      req.end(payload);
    });
  };
}
