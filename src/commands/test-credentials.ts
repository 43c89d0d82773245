// Credentials in test requests: a value may be written out, read from a Secret of the policy files
// (`{secret: shop/partner-acme, key: api_key}`), or minted with a policy's jwt method as
// `gatehouse token mint` would (`{jwt: {policy, method, consumer, ...}}`). Resolved into a plain request.
import type { JwtAuthenticator } from '../authn/jwt/authenticator.js';
import { MintError, mintToken } from '../authn/jwt/mint.js';
import type { JwtServices } from '../authn/jwt/services.js';
import { parseDuration } from '../core/duration.js';
import type { LoadedFiles } from '../sources/files.js';
import { isObject } from './test-file.js';
import { CommandError, jwtMethodIn } from './token-run.js';

type Problem = (field: string, message: string) => void;

const DEFAULT_TTL_MS = 300_000;
const SECRET_FIELDS = ['secret', 'key', 'prefix'];
const JWT_FIELDS = ['policy', 'method', 'consumer', 'username', 'customId', 'groups', 'claims', 'ttl', 'issuedAgo'];

export class Credentials {
  readonly #files: Pick<LoadedFiles, 'policies' | 'secrets'>;
  readonly #services: JwtServices;
  readonly #where: string;
  readonly #methods = new Map<string, JwtAuthenticator>();

  /** `where` names the policy files in messages. */
  constructor(files: Pick<LoadedFiles, 'policies' | 'secrets'>, services: JwtServices, where: string) {
    this.#files = files;
    this.#services = services;
    this.#where = where;
  }

