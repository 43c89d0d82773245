// API keys (Kong key-auth). Keys live in Secrets selected by label; each Secret names its consumer.
// Keys are held only as SHA-256 digests: lookup is one hash and one Map probe, never a scan and never
// a comparison of key material.
import { hash } from 'node:crypto';
import { GatehouseError } from '../core/errors.js';
import { NO_CLAIMS, NO_HEADERS, type Identity } from '../core/identity.js';
import type { CheckInput } from '../core/input.js';
import type { MethodContext } from '../config/method-context.js';
import type { SecretResource } from '../config/resources.js';
import type { Selector } from '../config/secrets.js';
import type { ApiKeySpec } from './api-key-schema.js';
import { NONE, type Authenticator, type AuthnResult } from '../core/ports.js';
import { compileLocations, findCredential, hide, presentedAt, type Location } from './credentials.js';

/** Secret data key holding the keys, one per line, plain or `sha256:<64 hex>`. */
const API_KEY_DATA = 'api_key';
const ANNOTATION = {
  consumerId: 'gatehouse.dev/consumer-id',
  username: 'gatehouse.dev/consumer-username',
  customId: 'gatehouse.dev/consumer-custom-id',
  groups: 'gatehouse.dev/groups',
  credentialId: 'gatehouse.dev/credential-id',
} as const;

const SHA256_PREFIX = 'sha256:';
const MAX_KEY_BYTES = 4096;

export function toSelector(spec: ApiKeySpec['selector']): Selector {
  return {
    matchLabels: spec.matchLabels ?? {},
    requirements: (spec.matchExpressions ?? []).map((e) => ({ key: e.key, operator: e.operator, values: e.values ?? [] })),
  };
}

export function compileApiKey(spec: ApiKeySpec, ctx: MethodContext): Authenticator & { readonly keyCount: number } {
  const selector = toSelector(spec.selector);
  if (Object.keys(selector.matchLabels).length === 0 && selector.requirements.length === 0) {
    ctx.problems.error(`${ctx.path}.selector`, 'selector must have matchLabels or matchExpressions: an empty selector would select every Secret');
  }
  // SHA-256 digest (as a latin1 string: 32 chars, the cheapest Map key) -> consumer.
  const table = new Map<string, Identity>();
  for (const secret of ctx.secrets.select(selector)) addSecret(table, secret, ctx);
  return new ApiKeyAuthenticator(ctx.methodName, compileLocations(spec.from), spec.hideCredentials, table);
}

function addSecret(table: Map<string, Identity>, secret: SecretResource, ctx: MethodContext): void {
  const where = `${ctx.path}.selector: Secret ${secret.namespace}/${secret.name} (${secret.origin})`;
  const raw = secret.data.get(API_KEY_DATA);
  if (raw === undefined || raw.length === 0) {
    ctx.problems.warn(ctx.path + '.selector', `Secret ${secret.namespace}/${secret.name} (${secret.origin}) has no \`${API_KEY_DATA}\` entry: it holds no key`);
    return;
  }
  const a = secret.annotations;
  const consumerId = clean(a[ANNOTATION.consumerId]) ?? secret.name;
  const identity: Identity = Object.freeze({
    method: ctx.methodName,
    consumerId,
    username: clean(a[ANNOTATION.username]),
    customId: clean(a[ANNOTATION.customId]),
    credential: clean(a[ANNOTATION.credentialId]) ?? `${secret.namespace}/${secret.name}`,
    groups: splitList(a[ANNOTATION.groups]),
    anonymous: false,
    claims: NO_CLAIMS,
    headers: NO_HEADERS,
  });
  for (const value of [identity.consumerId, identity.username, identity.customId, identity.credential, ...identity.groups]) {
    if (value !== undefined && /[\u0000-\u001f\u007f]/.test(value)) {
      ctx.problems.warn(ctx.path + '.selector', `${where}: consumer annotations contain control characters; Secret ignored`);
      return;
    }
  }
  const lines = raw.toString('utf8').split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '');
  lines.forEach((line, i) => {
    const digest = digestOf(line);
    if (digest === undefined) {
      ctx.problems.warn(ctx.path + '.selector', `${where}: line ${i + 1} of \`${API_KEY_DATA}\` is not a valid key (sha256: needs 64 hex digits; at most ${MAX_KEY_BYTES} bytes)`);
      return;
    }
    const k = digest.toString('latin1');
    const existing = table.get(k);
    if (existing !== undefined) {
      ctx.problems.warn(ctx.path + '.selector', `${where}: a key is also held by consumer ${existing.consumerId}; the first Secret by name keeps it`);
      return;
    }
    table.set(k, identity);
  });
}

function digestOf(line: string): Buffer | undefined {
  if (line.startsWith(SHA256_PREFIX)) {
    const hex = line.slice(SHA256_PREFIX.length);
    return /^[0-9a-fA-F]{64}$/.test(hex) ? Buffer.from(hex, 'hex') : undefined;
  }
  if (Buffer.byteLength(line) > MAX_KEY_BYTES) return undefined;
  return Buffer.from(hash('sha256', line, 'binary'), 'binary');
}

function clean(v: string | undefined): string | undefined {
  const t = v?.trim();
  return t === undefined || t === '' ? undefined : t;
}

// One frozen empty list for every consumer without groups: 100,000 keys need not hold 100,000 of them.
const NO_GROUPS: readonly string[] = Object.freeze([]);

function splitList(v: string | undefined): readonly string[] {
  const list = v?.split(',').map((s) => s.trim()).filter((s) => s !== '') ?? [];
  return list.length === 0 ? NO_GROUPS : Object.freeze(list);
}

class ApiKeyAuthenticator implements Authenticator {
  readonly type = 'apiKey' as const;
  readonly challenge = 'Key';
  readonly headerNames: readonly string[] = [];
  readonly name: string;
  readonly keyCount: number;
  readonly #locations: readonly Location[];
  readonly #hide: boolean;
  readonly #table: ReadonlyMap<string, Identity>;

  constructor(name: string, locations: readonly Location[], hideCredentials: boolean, table: Map<string, Identity>) {
    this.name = name;
    this.#locations = locations;
    this.#hide = hideCredentials;
    this.#table = table;
    this.keyCount = table.size;
  }

  presented(input: CheckInput): string | undefined {
    return presentedAt(input, this.#locations);
  }

  authenticate(input: CheckInput): AuthnResult {
    const found = findCredential(input, this.#locations);
    if (found === undefined) return NONE;
    if (Buffer.byteLength(found.value) > MAX_KEY_BYTES) return KEY_MALFORMED;
    // One-shot hash: a tenth of the cost of createHash().update().digest().
    // Only digests are compared, never keys: what a probe's timing could reveal is part of a SHA-256
    // digest, from which no key can be derived.
    const identity = this.#table.get(hash('sha256', found.value, 'binary'));
    if (identity === undefined) return KEY_UNKNOWN;
    if (!this.#hide) return { kind: 'success', identity };
    return { kind: 'success', identity, ...hide(found) };
  }
}

// Failures carry nothing about the request, so they are made once: an Error captures a stack trace,
// which would otherwise be the most expensive part of refusing a key.
const KEY_UNKNOWN = failure('key_unknown', 'no consumer holds the presented key');
const KEY_MALFORMED = failure('key_malformed', 'presented key is longer than any valid key');

function failure(code: 'key_unknown' | 'key_malformed', detail: string): AuthnResult {
  return Object.freeze({ kind: 'failure', error: new GatehouseError(code, detail, { challenge: { scheme: 'Key' } }) });
}
