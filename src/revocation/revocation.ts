// Revoked tokens and sessions: a denylist of ids (`jti`, a cookie session's sid), and "everything of
// this consumer issued before T". Scoped (JWT: the issuer, or policy/method; cookie sessions:
// `session:<policy>`) so that one tenant's ids never touch another's. One interface, kept in memory
// (one process, bounded) or in Redis (every replica, and the CLI).
import { GatehouseError } from '../core/errors.js';
import { silentLogger, type Logger } from '../telemetry/log.js';

export interface RevocationQuery {
  readonly scope: string;
  readonly jti: string | undefined;
  readonly consumer: string;
  /** Issue time in ms; undefined when the token has none (it then falls under any watermark). */
  readonly issuedAt: number | undefined;
}

/** A revocation that may be held as something wider (a watermark) when the list cannot hold it alone. */
export interface WidenableRevocation {
  readonly scope: string;
  readonly jti: string;
  readonly consumer: string;
  /** When the revoked token was issued (ms): a watermark covers it and what was issued before it. */
  readonly issuedAt: number;
  /** Until the token expires anyway. */
  readonly ttlMs: number;
  /** The longest a token of this scope lives after `issuedAt`: how long a watermark must be kept. */
  readonly maxLifetimeMs: number;
}

/** How a widenable revocation was held: alone, or as a consumer's or the whole scope's watermark. */
export type RevocationHeld = 'token' | 'consumer' | 'scope';

export interface RevocationList {
  readonly kind: 'memory' | 'redis';
  /** Synchronous when answered from memory; rejects with `revocation_unavailable` when it cannot answer. */
  isRevoked(q: RevocationQuery): boolean | Promise<boolean>;
  /** Denies the token `jti` for `ttlMs` (until it has expired anyway); rejects when it cannot be held. */
  revokeToken(scope: string, jti: string, ttlMs: number): Promise<void>;
  /**
   * Denies the consumer's tokens issued before `beforeMs` (to the second: a token issued in the same
   * second survives, so a token minted right after the revocation works). A later call can only move
   * `before` forward. `ttlMs` undefined keeps it until removed.
   */
  revokeConsumer(scope: string, consumer: string, beforeMs: number, ttlMs: number | undefined): Promise<void>;
  /**
   * Denies one token (a session logout) like revokeToken; a list that is full holds a wider watermark
   * instead: the consumer's tokens issued at or before `issuedAt` (to the ms), else the scope's. Never
   * forgets: rejects only when nothing could be written.
   */
  revokeOrWiden(r: WidenableRevocation): Promise<RevocationHeld>;
  /** Resolves once it can answer (a Redis connection is ready). */
  ready(timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}

/** Whether a token issued at `issuedAt` falls under a watermark: issued strictly before `before`. */
export function revokedBefore(before: number | undefined, issuedAt: number | undefined): boolean {
  if (before === undefined) return false;
  return issuedAt === undefined || issuedAt < before;
}

/** revokeConsumer's watermark: the start of the second of `beforeMs` (JWT `iat` has whole seconds). */
export function consumerWatermark(beforeMs: number): number {
  return Math.floor(beforeMs / 1000) * 1000;
}

/** The watermark that covers a widened revocation's token and everything issued before it. */
function widenedWatermark(r: WidenableRevocation): number {
  return Math.floor(r.issuedAt) + 1;
}

export function checkRevocationArgs(scope: string, id: string, ttlMs: number | undefined): void {
  if (scope === '' || id === '') throw new Error('revocation needs a scope and an id');
  if (ttlMs !== undefined && (!Number.isFinite(ttlMs) || ttlMs <= 0)) throw new Error('revocation ttl must be a positive number of ms');
}

export function checkWidenableArgs(r: WidenableRevocation): void {
  checkRevocationArgs(r.scope, r.jti, r.ttlMs);
  checkRevocationArgs(r.scope, r.consumer, r.maxLifetimeMs);
  if (!Number.isFinite(r.issuedAt)) throw new Error('revocation issuedAt must be a time in ms');
}

export interface MemoryRevocationOptions {
  readonly clock?: (() => number) | undefined;
  /** Most live token revocations held one by one. Default 100,000. */
  readonly maxTokens?: number | undefined;
  /** Most live per-consumer watermarks. Default 10,000. */
  readonly maxConsumers?: number | undefined;
  /** Told each time a widenable revocation is held as a watermark (a metric). */
  readonly onWidened?: ((to: Exclude<RevocationHeld, 'token'>) => void) | undefined;
  /** Warned (at most once a minute) while revocations are being widened. */
  readonly logger?: Logger | undefined;
}

export interface RevocationCounts {
  readonly tokens: number;
  readonly consumers: number;
  readonly scopes: number;
}

const WARN_EVERY_MS = 60_000;

/**
 * One process's list, in bounded memory. Entries leave only when what they revoke has expired; a
 * full list refuses new entries (revokeToken, revokeConsumer reject with `revocation_full`) or widens
 * them (revokeOrWiden): never is a live entry evicted.
 */
export class MemoryRevocationList implements RevocationList {
  readonly kind = 'memory' as const;
  readonly #clock: () => number;
  readonly #tokens: ExpiringMap<true>;
  readonly #consumers: ExpiringMap<number>;
  // One per scope that had to widen that far (a session policy): bounded by the policies configured.
  readonly #scopes = new ExpiringMap<number>(Number.POSITIVE_INFINITY);
  readonly #onWidened: MemoryRevocationOptions['onWidened'];
  readonly #logger: Logger;
  #unreported = 0;
  #warnedAt = Number.NEGATIVE_INFINITY;

