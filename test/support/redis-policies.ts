// Two policies whose Checks need Redis, for fault tests: web.example.com signs in with an API key
// into a `storage: redis` session (logout at POST /logout), api.example.com takes HS256 JWTs with
// `revocation: true`. Also what a test needs to build their credentials.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT } from 'jose';

export const SESSION_HOST = 'web.example.com';
export const JWT_HOST = 'api.example.com';
export const API_KEY = 'acme-key-1';
export const ISSUER = 'https://id.example.com';
/** The revocation scope of the JWT method: its issuer. */
export const REVOCATION_SCOPE = ISSUER;
const HMAC = 'hs256-fault-test-secret-0123456789abcdef';

// Manifests as objects, written as JSON (which YAML reads as it is).
const manifest = (kind: string, name: string, rest: Readonly<Record<string, unknown>>, labels: Readonly<Record<string, string>> = {}, annotations: Readonly<Record<string, string>> = {}): string =>
  JSON.stringify({
    apiVersion: kind === 'Secret' ? 'v1' : 'gatehouse.dev/v1alpha1',
    kind,
    metadata: { name, namespace: 'shop', labels, annotations },
    ...rest,
  });

export const REDIS_POLICIES: Readonly<Record<string, string>> = {
  'policies.yaml': [
    manifest('AuthPolicy', 'web', {
      spec: {
        hosts: [SESSION_HOST],
        authentication: {
          methods: [{ name: 'keys', apiKey: { from: [{ header: 'apikey' }], selector: { matchLabels: { 'gatehouse.dev/credential': 'partners' } }, hideCredentials: true } }],
        },
        session: { storage: 'redis', secretRef: { name: 'shop-session' }, logout: { path: '/logout' } },
      },
    }),
    manifest('AuthPolicy', 'api', {
      spec: {
        hosts: [JWT_HOST],
        authentication: {
          methods: [
            {
              name: 'tokens',
              jwt: { algorithms: ['HS256'], secretRef: { name: 'jwt-hmac', key: 'secret' }, issuer: ISSUER, audiences: ['shop'], hideCredentials: true, revocation: true },
            },
          ],
        },
      },
    }),
  ].join('\n---\n'),
  'secrets.yaml': [
    manifest('Secret', 'acme', { stringData: { api_key: API_KEY } }, { 'gatehouse.dev/credential': 'partners' }, { 'gatehouse.dev/consumer-id': 'acme' }),
    manifest('Secret', 'shop-session', { stringData: { current: '0123456789abcdef0123456789abcdef-session-key' } }),
    manifest('Secret', 'jwt-hmac', { stringData: { secret: HMAC } }),
  ].join('\n---\n'),
};

/** A directory holding REDIS_POLICIES, for the CLI. */
export function redisPolicyDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-redis-policies-'));
  for (const [name, yaml] of Object.entries(REDIS_POLICIES)) writeFileSync(join(dir, name), yaml);
  return dir;
}

/** A token api.example.com accepts for ten minutes (unless `jti` is revoked). */
export function mintToken(sub: string, jti: string): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ sub, jti, iss: ISSUER, aud: 'shop', iat: now, exp: now + 600 })
    .setProtectedHeader({ alg: 'HS256' })
    .sign(Buffer.from(HMAC));
}