  /**
   * The request with every credential reference replaced by its value, and `query` appended to the
   * path; or the problems, each naming its field under `at`.
   */
  async resolve(request: Readonly<Record<string, unknown>>, at: string): Promise<{ ok: true; request: Record<string, unknown> } | { ok: false; problems: string[] }> {
    const problems: string[] = [];
    const problem: Problem = (field, message) => void problems.push(`${at}.${field}: ${message}`);
    const out: Record<string, unknown> = { ...request };
    for (const part of ['headers', 'cookies', 'query'] as const) {
      const map = request[part];
      if (map === undefined) continue;
      if (!isObject(map)) {
        problem(part, 'must be a mapping of name to value');
        continue;
      }
      const resolved: Record<string, unknown> = {};
      for (const [name, raw] of Object.entries(map)) {
        const field = `${part}.${name}`;
        const list = Array.isArray(raw) && part === 'headers' ? raw : [raw];
        const values: unknown[] = [];
        for (const v of list) values.push(await this.#value(v, field, name.toLowerCase() === 'authorization', problem));
        resolved[name] = Array.isArray(raw) ? values : values[0];
      }
      out[part] = resolved;
    }
    const query = out.query;
    delete out.query;
    if (isObject(query)) {
      const path = typeof out.path === 'string' ? out.path : '/';
      const pairs = Object.entries(query).map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(typeof v === 'string' ? v : '')}`);
      if (pairs.length > 0) out.path = `${path}${path.includes('?') ? '&' : '?'}${pairs.join('&')}`;
    }
    return problems.length === 0 ? { ok: true, request: out } : { ok: false, problems };
  }

  async #value(v: unknown, field: string, authorization: boolean, problem: Problem): Promise<unknown> {
    if (!isObject(v)) return v;
    if ('secret' in v) return this.#fromSecret(v, field, problem);
    if ('jwt' in v) return this.#minted(v, field, authorization, problem);
    problem(field, 'a value, {secret: namespace/name, key}, or {jwt: {policy, method, consumer, ...}}');
    return '';
  }

  #fromSecret(v: Record<string, unknown>, field: string, problem: Problem): string {
    for (const k of Object.keys(v)) if (!SECRET_FIELDS.includes(k)) problem(`${field}.${k}`, `unknown field (one of ${SECRET_FIELDS.join(', ')})`);
    const id = v.secret;
    const key = v.key ?? 'api_key';
    const prefix = v.prefix ?? '';
    if (typeof id !== 'string' || !id.includes('/') || typeof key !== 'string' || typeof prefix !== 'string') {
      problem(field, 'secret must be namespace/name; key and prefix strings');
      return '';
    }
    const secret = this.#files.secrets.find((s) => `${s.namespace}/${s.name}` === id);
    const data = secret?.data.get(key);
    if (data === undefined) {
      problem(`${field}.secret`, `${secret === undefined ? `no Secret ${id}` : `Secret ${id} has no key ${key}`} in ${this.#where}`);
      return '';
    }
    // An API-key Secret holds one key per line: the first is the credential.
    const first = data.toString('utf8').split('\n').map((l) => l.trim()).find((l) => l !== '') ?? '';
    if (first.startsWith('sha256:')) {
      problem(`${field}.secret`, `Secret ${id} holds the key as a digest; write the key itself in the test`);
      return '';
    }
    return `${prefix}${first}`;
  }

  async #minted(v: Record<string, unknown>, field: string, authorization: boolean, problem: Problem): Promise<string> {
    const spec = v.jwt;
    const prefix = v.prefix ?? (authorization ? 'Bearer ' : '');
    if (!isObject(spec) || typeof prefix !== 'string') {
      problem(`${field}.jwt`, 'must be a mapping (policy, method, consumer, username, customId, groups, claims, ttl, issuedAgo)');
      return '';
    }
    for (const k of Object.keys(spec)) if (!JWT_FIELDS.includes(k)) problem(`${field}.jwt.${k}`, `unknown field (one of ${JWT_FIELDS.join(', ')})`);
    const str = (k: string, required: boolean): string | undefined => {
      const s = spec[k];
      if (s === undefined && !required) return undefined;
      if (typeof s === 'string' && s !== '') return s;
      problem(`${field}.jwt.${k}`, required ? 'is required' : 'must be a string');
      return undefined;
    };
    const policy = str('policy', true);
    const method = str('method', true);
    const consumer = str('consumer', true);
    const groups = spec.groups;
    const claims = spec.claims ?? {};
    const ttlMs = spec.ttl === undefined ? DEFAULT_TTL_MS : typeof spec.ttl === 'string' ? parseDuration(spec.ttl) : undefined;
    const agoMs = spec.issuedAgo === undefined ? 0 : typeof spec.issuedAgo === 'string' ? parseDuration(spec.issuedAgo) : undefined;
    if (groups !== undefined && !(Array.isArray(groups) && groups.every((g) => typeof g === 'string'))) problem(`${field}.jwt.groups`, 'must be a list of strings');
    if (!isObject(claims)) problem(`${field}.jwt.claims`, 'must be a mapping');
    if (ttlMs === undefined) problem(`${field}.jwt.ttl`, 'must be a duration such as 5m');
    if (agoMs === undefined) problem(`${field}.jwt.issuedAgo`, 'must be a duration such as 2h');
    if (policy === undefined || method === undefined || consumer === undefined || ttlMs === undefined || agoMs === undefined || !isObject(claims)) return '';
    try {
      const minted = await mintToken(this.#method(policy, method), {
        consumer: { id: consumer, username: str('username', false), customId: str('customId', false), groups: Array.isArray(groups) ? (groups as string[]) : undefined },
        ttlMs,
        now: Date.now() - agoMs,
        claims,
      });
      return `${prefix}${minted.token}`;
    } catch (e) {
      if (!(e instanceof CommandError || e instanceof MintError)) throw e;
      problem(`${field}.jwt`, e.message);
      return '';
    }
  }

  #method(policy: string, method: string): JwtAuthenticator {
    const key = `${policy}\0${method}`;
    let m = this.#methods.get(key);
    if (m === undefined) this.#methods.set(key, (m = jwtMethodIn(this.#files, policy, method, this.#services, this.#where)));
    return m;
  }
}
