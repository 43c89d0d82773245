// Remote JWK Sets (a `jwksUri`, or the `jwks_uri` of an OpenID issuer), fetched off the request path
// and refreshed in the background on Cache-Control (bounded), and at once, rate-limited, when a token
// names a `kid` the set lacks. The last good set keeps serving while the IdP is unreachable.
import { performance } from 'node:perf_hooks';
import { silentLogger, type Logger } from '../../telemetry/log.js';
import { importJwk, KeySet, type Selection, type VerifyKey } from './keys.js';

export interface JwksOptions {
  /** One fetch (discovery or JWKS) may take this long. */
  readonly fetchTimeoutMs: number;
  /** Bounds on the refresh interval a `Cache-Control: max-age` asks for. */
  readonly minRefreshMs: number;
  readonly maxRefreshMs: number;
  /** Refresh interval when the IdP sends no max-age. */
  readonly defaultRefreshMs: number;
  /** At most one refetch per this interval for tokens naming an unknown kid. */
  readonly unknownKidCooldownMs: number;
  /** How long a request may wait for a fetch already under way (cold start, rotation). */
  readonly waitMs: number;
  readonly maxBytes: number;
  /** Background refreshes stop after this long without a token; the next token restarts them. */
  readonly idleStopMs: number;
  /** Never fetch (validation, CLI): every remote set answers `unavailable`. */
  readonly offline: boolean;
  readonly logger: Logger;
  readonly fetch: typeof fetch;
}

const DEFAULT_JWKS_OPTIONS: JwksOptions = Object.freeze({
  fetchTimeoutMs: 5000,
  minRefreshMs: 60_000,
  maxRefreshMs: 86_400_000,
  defaultRefreshMs: 300_000,
  unknownKidCooldownMs: 10_000,
  waitMs: 1000,
  maxBytes: 1 << 20,
  idleStopMs: 86_400_000,
  offline: false,
  logger: silentLogger,
  fetch: (input: string | URL | Request, init?: RequestInit) => fetch(input, init),
});

export type RemoteSource =
  | { readonly kind: 'jwks'; readonly uri: string }
  | { readonly kind: 'discovery'; readonly issuer: string };

function sourceLabel(s: RemoteSource): string {
  switch (s.kind) {
    case 'jwks':
      return s.uri;
    case 'discovery':
      return `${s.issuer} (discovery)`;
    default: {
      const never: never = s;
      throw new Error(`unknown source ${JSON.stringify(never)}`);
    }
  }
}

export class RemoteKeys {
  readonly source: RemoteSource;
  readonly label: string;
  readonly #o: JwksOptions;
  readonly #abort = new AbortController();
  #set: KeySet | undefined;
  #inflight: Promise<void> | undefined;
  #lastStart = Number.NEGATIVE_INFINITY;
  #lastUsed = performance.now();
  #failures = 0;
  #timer: NodeJS.Timeout | undefined;
  #jwksUri: string | undefined;
  #discoveredAt = Number.NEGATIVE_INFINITY;
  #lastError: string | undefined;
  #fetches = 0;

  constructor(source: RemoteSource, options: JwksOptions) {
    this.source = source;
    this.label = sourceLabel(source);
    this.#o = options;
    if (source.kind === 'jwks') this.#jwksUri = source.uri;
  }

  /** The last good set, undefined until the first successful fetch. */
  get keys(): KeySet | undefined {
    return this.#set;
  }

  get lastError(): string | undefined {
    return this.#lastError;
  }

  /** JWKS documents fetched (successfully or not), for observing the rate limit. */
  get fetches(): number {
    return this.#fetches;
  }

  trusts(id: string): boolean {
    return this.#set?.has(id) ?? false;
  }

