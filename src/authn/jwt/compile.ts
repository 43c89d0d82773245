// A `jwt` method block + the Secrets it names -> everything the authenticator needs, imported once:
// keys as KeyObjects, claim rules, the consumer mapping, the signer for minting. Every problem is
// reported with its field path; remote key sets are obtained from the process-wide registry.
import { createPrivateKey, createPublicKey, createSecretKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { parseDuration } from '../../core/duration.js';
import type { MethodContext } from '../../config/method-context.js';
import type { RemoteKeys } from './jwks-cache.js';
import type { ClaimValue } from '../../core/claims.js';
import type { ClaimRules, IdentityMapping, RequiredClaim } from './claims.js';
import { familyOfAlg, hmacKey, hmacMinBytes, importKeyText, KeySet, toVerifyKey, type VerifyKey } from './keys.js';
import type { JwtAlgorithm, JwtSpec } from './schema.js';
import type { JwtServices } from './services.js';

export interface Signer {
  readonly alg: JwtAlgorithm;
  readonly key: KeyObject;
  readonly kid: string | undefined;
}

export interface JwtConfig {
  readonly algorithms: ReadonlySet<string>;
  readonly staticKeys: KeySet;
  readonly remote: RemoteKeys | undefined;
  readonly rules: ClaimRules;
  readonly mapping: IdentityMapping;
  readonly maxBytes: number;
  readonly revocation: boolean;
  /** Namespace of revocations: the issuer, else `policy/method`. */
  readonly scope: string;
  readonly signer: Signer | undefined;
  /** Claims a minted token must carry to pass `requiredClaims`. */
  readonly mintClaims: Readonly<Record<string, ClaimValue>>;
}

/** Headers a token's claims must never set upstream. */
const FORBIDDEN_HEADERS = new Set(['host', 'content-length', 'transfer-encoding', 'connection', 'te', 'upgrade', 'keep-alive']);

export function compileJwtConfig(spec: JwtSpec, ctx: MethodContext, services: JwtServices): JwtConfig {
  const path = ctx.path;
  const algorithms = [...new Set(spec.algorithms)];
  const keys: VerifyKey[] = [];
  const hmacSecrets = loadHmacSecrets(spec, ctx, services, algorithms);
  for (const s of hmacSecrets) keys.push(hmacKey(s));
  keys.push(...loadPublicKeys(spec, ctx));
  const signer = loadSigner(spec, ctx, algorithms, keys, hmacSecrets);
  const remote = remoteKeys(spec, ctx, services);
  if (keys.length === 0 && remote === undefined && !ctx.problems.hasErrors) {
    ctx.problems.error(path, 'no verification key: give secretRef, secretFromEnv, publicKeysRef, jwksUri, discovery or signingKeyRef');
  }
  for (const alg of algorithms) {
    const family = familyOfAlg(alg);
    const covered = keys.some((k) => k.family === family) || (remote !== undefined && family !== 'oct');
    if (!covered && (keys.length > 0 || remote !== undefined)) {
      ctx.problems.warn(`${path}.algorithms`, `no key can verify ${alg}: tokens signed with it are refused`, 'Invalid');
    }
  }
  const skewMs = duration(spec.clockSkew, `${path}.clockSkew`, ctx) ?? 30_000;
  const maxLifetimeMs = spec.maxLifetime === undefined ? undefined : duration(spec.maxLifetime, `${path}.maxLifetime`, ctx);
  const required = requiredClaims(spec, ctx);
  const mapping = identityMapping(spec, ctx);
  return Object.freeze({
    algorithms: new Set<string>(algorithms),
    staticKeys: new KeySet(keys),
    remote,
    rules: Object.freeze({
      issuer: spec.issuer,
      audiences: spec.audiences === undefined ? undefined : new Set(spec.audiences),
      skewMs,
      maxLifetimeMs,
      requireExp: spec.requireExpiration,
      required,
    }),
    mapping,
    maxBytes: spec.maxTokenBytes,
    revocation: spec.revocation,
    scope: spec.issuer ?? `${ctx.policyId}/${ctx.methodName}`,
    signer,
    mintClaims: Object.freeze(Object.fromEntries(required.map((r) => [r.name, r.anyOf[0] as ClaimValue]))),
  });
}

export function duration(text: string, path: string, ctx: MethodContext): number | undefined {
  const ms = parseDuration(text);
  if (ms === undefined) ctx.problems.error(path, `${JSON.stringify(text)} is not a duration`);
  return ms;
}

function loadHmacSecrets(spec: JwtSpec, ctx: MethodContext, services: JwtServices, algorithms: readonly JwtAlgorithm[]): Buffer[] {
  const out: { bytes: Buffer; path: string }[] = [];
  if (spec.secretRef !== undefined) {
    const p = `${ctx.path}.secretRef`;
    const raw = secretEntry(spec.secretRef.name, spec.secretRef.key, p, ctx);
    if (raw !== undefined) out.push({ bytes: decodeSecret(raw, spec.secretEncoding, p, ctx), path: p });
  }
  if (spec.secretFromEnv !== undefined) {
    const p = `${ctx.path}.secretFromEnv`;
    const raw = services.env[spec.secretFromEnv];
    if (raw === undefined || raw === '') ctx.problems.error(p, `environment variable ${spec.secretFromEnv} is not set`);
    else out.push({ bytes: decodeSecret(Buffer.from(raw, 'utf8'), spec.secretEncoding, p, ctx), path: p });
  }
  const hs = algorithms.filter((a) => familyOfAlg(a) === 'oct');
  if (out.length > 0 && hs.length === 0) ctx.problems.error(`${ctx.path}.algorithms`, 'an HMAC secret is given but algorithms allow no HS256/HS384/HS512');
  for (const { bytes, path } of out) {
    for (const alg of hs) {
      if (bytes.length > 0 && bytes.length < hmacMinBytes(alg)) {
        ctx.problems.error(path, `the secret has ${bytes.length} bytes; ${alg} needs at least ${hmacMinBytes(alg)} (RFC 7518 3.2)`);
      }
    }
  }
  return out.map((o) => o.bytes).filter((b) => b.length > 0);
}

function decodeSecret(raw: Buffer, encoding: JwtSpec['secretEncoding'], path: string, ctx: MethodContext): Buffer {
  switch (encoding) {
    case 'raw':
      return raw;
    case 'base64':
    case 'base64url': {
      const text = raw.toString('utf8').trim();
      const ok = encoding === 'base64' ? /^[A-Za-z0-9+/]+={0,2}$/.test(text) : /^[A-Za-z0-9_-]+={0,2}$/.test(text);
      if (!ok) {
        ctx.problems.error(path, `the secret is not ${encoding} (secretEncoding)`, 'SecretInvalid');
        return Buffer.alloc(0);
      }
      return Buffer.from(text, encoding);
    }
    default: {
      const never: never = encoding;
      throw new Error(`unknown encoding ${String(never)}`);
    }
  }
}

export function secretEntry(name: string, key: string, path: string, ctx: MethodContext): Buffer | undefined {
  const secret = ctx.secrets.get(name);
  if (secret === undefined) {
    ctx.problems.error(path, `Secret ${ctx.namespace}/${name} not found`, 'SecretMissing');
    return undefined;
  }
  const raw = secret.data.get(key);
  if (raw === undefined || raw.length === 0) {
    ctx.problems.error(path, `Secret ${ctx.namespace}/${name} has no entry "${key}"`, 'SecretInvalid');
    return undefined;
  }
  return raw;
}

function loadPublicKeys(spec: JwtSpec, ctx: MethodContext): VerifyKey[] {
  if (spec.publicKeysRef === undefined) return [];
  const p = `${ctx.path}.publicKeysRef`;
  const name = spec.publicKeysRef.name;
  const secret = ctx.secrets.get(name);
  if (secret === undefined) {
    ctx.problems.error(p, `Secret ${ctx.namespace}/${name} not found`, 'SecretMissing');
    return [];
  }
  const keys: VerifyKey[] = [];
  for (const entry of [...secret.data.keys()].sort()) {
    const imported = importKeyText(secret.data.get(entry)?.toString('utf8') ?? '', true);
    for (const problem of imported.problems) ctx.problems.warn(p, `Secret ${ctx.namespace}/${name} entry "${entry}" ${problem}`);
    keys.push(...imported.keys);
  }
  if (keys.length === 0) ctx.problems.error(p, `Secret ${ctx.namespace}/${name} holds no usable key`, 'SecretInvalid');
  return keys;
}

/** The key `gatehouse token mint` signs with: signingKeyRef, else the (first) HMAC secret. */
function loadSigner(spec: JwtSpec, ctx: MethodContext, algorithms: readonly JwtAlgorithm[], keys: VerifyKey[], hmac: readonly Buffer[]): Signer | undefined {
  const pick = (family: string): JwtAlgorithm | undefined => algorithms.find((a) => familyOfAlg(a) === family);
  if (spec.signingKeyRef === undefined) {
    const first = hmac[0];
    const alg = pick('oct');
    return first === undefined || alg === undefined ? undefined : { alg, key: createSecretKey(first), kid: undefined };
  }
  const p = `${ctx.path}.signingKeyRef`;
  const raw = secretEntry(spec.signingKeyRef.name, spec.signingKeyRef.key, p, ctx);
  if (raw === undefined) return undefined;
  let key: KeyObject;
  let kid: string | undefined;
  try {
    const text = raw.toString('utf8').trim();
    if (text.startsWith('{')) {
      const jwk = JSON.parse(text) as JsonWebKey & { kid?: unknown };
      kid = typeof jwk.kid === 'string' ? jwk.kid : undefined;
      key = jwk.kty === 'oct' ? createSecretKey(Buffer.from(String(jwk.k ?? ''), 'base64url')) : createPrivateKey({ key: jwk, format: 'jwk' });
    } else {
      key = createPrivateKey(text);
    }
  } catch (e) {
    ctx.problems.error(p, `not a private key (PEM or JWK): ${(e as Error).message}`, 'SecretInvalid');
    return undefined;
  }
  const verify = toVerifyKey(key.type === 'private' ? createPublicKey(key) : key, kid, undefined);
  if (typeof verify === 'string') {
    ctx.problems.error(p, verify, 'SecretInvalid');
    return undefined;
  }
  const alg = pick(verify.family);
  if (alg === undefined) {
    ctx.problems.error(p, `no algorithm in algorithms fits this ${verify.family} key`);
    return undefined;
  }
  if (verify.family === 'oct' && key.symmetricKeySize !== undefined && key.symmetricKeySize < hmacMinBytes(alg)) {
    ctx.problems.error(p, `the secret has ${key.symmetricKeySize} bytes; ${alg} needs at least ${hmacMinBytes(alg)}`);
    return undefined;
  }
  keys.push(verify);
  return { alg, key, kid };
}

function remoteKeys(spec: JwtSpec, ctx: MethodContext, services: JwtServices): RemoteKeys | undefined {
  if (spec.jwksUri !== undefined && spec.discovery) {
    ctx.problems.error(`${ctx.path}.discovery`, 'give jwksUri or discovery, not both');
    return undefined;
  }
  if (spec.discovery) {
    if (spec.issuer === undefined || !/^https?:\/\//.test(spec.issuer)) {
      ctx.problems.error(`${ctx.path}.issuer`, 'discovery needs an http(s) issuer');
      return undefined;
    }
    plainHttpWarning(spec.issuer, `${ctx.path}.issuer`, ctx);
    return services.jwks.get({ kind: 'discovery', issuer: spec.issuer });
  }
  if (spec.jwksUri === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(spec.jwksUri);
  } catch {
    ctx.problems.error(`${ctx.path}.jwksUri`, 'not a valid URL');
    return undefined;
  }
  plainHttpWarning(url.href, `${ctx.path}.jwksUri`, ctx);
  return services.jwks.get({ kind: 'jwks', uri: spec.jwksUri });
}

function plainHttpWarning(href: string, path: string, ctx: MethodContext): void {
  const url = new URL(href);
  const loopback = url.hostname === 'localhost' || url.hostname === '[::1]' || url.hostname.startsWith('127.');
  if (url.protocol === 'http:' && !loopback) ctx.problems.warn(path, 'keys fetched over plain http can be replaced in transit; use https', 'Invalid');
}

function requiredClaims(spec: JwtSpec, ctx: MethodContext): RequiredClaim[] {
  const out: RequiredClaim[] = [];
  for (const [name, value] of Object.entries(spec.requiredClaims ?? {})) {
    const list: unknown[] = Array.isArray(value) ? value : [value];
    const ok = list.length > 0 && list.every((v) => typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v)));
    if (!ok) {
      ctx.problems.error(`${ctx.path}.requiredClaims.${name}`, 'must be a string, number or boolean, or a non-empty list of those');
      continue;
    }
    out.push(Object.freeze({ name, anyOf: Object.freeze(list as ClaimValue[]) }));
  }
  return out;
}

