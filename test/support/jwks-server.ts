// A JWK Set (and an OpenID discovery document) on loopback, whose keys, cache headers and health a
// test changes while gatehouse fetches from it: rotation, an IdP down, a storm of unknown kids.
import { generateKeyPairSync, type JsonWebKey, type KeyObject } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type ServerMode = 'up' | '503' | 'reset' | 'garbage';

export interface JwksServer {
  /** `http://127.0.0.1:<port>`: also the issuer its discovery document names. */
  readonly issuer: string;
  readonly jwksUrl: string;
  setKeys(keys: readonly JsonWebKey[]): void;
  setCacheControl(value: string | undefined): void;
  setMode(mode: ServerMode): void;
  /** Requests answered so far, by path. */
  count(path: '/jwks.json' | '/.well-known/openid-configuration'): number;
  close(): Promise<void>;
}

export async function startJwksServer(keys: readonly JsonWebKey[] = []): Promise<JwksServer> {
  let current = [...keys];
  let cacheControl: string | undefined;
  let mode: ServerMode = 'up';
  const counts = new Map<string, number>();
  const sockets = new Set<Socket>();
  let issuer = '';

  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    counts.set(path, (counts.get(path) ?? 0) + 1);
    if (mode === 'reset') {
      req.socket.destroy();
      return;
    }
    if (mode === '503') {
      res.writeHead(503, { 'content-type': 'text/plain' }).end('down');
      return;
    }
    if (mode === 'garbage') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"keys": [');
      return;
    }
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (cacheControl !== undefined) headers['cache-control'] = cacheControl;
    if (path === '/jwks.json') {
      res.writeHead(200, headers).end(JSON.stringify({ keys: current }));
    } else if (path === '/.well-known/openid-configuration') {
      res.writeHead(200, headers).end(JSON.stringify({ issuer, jwks_uri: `${issuer}/jwks.json`, id_token_signing_alg_values_supported: ['RS256'] }));
    } else {
      res.writeHead(404).end();
    }
  };

  const server = createServer(handler);
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    issuer,
    jwksUrl: `${issuer}/jwks.json`,
    setKeys: (k) => void (current = [...k]),
    setCacheControl: (v) => void (cacheControl = v),
    setMode: (m) => void (mode = m),
    count: (path) => counts.get(path) ?? 0,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

export interface TestKey {
  readonly kid: string;
  readonly alg: string;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  /** The public JWK with kid, alg and use. */
  readonly jwk: JsonWebKey;
}

/** A fresh key pair for `alg` (RS256, PS256, ES256, ES384, EdDSA...). */
export function generateTestKey(alg: string, kid: string): TestKey {
  const pair = alg.startsWith('RS') || alg.startsWith('PS')
    ? generateKeyPairSync('rsa', { modulusLength: 2048 })
    : alg === 'ES256'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : alg === 'ES384'
        ? generateKeyPairSync('ec', { namedCurve: 'P-384' })
        : alg === 'ES512'
          ? generateKeyPairSync('ec', { namedCurve: 'P-521' })
          : generateKeyPairSync('ed25519');
  const jwk: JsonWebKey = { ...pair.publicKey.export({ format: 'jwk' }), kid, alg, use: 'sig' };
  return { kid, alg, privateKey: pair.privateKey, publicKey: pair.publicKey, jwk };
}
