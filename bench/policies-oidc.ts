// The OIDC session policy set: an `oidc` method whose login left a session sealed in a cookie, the
// cookie made offline with the session codec as the callback would have issued it (tokens, userinfo
// and claims included). Every Check is answered from the session alone, as after a real login. The
// provider is a stub on loopback that publishes an empty key set, its endpoints given so that no
// discovery happens: the policy comes up Ready as it would beside a provider that answers. Cookie
// storage keeps the run free of Redis (validate warns that real tokens make a cookie of several KB).
// The bearer set: a `bearerOnly` method whose API client presents an opaque access token; the stub
// answers its introspection (RFC 7662) as active, so the first Check asks it and later ones are
// answered from the introspection cache.
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { SID_CLAIM } from '../src/session/authenticator.js';
import { SessionCodec, SessionKeys } from '../src/session/codec.js';
import { SESSION_RECORD_VERSION, type SessionRecord } from '../src/session/record.js';
import { policyHead, type PolicySet } from './policies.js';
import { SESSION_COOKIE, sessionTimes, sessionYaml } from './policies-session.js';

const NAME = 'web-oidc';
const POLICY_ID = `bench/${NAME}`;
/** The issuer the session's tokens name; the stub's own URL is only known once it listens. */
const ISSUER = 'https://id.bench.test';

export const OIDC_TENANT = {
  host: 'oidc.session.bench.test',
  consumerId: 'oidc-user',
  username: 'oidc-user-name',
  accessToken: `bench-access-token-${'a'.repeat(32)}`,
} as const;

const secret = createHash('sha256').update('bench-session-oidc').digest('hex');
const clientSecret = createHash('sha256').update('bench-oidc-client').digest('hex');

export const OIDC_BEARER = {
  host: 'oidc.bearer.bench.test',
  consumerId: 'oidc-api-client',
  /** Opaque (not a JWT): only introspection can tell who holds it. */
  accessToken: `bench-opaque-token-${'b'.repeat(32)}`,
} as const;

/** What the stub's introspection endpoint says of the bench's opaque token (no `exp`: cached `cacheTtlMax`). */
const INTROSPECTED = { active: true, sub: OIDC_BEARER.consumerId, client_id: 'bench-api', scope: 'orders:read', token_type: 'Bearer' } as const;

/** The `x-userinfo` an allowed bearer Check carries: base64 of the introspection answer (kong-oidc's form). */
export const OIDC_BEARER_USERINFO = Buffer.from(JSON.stringify(INTROSPECTED)).toString('base64');

function loginRecord(now: number): SessionRecord {
  const t = OIDC_TENANT;
  // An ID token's shape only: it is forwarded, not verified again after the login.
  const idToken = ['{"alg":"RS256"}', JSON.stringify({ iss: ISSUER, sub: t.consumerId, aud: 'bench-web' }), 'sig'].map((p) => Buffer.from(p).toString('base64url')).join('.');
  return {
    v: SESSION_RECORD_VERSION,
    aud: POLICY_ID,
    sub: t.consumerId,
    username: t.username,
    credential: ISSUER,
    groups: ['staff'],
    method: 'sso',
    claims: { sub: t.consumerId, preferred_username: t.username, [SID_CLAIM]: randomBytes(16).toString('base64url') },
    ...sessionTimes(now),
    // No access-token expiry: the session never asks the provider for a refresh.
    tokens: { at: t.accessToken, it: idToken, ui: { sub: t.consumerId, email: 'oidc-user@bench.test' } },
  };
}

/** The `Cookie` header of a browser signed in through the provider. */
export function oidcSessionCookie(): string {
  const codec = new SessionCodec(SessionKeys.derive({ audience: POLICY_ID, secrets: [secret] }));
  return `${SESSION_COOKIE}=${codec.seal(loginRecord(Date.now()))}`;
}

let stub: Promise<string> | undefined;
let introspections = 0;

/** Introspection requests the stub has answered in this process: a cached token costs one per server. */
export function stubIntrospections(): number {
  return introspections;
}

/**
 * The provider stub's base URL, started once per process. Unreferenced: it never keeps a process
 * alive. The gatehouse server's start-up asks it for keys, a bearer Check's first introspection
 * (`POST /introspect`) whether a token is active: only the bench's opaque token is.
 */
function providerStub(): Promise<string> {
  // A key set must hold a usable signing key before gatehouse counts the provider as answering.
  const jwk = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' });
  const jwks = JSON.stringify({ keys: [{ ...jwk, kid: 'bench-1', alg: 'ES256', use: 'sig' }] });
  stub ??= new Promise((resolve, reject) => {
    const server = createServer((req, res) => {
      if (req.method === 'POST' && req.url === '/introspect') {
        introspections++;
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          const token = new URLSearchParams(Buffer.concat(chunks).toString('utf8')).get('token');
          res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(token === OIDC_BEARER.accessToken ? INTROSPECTED : { active: false }));
        });
        return;
      }
      const found = req.url === '/jwks';
      res.writeHead(found ? 200 : 404, { 'content-type': 'application/json' }).end(found ? jwks : '{}');
    });
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.unref();
      resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    });
  });
  return stub;
}

export function oidcPolicies(): PolicySet {
  return oidcPolicySet('session-oidc', NAME, OIDC_TENANT.host, 'sso', 'bench-web', (provider) => `          redirectUri: https://${OIDC_TENANT.host}/oauth2/callback
          discoveryOverride: {authorizationEndpoint: ${provider}/auth, tokenEndpoint: ${provider}/token, jwksUri: ${provider}/jwks}
          consumer: {id: sub, username: preferred_username}
${sessionYaml(NAME, 'cookie', secret, 'Lax')}
`);
}

/** The bearer-only set: an API answered for clients presenting the provider's opaque access tokens. */
export function oidcBearerPolicies(): PolicySet {
  return oidcPolicySet('bearer-oidc', 'api-oidc', OIDC_BEARER.host, 'idp', 'bench-api', (provider) => `          bearerOnly: true
          discoveryOverride: {authorizationEndpoint: ${provider}/auth, tokenEndpoint: ${provider}/token, jwksUri: ${provider}/jwks, introspectionEndpoint: ${provider}/introspect}
          consumer: {id: sub}
`);
}

/**
 * One policy `name` on `host` with one `oidc` method of client `clientId` at the stub, and the Secret
 * of its client secret; `rest` gives the method's fields after the client's (and what follows the policy).
 */
function oidcPolicySet(id: string, name: string, host: string, method: string, clientId: string, rest: (provider: string) => string): PolicySet {
  return {
    id,
    async write(dir) {
      const provider = await providerStub();
      writeFileSync(
        join(dir, `${name}.yaml`),
        `${policyHead(name, host)}      - name: ${method}
        oidc:
          issuer: ${provider}/realms/bench
          allowInsecureHttp: true
          clientId: ${clientId}
          clientSecretRef: {name: ${name}-client, key: client-secret}
${rest(provider)}---
apiVersion: v1
kind: Secret
metadata:
  name: ${name}-client
  namespace: bench
  labels: {gatehouse.dev/credential: oidc-clients}
stringData: {client-secret: "${clientSecret}"}
`,
      );
      return 1;
    },
  };
}
