// A real OpenID Provider (panva/oidc-provider) on loopback that issues JWT access tokens through the
// client_credentials grant, with its own discovery document and JWKS: tokens no test code signed.
import { generateKeyPairSync } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import Provider from 'oidc-provider';

export interface TestOp {
  readonly issuer: string;
  readonly clientId: string;
  readonly audience: string;
  /** A fresh access token (client_credentials), as a resource server would receive it. */
  accessToken(scope?: string): Promise<string>;
  /** Token endpoint requests answered, to prove the tokens came from the OP. */
  readonly issued: () => number;
  close(): Promise<void>;
}

const CLIENT_ID = 'orders-service';
const CLIENT_SECRET = 'orders-service-secret-0123456789abcdef';
export const OP_AUDIENCE = 'https://api.example.com';

export async function startOidcOp(): Promise<TestOp> {
  const sockets = new Set<Socket>();
  let handle: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
  const server = createServer((req, res) => {
    if (handle === undefined) res.writeHead(503).end();
    else handle(req, res);
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const signing = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
  let issued = 0;

  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: CLIENT_ID,
        client_secret: CLIENT_SECRET,
        grant_types: ['client_credentials'],
        redirect_uris: [],
        response_types: [],
        token_endpoint_auth_method: 'client_secret_basic',
        scope: 'orders:read orders:write',
      },
    ],
    jwks: { keys: [{ ...signing, kid: 'op-key-1', use: 'sig', alg: 'RS256' }] },
    cookies: { keys: ['cookie-key-for-tests-only'] },
    ttl: { ClientCredentials: 600 },
    scopes: ['orders:read', 'orders:write'],
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => OP_AUDIENCE,
        useGrantedResource: () => true,
        getResourceServerInfo: () => ({
          scope: 'orders:read orders:write',
          audience: OP_AUDIENCE,
          accessTokenTTL: 600,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'RS256' } },
        }),
      },
    },
    extraTokenClaims: () => ({ groups: ['services', 'orders'], preferred_username: 'orders-bot' }),
  });
  const callback = provider.callback();
  handle = (req, res) => {
    if (req.url?.startsWith('/token') === true) issued++;
    void callback(req, res);
  };

  return {
    issuer,
    clientId: CLIENT_ID,
    audience: OP_AUDIENCE,
    issued: () => issued,
    async accessToken(scope = 'orders:read') {
      const res = await fetch(`${issuer}/token`, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: new URLSearchParams({ grant_type: 'client_credentials', scope }).toString(),
      });
      const body: unknown = await res.json();
      const token = (body as { access_token?: unknown }).access_token;
      if (res.status !== 200 || typeof token !== 'string') throw new Error(`OP token endpoint answered ${res.status}: ${JSON.stringify(body)}`);
      return token;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
