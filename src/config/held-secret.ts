// A Secret as the store holds it: only what compiled policies read. An `api_key` entry becomes its
// SHA-256 digests, computed once when the Secret arrives (never its key material, nor the base64 text
// it came as); the consumer fields are the five `gatehouse.dev/` annotations the apiKey method reads;
// other entries (JWT keys, session secrets) stay as bytes. At 100,000 key Secrets this is what keeps
// the store small: one object of five fields, a name and one digest string per Secret (where the
// Secret sits, its namespace, labels and origin, is one object shared by every Secret with the same
// three; what few Secrets have beyond the consumer id sits in one shared empty record).
import { hash } from 'node:crypto';
import type { SecretResource } from './resources.js';

/** Secret data key holding API keys, one per line, plain or `sha256:<64 hex>`. */
export const API_KEY_DATA = 'api_key';
export const MAX_KEY_BYTES = 4096;
const SHA256_PREFIX = 'sha256:';
/** Bytes of a SHA-256 digest: in `HeldSecret.digests`, one character per byte. */
export const DIGEST_LENGTH = 32;

export const CONSUMER_ANNOTATION = {
  consumerId: 'gatehouse.dev/consumer-id',
  username: 'gatehouse.dev/consumer-username',
  customId: 'gatehouse.dev/consumer-custom-id',
  groups: 'gatehouse.dev/groups',
  credentialId: 'gatehouse.dev/credential-id',
} as const;

const EMPTY_DATA: ReadonlyMap<string, Buffer> = Object.freeze(new Map<string, Buffer>());
const NO_LINES: readonly number[] = Object.freeze([]);

/** What few Secrets have: kept out of line so that a plain key Secret does not pay a field for each. */
interface Rare {
  readonly username: string | undefined;
  readonly customId: string | undefined;
  readonly groups: readonly string[];
  readonly credentialId: string | undefined;
  /** Positions (0-based, among non-blank lines) of the `api_key` lines that are not valid keys. */
  readonly invalidLines: readonly number[];
  /** Entries other than `api_key` (and `api_key` too when there are others: a Secret read by name). */
  readonly data: ReadonlyMap<string, Buffer>;
}

// One frozen empty list for every consumer without groups: 100,000 keys need not hold 100,000 of them.
const NO_GROUPS: readonly string[] = Object.freeze([]);

const NOTHING_RARE: Rare = Object.freeze({ username: undefined, customId: undefined, groups: NO_GROUPS, credentialId: undefined, invalidLines: NO_LINES, data: EMPTY_DATA });

/** Where a Secret sits: one object shared by the held Secrets of one namespace, label set and origin. */
export interface Placement {
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly origin: string;
}

export class HeldSecret {
  readonly #place: Placement;
  readonly name: string;
  /**
   * The SHA-256 digests of the valid lines of `api_key`, in order, each DIGEST_LENGTH latin1
   * characters, concatenated; undefined when there is no `api_key` entry or an empty one.
   */
  readonly digests: string | undefined;
  /** The consumer annotations trimmed, undefined when absent or blank (so are the getters below). */
  readonly consumerId: string | undefined;
  readonly #rare: Rare;

  /** `place` defaults to the Secret's own namespace, labels and origin, shared with no other. */
  constructor(secret: SecretResource, place: Placement = { namespace: secret.namespace, labels: secret.labels, origin: secret.origin }) {
    this.#place = place;
    this.name = secret.name;
    const raw = secret.data.get(API_KEY_DATA);
    const keys = raw === undefined || raw.length === 0 ? undefined : heldKeys(raw);
    this.digests = keys?.digests;
    const a = secret.annotations;
    const consumerId = clean(a[CONSUMER_ANNOTATION.consumerId]);
    // A consumer often has its Secret's name: one string for both.
    this.consumerId = consumerId === secret.name ? secret.name : consumerId;
    const rare: Rare = {
      username: clean(a[CONSUMER_ANNOTATION.username]),
      customId: clean(a[CONSUMER_ANNOTATION.customId]),
      groups: splitList(a[CONSUMER_ANNOTATION.groups]),
      credentialId: clean(a[CONSUMER_ANNOTATION.credentialId]),
      invalidLines: keys?.invalid ?? NO_LINES,
      data: secret.data.size === 0 || (secret.data.size === 1 && raw !== undefined) ? EMPTY_DATA : secret.data,
    };
    this.#rare = RARE_FIELDS.every((f) => rare[f] === NOTHING_RARE[f]) ? NOTHING_RARE : Object.freeze(rare);
  }

