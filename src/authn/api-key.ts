// API keys (Kong key-auth). Keys live in Secrets selected by label; each Secret names its consumer.
// Keys are held only as SHA-256 digests (computed when the Secret arrives, config/held-secret.ts):
// lookup is one hash and one Map probe, never a scan and never a comparison of key material.
import { hash } from 'node:crypto';
import { GatehouseError } from '../core/errors.js';
import { type HeaderPair, NO_CLAIMS, NO_HEADERS, type Identity } from '../core/identity.js';
import type { CheckInput } from '../core/input.js';
import type { MethodContext } from '../config/method-context.js';
import { API_KEY_DATA, DIGEST_LENGTH, type HeldSecret, MAX_KEY_BYTES } from '../config/held-secret.js';
import type { Selector } from '../config/secrets.js';
import type { ApiKeySpec } from './api-key-schema.js';
import { NONE, type Authenticator, type AuthnResult } from '../core/ports.js';
import { compileLocations, findCredential, hide, presentedAt, type Location } from './credentials.js';

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
  // SHA-256 digest (as a latin1 string: 32 chars, the cheapest Map key) -> the consumer's Secret, until
  // a Check presents one of its keys: then -> its identity, one per Secret as before, made only for
  // Secrets in use (at 100,000 keys an identity each from the start was 3.8 MB of heap).
  const table = new Map<string, HeldSecret | KeyIdentity>();
  for (const secret of ctx.secrets.select(selector)) addSecret(table, secret, ctx);
  return new ApiKeyAuthenticator(ctx.methodName, compileLocations(spec.from), spec.hideCredentials, table);
}

function addSecret(table: Map<string, HeldSecret | KeyIdentity>, secret: HeldSecret, ctx: MethodContext): void {
  const where = `${ctx.path}.selector: Secret ${secret.namespace}/${secret.name} (${secret.origin})`;
  const digests = secret.digests;
  if (digests === undefined) {
    ctx.problems.warn(ctx.path + '.selector', `Secret ${secret.namespace}/${secret.name} (${secret.origin}) has no \`${API_KEY_DATA}\` entry: it holds no key`);
    return;
  }
  const identity = new KeyIdentity(ctx.methodName, secret);
  for (const value of [identity.consumerId, identity.username, identity.customId, identity.credential, ...identity.groups]) {
    if (value !== undefined && /[\u0000-\u001f\u007f]/.test(value)) {
      ctx.problems.warn(ctx.path + '.selector', `${where}: consumer annotations contain control characters; Secret ignored`);
      return;
    }
  }
  // Lines in their order: the valid ones' digests interleaved with the invalid ones' positions.
  const count = digests.length / DIGEST_LENGTH;
  const invalidLines = secret.invalidLines;
  let invalid = 0;
  for (let line = 0, d = 0; d < count || invalid < invalidLines.length; line++) {
    if (invalidLines[invalid] === line) {
      invalid++;
      ctx.problems.warn(ctx.path + '.selector', `${where}: line ${line + 1} of \`${API_KEY_DATA}\` is not a valid key (sha256: needs 64 hex digits; at most ${MAX_KEY_BYTES} bytes)`);
      continue;
    }
    const k = count === 1 ? digests : digests.slice(d * DIGEST_LENGTH, (d + 1) * DIGEST_LENGTH);
    d++;
    const existing = table.get(k);
    if (existing !== undefined) {
      ctx.problems.warn(ctx.path + '.selector', `${where}: a key is also held by consumer ${consumerIdOf(existing instanceof KeyIdentity ? existing.secret : existing)}; the first Secret by name keeps it`);
      continue;
    }
    table.set(k, secret);
  }
}

/**
 * A key's consumer under one method: its fields are read from the held Secret (trimmed and split when
 * the Secret arrived), so each of 100,000 keys costs an object of two fields. Frozen like every identity.
 */
function consumerIdOf(secret: HeldSecret): string {
  return secret.consumerId ?? secret.name;
}

class KeyIdentity implements Identity {
  readonly method: string;
  readonly #secret: HeldSecret;

  constructor(method: string, secret: HeldSecret) {
    this.method = method;
    this.#secret = secret;
    Object.freeze(this);
  }

  get secret(): HeldSecret {
    return this.#secret;
  }

  get consumerId(): string {
    return consumerIdOf(this.#secret);
  }

  get username(): string | undefined {
    return this.#secret.username;
  }

  get customId(): string | undefined {
    return this.#secret.customId;
  }

  get credential(): string {
    return this.#secret.credentialId ?? `${this.#secret.namespace}/${this.#secret.name}`;
  }

  get groups(): readonly string[] {
    return this.#secret.groups;
  }

  get anonymous(): false {
    return false;
  }

  get claims(): Readonly<Record<string, unknown>> {
    return NO_CLAIMS;
  }

  get headers(): readonly HeaderPair[] {
    return NO_HEADERS;
  }
}

class ApiKeyAuthenticator implements Authenticator {
  readonly type = 'apiKey' as const;
  readonly challenge = 'Key';
  readonly headerNames: readonly string[] = [];
  readonly name: string;
  readonly keyCount: number;
  readonly #locations: readonly Location[];
  readonly #hide: boolean;
  readonly #table: Map<string, HeldSecret | KeyIdentity>;

  constructor(name: string, locations: readonly Location[], hideCredentials: boolean, table: Map<string, HeldSecret | KeyIdentity>) {
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
    const digest = hash('sha256', found.value, 'binary');
    const held = this.#table.get(digest);
    if (held === undefined) return KEY_UNKNOWN;
    const identity = held instanceof KeyIdentity ? held : this.#identify(held);
    if (!this.#hide) return { kind: 'success', identity };
    return { kind: 'success', identity, ...hide(found) };
  }

  /** The Secret's identity, made on its first Check and put in its place under each of its keys. */
  #identify(secret: HeldSecret): KeyIdentity {
    const identity = new KeyIdentity(this.name, secret);
    const digests = secret.digests ?? '';
    for (let at = 0; at < digests.length; at += DIGEST_LENGTH) {
      const digest = digests.length === DIGEST_LENGTH ? digests : digests.slice(at, at + DIGEST_LENGTH);
      // A key another Secret holds too stays with that one (addSecret warned about it).
      if (this.#table.get(digest) === secret) this.#table.set(digest, identity);
    }
    return identity;
  }
}

// Failures carry nothing about the request, so they are made once: an Error captures a stack trace,
// which would otherwise be the most expensive part of refusing a key.
const KEY_CHALLENGE = Object.freeze({ scheme: 'Key' });
const KEY_UNKNOWN = failure('key_unknown', 'no consumer holds the presented key');
const KEY_MALFORMED = failure('key_malformed', 'presented key is longer than any valid key');

function failure(code: 'key_unknown' | 'key_malformed', detail: string): AuthnResult {
  return Object.freeze({ kind: 'failure', error: new GatehouseError(code, detail, { challenge: KEY_CHALLENGE }) });
}
