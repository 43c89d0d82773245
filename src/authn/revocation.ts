// Revoked JWTs: a denylist of `jti`s, and "every token of this consumer issued before T". Scoped (by
// issuer, or policy and method) so that one tenant's ids never touch another's. One interface, kept
// in memory (one process) or in Redis (every replica, and the CLI).

export interface RevocationQuery {
  readonly scope: string;
  readonly jti: string | undefined;
  readonly consumer: string;
  /** `iat` in ms; undefined when the token has none (it then falls under any consumer revocation). */
  readonly issuedAt: number | undefined;
}

export interface RevocationList {
  readonly kind: 'memory' | 'redis';
  /** Synchronous when answered from memory; rejects with `revocation_unavailable` when it cannot answer. */
  isRevoked(q: RevocationQuery): boolean | Promise<boolean>;
  /** Denies the token `jti` for `ttlMs` (until it has expired anyway). */
  revokeToken(scope: string, jti: string, ttlMs: number): Promise<void>;
  /**
   * Denies the consumer's tokens issued before `beforeMs` (to the second: a token issued in the same
   * second survives, so a token minted right after the revocation works). A later call can only move
   * `before` forward. `ttlMs` undefined keeps it until removed.
   */
  revokeConsumer(scope: string, consumer: string, beforeMs: number, ttlMs: number | undefined): Promise<void>;
  /** Resolves once it can answer (a Redis connection is ready). */
  ready(timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}

export function revokedBefore(before: number | undefined, issuedAt: number | undefined): boolean {
  if (before === undefined) return false;
  return issuedAt === undefined || issuedAt < Math.floor(before / 1000) * 1000;
}

export function checkRevocationArgs(scope: string, id: string, ttlMs: number | undefined): void {
  if (scope === '' || id === '') throw new Error('revocation needs a scope and an id');
  if (ttlMs !== undefined && (!Number.isFinite(ttlMs) || ttlMs <= 0)) throw new Error('revocation ttl must be a positive number of ms');
}

interface Held<T> {
  readonly value: T;
  readonly expiresAt: number;
}

export class MemoryRevocationList implements RevocationList {
  readonly kind = 'memory' as const;
  readonly #clock: () => number;
  readonly #tokens = new Map<string, Held<true>>();
  readonly #consumers = new Map<string, Held<number>>();
  #sweepAt = 1024;

  constructor(clock: () => number = Date.now) {
    this.#clock = clock;
  }

  isRevoked(q: RevocationQuery): boolean {
    const now = this.#clock();
    if (q.jti !== undefined && live(this.#tokens.get(key(q.scope, q.jti)), now) !== undefined) return true;
    return revokedBefore(live(this.#consumers.get(key(q.scope, q.consumer)), now), q.issuedAt);
  }

  async revokeToken(scope: string, jti: string, ttlMs: number): Promise<void> {
    checkRevocationArgs(scope, jti, ttlMs);
    const now = this.#clock();
    const k = key(scope, jti);
    const prev = this.#tokens.get(k);
    this.#tokens.set(k, { value: true, expiresAt: Math.max(now + ttlMs, prev?.expiresAt ?? 0) });
    this.#sweep(now);
  }

  async revokeConsumer(scope: string, consumer: string, beforeMs: number, ttlMs: number | undefined): Promise<void> {
    checkRevocationArgs(scope, consumer, ttlMs);
    const now = this.#clock();
    const k = key(scope, consumer);
    const prev = live(this.#consumers.get(k), now);
    const prevHeld = this.#consumers.get(k);
    const expiresAt = ttlMs === undefined ? Number.POSITIVE_INFINITY : Math.max(now + ttlMs, prevHeld?.expiresAt ?? 0);
    this.#consumers.set(k, { value: Math.max(beforeMs, prev ?? 0), expiresAt });
    this.#sweep(now);
  }

  async ready(): Promise<void> {}

  async close(): Promise<void> {
    this.#tokens.clear();
    this.#consumers.clear();
  }

  /** Drops expired entries once the maps have doubled since the last sweep. */
  #sweep(now: number): void {
    if (this.#tokens.size + this.#consumers.size < this.#sweepAt) return;
    for (const m of [this.#tokens, this.#consumers] as Map<string, Held<unknown>>[]) for (const [k, v] of m) if (v.expiresAt <= now) m.delete(k);
    this.#sweepAt = Math.max(1024, 2 * (this.#tokens.size + this.#consumers.size));
  }
}

function key(scope: string, id: string): string {
  return `${scope}\u0000${id}`;
}

function live<T>(h: Held<T> | undefined, now: number): T | undefined {
  return h === undefined || h.expiresAt <= now ? undefined : h.value;
}
