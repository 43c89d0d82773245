// A plain HTTP/1.1 client for tests that need exact control of the request line and headers (Host,
// repeated headers, odd names) and every response header line as sent (repeated Set-Cookie).
import { request } from 'node:http';

export interface RawResponse {
  readonly status: number;
  /** [name lowercase, value] per header line, in order. */
  readonly lines: readonly [string, string][];
  readonly body: string;
}

export interface RawRequest {
  readonly method?: string;
  readonly path: string;
  /** Sent as given; an array value is sent as repeated lines. */
  readonly headers?: Readonly<Record<string, string | readonly string[]>>;
  readonly body?: string;
}

export function httpRequest(port: number, req: RawRequest): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(req.headers ?? {})) headers[k] = typeof v === 'string' ? v : [...v];
    const r = request({ host: '127.0.0.1', port, method: req.method ?? 'GET', path: req.path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const lines: [string, string][] = [];
        for (let i = 0; i < res.rawHeaders.length; i += 2) lines.push([(res.rawHeaders[i] as string).toLowerCase(), res.rawHeaders[i + 1] as string]);
        resolve({ status: res.statusCode ?? 0, lines, body: Buffer.concat(chunks).toString('utf8') });
      });
      res.on('error', reject);
    });
    r.on('error', reject);
    r.end(req.body);
  });
}

/** Every value of header `name` in a response, in order. */
export function values(res: RawResponse, name: string): string[] {
  return res.lines.filter(([n]) => n === name).map(([, v]) => v);
}