  /** Starts fetching (if it is not already) without waiting. */
  start(): void {
    this.#lastUsed = performance.now();
    if (this.#timer === undefined && this.#inflight === undefined && this.#mayFetch()) void this.refresh();
  }

  /** Synchronous when the set answers; a promise only while waiting for a fetch under way. */
  select(alg: string, kid: string | undefined): Selection | Promise<Selection> {
    this.start();
    const set = this.#set;
    if (set === undefined) return this.#afterFetch(alg, kid);
    const r = set.select(alg, kid);
    if (r.kind === 'keys') return r;
    // A kid (or key type) the set lacks: the IdP may have rotated. Refetch, at most once per cooldown.
    if (this.#inflight !== undefined || this.#mayFetch()) return this.#afterFetch(alg, kid);
    return r;
  }

  async #afterFetch(alg: string, kid: string | undefined): Promise<Selection> {
    const pending = this.#inflight ?? (this.#mayFetch() ? this.refresh() : undefined);
    if (pending !== undefined) await bounded(pending, this.#o.waitMs);
    const set = this.#set;
    if (set === undefined) return { kind: 'unavailable', reason: `JWKS ${this.label}: ${this.#lastError ?? 'not fetched yet'}` };
    return set.select(alg, kid);
  }

  #mayFetch(): boolean {
    return !this.#o.offline && !this.#abort.signal.aborted && performance.now() - this.#lastStart >= this.#o.unknownKidCooldownMs;
  }

  /** One fetch at a time; never rejects (failures keep the last good set and schedule a retry). */
  refresh(): Promise<void> {
    if (this.#inflight !== undefined) return this.#inflight;
    if (this.#o.offline || this.#abort.signal.aborted) return Promise.resolve();
    this.#lastStart = performance.now();
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#inflight = this.#fetchSet()
      .then(({ set, refreshMs }) => {
        const rotated = this.#set === undefined || set.keys.some((k) => !this.#set?.has(k.id));
        this.#set = set;
        this.#failures = 0;
        this.#lastError = undefined;
        if (rotated) this.#o.logger.info('jwks keys loaded', { jwks: this.label, keys: set.size });
        this.#schedule(refreshMs);
      })
      .catch((e: unknown) => {
        this.#failures++;
        this.#lastError = e instanceof Error ? e.message : String(e);
        this.#o.logger.warn('jwks fetch failed', { jwks: this.label, error: this.#lastError, keeping: this.#set?.size ?? 0 });
        this.#schedule(Math.min(this.#o.minRefreshMs, 500 * 2 ** Math.min(this.#failures, 16)));
      })
      .finally(() => {
        this.#inflight = undefined;
      });
    return this.#inflight;
  }

  #schedule(ms: number): void {
    if (this.#abort.signal.aborted) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (performance.now() - this.#lastUsed > this.#o.idleStopMs) return;
      void this.refresh();
    }, ms);
    this.#timer.unref();
  }

  close(): void {
    this.#abort.abort();
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  async #fetchSet(): Promise<{ set: KeySet; refreshMs: number }> {
    const uri = await this.#resolveUri();
    this.#fetches++;
    const { json, maxAgeMs } = await this.#getJson(uri);
    const raw = (json as { keys?: unknown }).keys;
    if (!Array.isArray(raw)) throw new Error('JWKS has no keys array');
    const keys: VerifyKey[] = [];
    const skipped: string[] = [];
    raw.forEach((jwk: unknown, i) => {
      const k = importJwk(jwk, false);
      if (typeof k === 'string') skipped.push(`keys[${i}]: ${k}`);
      else keys.push(k);
    });
    if (skipped.length > 0) this.#o.logger.warn('jwks keys skipped', { jwks: this.label, skipped });
    if (keys.length === 0) throw new Error('JWKS holds no usable signature key');
    const o = this.#o;
    const refreshMs = Math.min(o.maxRefreshMs, Math.max(o.minRefreshMs, maxAgeMs ?? o.defaultRefreshMs));
    return { set: new KeySet(keys), refreshMs };
  }

  /** Discovery is redone when it is older than the longest refresh, or after a failure. */
  async #resolveUri(): Promise<string> {
    const s = this.source;
    if (s.kind === 'jwks') return s.uri;
    const fresh = performance.now() - this.#discoveredAt < this.#o.maxRefreshMs && this.#failures === 0;
    if (this.#jwksUri !== undefined && fresh) return this.#jwksUri;
    const url = `${s.issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
    const { json } = await this.#getJson(url);
    const doc = json as { issuer?: unknown; jwks_uri?: unknown };
    if (doc.issuer !== s.issuer) throw new Error(`discovery document names issuer ${JSON.stringify(doc.issuer)}, not ${s.issuer}`);
    if (typeof doc.jwks_uri !== 'string' || !/^https?:\/\//.test(doc.jwks_uri)) throw new Error('discovery document has no http(s) jwks_uri');
    this.#jwksUri = doc.jwks_uri;
    this.#discoveredAt = performance.now();
    return doc.jwks_uri;
  }

  async #getJson(url: string): Promise<{ json: object; maxAgeMs: number | undefined }> {
    const signal = AbortSignal.any([AbortSignal.timeout(this.#o.fetchTimeoutMs), this.#abort.signal]);
    const res = await this.#o.fetch(url, { signal, headers: { accept: 'application/jwk-set+json, application/json' } });
    if (res.status !== 200) {
      await res.body?.cancel();
      throw new Error(`GET ${url} answered HTTP ${res.status}`);
    }
    const text = await readBounded(res, this.#o.maxBytes);
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new Error(`GET ${url} did not return JSON`);
    }
    if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error(`GET ${url} did not return a JSON object`);
    return { json, maxAgeMs: maxAge(res.headers.get('cache-control')) };
  }
}

/** `max-age` in ms; `no-cache`/`no-store` as 0 (the lower bound then applies); undefined when absent. */
export function maxAge(header: string | null): number | undefined {
  if (header === null) return undefined;
  const h = header.toLowerCase();
  if (/(^|[\s,])(no-store|no-cache)([\s,=]|$)/.test(h)) return 0;
  const m = /(?:^|[\s,])max-age\s*=\s*"?([0-9]{1,10})"?/.exec(h);
  return m === null ? undefined : Number(m[1]) * 1000;
}

async function readBounded(res: Response, max: number): Promise<string> {
  const declared = Number(res.headers.get('content-length') ?? Number.NaN);
  if (declared > max) {
    await res.body?.cancel();
    throw new Error(`response of ${declared} bytes exceeds ${max}`);
  }
  if (res.body === null) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > max) {
      await reader.cancel();
      throw new Error(`response exceeds ${max} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Waits for `p` at most `ms`; never rejects. */
function bounded(p: Promise<void>, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    timer.unref();
    void p.finally(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** One cache per source, shared by every policy naming it, so recompiles keep their keys. */
export class JwksRegistry {
  readonly options: JwksOptions;
  readonly #caches = new Map<string, RemoteKeys>();

  constructor(options: Partial<JwksOptions> = {}) {
    this.options = Object.freeze({ ...DEFAULT_JWKS_OPTIONS, ...options });
  }

  get(source: RemoteSource): RemoteKeys {
    const key = `${source.kind}:${source.kind === 'jwks' ? source.uri : source.issuer}`;
    let cache = this.#caches.get(key);
    if (cache === undefined) {
      cache = new RemoteKeys(source, this.options);
      this.#caches.set(key, cache);
    }
    cache.start();
    return cache;
  }

  close(): void {
    for (const c of this.#caches.values()) c.close();
    this.#caches.clear();
  }
}