  get namespace(): string {
    return this.#place.namespace;
  }

  /** Shared by every held Secret with the same labels in the index (frozen). */
  get labels(): Readonly<Record<string, string>> {
    return this.#place.labels;
  }

  get origin(): string {
    return this.#place.origin;
  }

  get username(): string | undefined {
    return this.#rare.username;
  }

  get customId(): string | undefined {
    return this.#rare.customId;
  }

  /** The `gatehouse.dev/groups` annotation's comma-separated names, frozen. */
  get groups(): readonly string[] {
    return this.#rare.groups;
  }

  get credentialId(): string | undefined {
    return this.#rare.credentialId;
  }

  get invalidLines(): readonly number[] {
    return this.#rare.invalidLines;
  }

  get data(): ReadonlyMap<string, Buffer> {
    return this.#rare.data;
  }

  /** Whether this holds exactly what `other` does (a re-read that changed nothing). */
  same(other: HeldSecret): boolean {
    if (this.origin !== other.origin || !sameLabels(this.labels, other.labels)) return false;
    if (this.digests !== other.digests || this.consumerId !== other.consumerId) return false;
    const [a, b] = [this.#rare, other.#rare];
    if (!RARE_FIELDS.every((f) => f === 'data' || f === 'invalidLines' || f === 'groups' || a[f] === b[f])) return false;
    if (a.groups.join() !== b.groups.join() || a.invalidLines.join() !== b.invalidLines.join() || a.data.size !== b.data.size) return false;
    for (const [k, v] of a.data) {
      const w = b.data.get(k);
      if (w === undefined || !w.equals(v)) return false;
    }
    return true;
  }
}

const RARE_FIELDS = Object.keys(NOTHING_RARE) as Array<keyof Rare>;

interface HeldKeys {
  readonly digests: string;
  readonly invalid: readonly number[];
}

function heldKeys(raw: Buffer): HeldKeys {
  const lines = raw.toString('utf8').split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '');
  let digests = '';
  let invalid: number[] | undefined;
  lines.forEach((line, i) => {
    const digest = digestOf(line);
    if (digest === undefined) (invalid ??= []).push(i);
    else digests += digest;
  });
  // One flat string: a rope of concatenations would hold a node per key.
  return { digests: lines.length > 1 ? flat(digests) : digests, invalid: invalid === undefined ? NO_LINES : Object.freeze(invalid) };
}

/** A line's digest as a latin1 string (the key of the compiled tables), or undefined if not a valid key. */
function digestOf(line: string): string | undefined {
  if (line.startsWith(SHA256_PREFIX)) {
    const hex = line.slice(SHA256_PREFIX.length);
    return /^[0-9a-fA-F]{64}$/.test(hex) ? Buffer.from(hex, 'hex').toString('latin1') : undefined;
  }
  if (Buffer.byteLength(line) > MAX_KEY_BYTES) return undefined;
  return hash('sha256', line, 'binary');
}

function flat(s: string): string {
  return Buffer.from(s, 'latin1').toString('latin1');
}

function clean(v: string | undefined): string | undefined {
  const t = v?.trim();
  return t === undefined || t === '' ? undefined : t;
}

function splitList(v: string | undefined): readonly string[] {
  const list = v?.split(',').map((s) => s.trim()).filter((s) => s !== '') ?? [];
  return list.length === 0 ? NO_GROUPS : Object.freeze(list);
}

function sameLabels(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  if (a === b) return true;
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => Object.hasOwn(b, k) && a[k] === b[k]);
}

/** The pairs in key order, as JSON: the key under which equal label sets are shared. */
export function labelsKey(labels: Readonly<Record<string, string>>): string {
  return JSON.stringify(Object.entries(labels).sort((a, b) => (a[0] < b[0] ? -1 : 1)));
}