function identityMapping(spec: JwtSpec, ctx: MethodContext): IdentityMapping {
  const headers: { header: string; claim: string }[] = [];
  const seen = new Set<string>();
  for (const [header, claim] of Object.entries(spec.claimsToHeaders ?? {})) {
    const name = header.toLowerCase();
    if (FORBIDDEN_HEADERS.has(name) || seen.has(name)) {
      ctx.problems.error(`${ctx.path}.claimsToHeaders.${header}`, FORBIDDEN_HEADERS.has(name) ? `${name} cannot be set from a claim` : 'header named twice');
      continue;
    }
    seen.add(name);
    headers.push({ header: name, claim });
  }
  const payloadHeader = spec.forwardPayloadHeader?.toLowerCase();
  if (payloadHeader !== undefined && (seen.has(payloadHeader) || FORBIDDEN_HEADERS.has(payloadHeader))) {
    ctx.problems.error(`${ctx.path}.forwardPayloadHeader`, `${payloadHeader} is already set by claimsToHeaders or cannot be set`);
  }
  return Object.freeze({
    method: ctx.methodName,
    consumer: Object.freeze({
      id: spec.consumer.id,
      username: spec.consumer.username,
      customId: spec.consumer.customId,
      groups: spec.consumer.groups,
    }),
    headers: Object.freeze(headers),
    payloadHeader,
  });
}