  constructor(options: MemoryRevocationOptions = {}) {
    this.#clock = options.clock ?? Date.now;
    this.#tokens = new ExpiringMap(positive(options.maxTokens ?? 100_000, 'maxTokens'));
    this.#consumers = new ExpiringMap(positive(options.maxConsumers ?? 10_000, 'maxConsumers'));
    this.#onWidened = options.onWidened;
    this.#logger = options.logger ?? silentLogger;
  }

  isRevoked(q: RevocationQuery): boolean {
    const now = this.#clock();
    // Nothing revoked, the usual case: no key is built.
    if (q.jti !== undefined && this.#tokens.size > 0 && this.#tokens.get(key(q.scope, q.jti), now) !== undefined) return true;
    if (this.#consumers.size > 0 && revokedBefore(this.#consumers.get(key(q.scope, q.consumer), now)?.value, q.issuedAt)) return true;
    return this.#scopes.size > 0 && revokedBefore(this.#scopes.get(q.scope, now)?.value, q.issuedAt);
  }

  async revokeToken(scope: string, jti: string, ttlMs: number): Promise<void> {
    checkRevocationArgs(scope, jti, ttlMs);
    if (!this.#holdToken(key(scope, jti), this.#clock() + ttlMs)) throw full('tokens', this.#tokens.max);
  }

  async revokeConsumer(scope: string, consumer: string, beforeMs: number, ttlMs: number | undefined): Promise<void> {
    checkRevocationArgs(scope, consumer, ttlMs);
    const until = ttlMs === undefined ? Number.POSITIVE_INFINITY : this.#clock() + ttlMs;
    if (!this.#holdWatermark(this.#consumers, key(scope, consumer), consumerWatermark(beforeMs), until)) throw full('consumer watermarks', this.#consumers.max);
  }

  async revokeOrWiden(r: WidenableRevocation): Promise<RevocationHeld> {
    checkWidenableArgs(r);
    const now = this.#clock();
    if (this.#holdToken(key(r.scope, r.jti), now + r.ttlMs)) return 'token';
    // Every token the watermark covers was issued by `issuedAt`, so has expired by `issuedAt + maxLifetimeMs`.
    const until = Math.max(now + r.ttlMs, r.issuedAt + r.maxLifetimeMs);
    const before = widenedWatermark(r);
    const to = this.#holdWatermark(this.#consumers, key(r.scope, r.consumer), before, until) ? 'consumer' : 'scope';
    if (to === 'scope') this.#holdWatermark(this.#scopes, r.scope, before, until);
    this.#widened(to, r.scope, now);
    return to;
  }

  /** Live entries now (expired ones are dropped first). */
  counts(): RevocationCounts {
    const now = this.#clock();
    for (const m of [this.#tokens, this.#consumers, this.#scopes] as ExpiringMap<unknown>[]) m.prune(now);
    return { tokens: this.#tokens.size, consumers: this.#consumers.size, scopes: this.#scopes.size };
  }

  async ready(): Promise<void> {}

  async close(): Promise<void> {
    this.#tokens.clear();
    this.#consumers.clear();
    this.#scopes.clear();
  }

  /** Sets or extends a token entry; false when a new one finds no room. */
  #holdToken(k: string, until: number): boolean {
    const now = this.#clock();
    return this.#tokens.set(k, true, Math.max(until, this.#tokens.get(k, now)?.expiresAt ?? 0), now);
  }

  /** Sets or raises a watermark (`before` and expiry only move forward); false when a new one finds no room. */
  #holdWatermark(map: ExpiringMap<number>, k: string, before: number, until: number): boolean {
    const now = this.#clock();
    const prev = map.get(k, now);
    return map.set(k, Math.max(before, prev?.value ?? before), Math.max(until, prev?.expiresAt ?? 0), now);
  }

  #widened(to: Exclude<RevocationHeld, 'token'>, scope: string, now: number): void {
    this.#onWidened?.(to);
    this.#unreported++;
    if (now - this.#warnedAt < WARN_EVERY_MS) return;
    this.#warnedAt = now;
    // The scope names a policy or issuer; no token or session id, no consumer is logged.
    this.#logger.warn('revocation list full: logouts held as wider watermarks (other sessions are ended too)', {
      widenedTo: to,
      scope,
      widened: this.#unreported,
      maxTokens: this.#tokens.max,
      maxConsumers: this.#consumers.max,
    });
    this.#unreported = 0;
  }
}

function full(what: string, max: number): GatehouseError {
  return new GatehouseError('revocation_full', `the in-memory revocation list holds its maximum of ${max} live ${what}; use Redis (--redis-url)`);
}

function positive(n: number, field: string): number {
  if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`${field} must be a positive whole number`);
  return n;
}

function key(scope: string, id: string): string {
  return `${scope}\u0000${id}`;
}

interface Held<T> {
  readonly value: T;
  readonly expiresAt: number;
}

interface Due {
  readonly key: string;
  readonly expiresAt: number;
}

/**
 * A Map of at most `max` live entries, each with an expiry. Expired entries leave in expiry order (a
 * binary min-heap beside the Map), so keeping it bounded costs O(log n) per write, never a full scan.
 */
class ExpiringMap<T> {
  readonly max: number;
  readonly #entries = new Map<string, Held<T>>();
  #heap: Due[] = [];

  constructor(max: number) {
    this.max = max;
  }

  get size(): number {
    return this.#entries.size;
  }

  get(k: string, now: number): Held<T> | undefined {
    const h = this.#entries.get(k);
    return h === undefined || h.expiresAt <= now ? undefined : h;
  }

  /** Stores the entry; false (and nothing stored) when the key is new and `max` live entries fill it. */
  set(k: string, value: T, expiresAt: number, now: number): boolean {
    this.prune(now);
    const prev = this.#entries.get(k);
    if (prev === undefined && this.#entries.size >= this.max) return false;
    this.#entries.set(k, { value, expiresAt });
    if (prev?.expiresAt !== expiresAt) this.#push({ key: k, expiresAt });
    // Raised expiries leave stale heap nodes behind; rebuild before they outnumber the entries.
    if (this.#heap.length > 2 * this.#entries.size + 64) {
      this.#heap = [...this.#entries].map(([key, h]) => ({ key, expiresAt: h.expiresAt })).sort(byExpiry);
    }
    return true;
  }

  prune(now: number): void {
    const heap = this.#heap;
    while (heap.length > 0 && (heap[0] as Due).expiresAt <= now) {
      const due = this.#pop();
      // A stale node (the entry's expiry was raised since) leaves the entry alone.
      if (this.#entries.get(due.key)?.expiresAt === due.expiresAt) this.#entries.delete(due.key);
    }
  }

  clear(): void {
    this.#entries.clear();
    this.#heap = [];
  }

  #push(d: Due): void {
    const heap = this.#heap;
    let i = heap.push(d) - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (byExpiry(heap[parent] as Due, d) <= 0) break;
      heap[i] = heap[parent] as Due;
      i = parent;
    }
    heap[i] = d;
  }

  #pop(): Due {
    const heap = this.#heap;
    const top = heap[0] as Due;
    const last = heap.pop() as Due;
    if (heap.length === 0) return top;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= heap.length) break;
      const r = l + 1;
      const child = r < heap.length && byExpiry(heap[r] as Due, heap[l] as Due) < 0 ? r : l;
      if (byExpiry(heap[child] as Due, last) >= 0) break;
      heap[i] = heap[child] as Due;
      i = child;
    }
    heap[i] = last;
    return top;
  }
}

/** Orders by expiry; Infinity (kept until removed) sorts last without NaN. */
function byExpiry(a: Due, b: Due): number {
  return a.expiresAt < b.expiresAt ? -1 : a.expiresAt > b.expiresAt ? 1 : 0;
}

/** The list cannot answer (Redis down): the request waits for nothing and is refused with 503. */
export function revocationUnavailable(detail: string, cause?: unknown): GatehouseError {
  return new GatehouseError('revocation_unavailable', detail, { cause });
}
