// JWT policy sets: one AuthPolicy per algorithm (HS256, RS256, ES256), each on its own host, with its
// keys in a Secret (HMAC secretRef, PEM publicKeysRef) so that no JWKS server takes part. The keys are
// made once per process, on first use; the same process mints the tokens the requests carry.
import { createHash, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { policyHead, type PolicySet } from './policies.js';
import { writeServerExtras } from './server-extras.js';

export const JWT_ALGORITHMS = ['HS256', 'RS256', 'ES256'] as const;
export type BenchJwtAlgorithm = (typeof JWT_ALGORITHMS)[number];

const NAMESPACE = 'bench';
const ISSUER = 'https://id.bench.test';
const AUDIENCE = 'orders';
/** Tokens outlive any run, so the clock never turns an allow into a deny mid-window. */
const TOKEN_TTL_S = 24 * 3600;

/** One JWT-protected API: its host, and the claims its tokens carry. */
export interface JwtTenant {
  readonly host: string;
  readonly consumerId: string;
  readonly jti: string;
  readonly groups: readonly string[];
}

export function jwtTenant(alg: BenchJwtAlgorithm): JwtTenant {
  const a = alg.toLowerCase();
  return { host: `${a}.jwt.bench.test`, consumerId: `${a}-client`, jti: `${a}-token-1`, groups: ['partners', 'bench'] };
}

interface KeyMaterial {
  /** 64 hex characters: twice HS256's 32-byte minimum. */
  readonly hmac: string;
  readonly rsa: { readonly privateKey: KeyObject; readonly publicPem: string };
  readonly ec: { readonly privateKey: KeyObject; readonly publicPem: string };
}

let material: KeyMaterial | undefined;

function keys(): KeyMaterial {
  if (material !== undefined) return material;
  const pair = (kind: 'rsa' | 'ec'): { privateKey: KeyObject; publicPem: string } => {
    const { privateKey, publicKey } = kind === 'rsa' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ec', { namedCurve: 'P-256' });
    return { privateKey, publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
  };
  material = { hmac: createHash('sha256').update('bench-jwt-hmac').digest('hex'), rsa: pair('rsa'), ec: pair('ec') };
  return material;
}

/** What verifies `alg`'s tokens: the HMAC secret (HS256) or the public key's PEM. */
export function verifyingKey(alg: BenchJwtAlgorithm): string {
  const k = keys();
  return alg === 'HS256' ? k.hmac : alg === 'RS256' ? k.rsa.publicPem : k.ec.publicPem;
}

/** A token the policy for `alg` accepts, valid for a day from now. */
export function mintJwt(alg: BenchJwtAlgorithm): Promise<string> {
  const k = keys();
  const t = jwtTenant(alg);
  const key = alg === 'HS256' ? Buffer.from(k.hmac, 'utf8') : alg === 'RS256' ? k.rsa.privateKey : k.ec.privateKey;
  return new SignJWT({ groups: [...t.groups] })
    .setProtectedHeader({ alg, typ: 'JWT' })
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setSubject(t.consumerId)
    .setJti(t.jti)
    .setIssuedAt()
    .setExpirationTime(`${TOKEN_TTL_S}s`)
    .sign(key);
}

const indent = (text: string, spaces: number): string =>
  text
    .trim()
    .split('\n')
    .map((line) => `${' '.repeat(spaces)}${line}`)
    .join('\n');

function policyYaml(alg: BenchJwtAlgorithm): string {
  const t = jwtTenant(alg);
  const name = `jwt-${alg.toLowerCase()}`;
  const keySource = alg === 'HS256' ? `secretRef: {name: ${name}-key, key: secret}` : `publicKeysRef: {name: ${name}-key}`;
  return `${policyHead(name, t.host)}      - name: tokens
        jwt:
          algorithms: [${alg}]
          ${keySource}
          issuer: ${ISSUER}
          audiences: [${AUDIENCE}]
          consumer: {id: sub, groups: groups}
          hideCredentials: true
  response: {realm: bench}
`;
}

function secretYaml(alg: BenchJwtAlgorithm): string {
  const k = keys();
  const name = `jwt-${alg.toLowerCase()}-key`;
  const data = alg === 'HS256' ? `  secret: "${k.hmac}"` : `  public.pem: |\n${indent(alg === 'RS256' ? k.rsa.publicPem : k.ec.publicPem, 4)}`;
  return `apiVersion: v1
kind: Secret
metadata:
  name: ${name}
  namespace: ${NAMESPACE}
  labels: {gatehouse.dev/credential: jwt-keys}
stringData:
${data}
`;
}

/**
 * The three JWT policies. `tokenCache: false` starts their server with the verified-token cache off,
 * so every Check parses and verifies the token as if it had never been seen.
 */
export function jwtPolicies(options: { readonly tokenCache: boolean }): PolicySet {
  return {
    id: options.tokenCache ? 'jwt' : 'jwt-no-token-cache',
    write(dir) {
      const docs = JWT_ALGORITHMS.flatMap((alg) => [policyYaml(alg), secretYaml(alg)]);
      writeFileSync(join(dir, 'jwt.yaml'), docs.join('---\n'));
      if (!options.tokenCache) writeServerExtras(dir, { jwtTokenCacheSize: 0 });
      return JWT_ALGORITHMS.length;
    },
  };
}
