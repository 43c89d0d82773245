// The API requests of the Kubernetes source: paginated lists, watches (one JSON event per line of a
// chunked answer) and status merge patches, over node:http(s) with the TLS material and token of a
// ClusterAccess. Objects stay plain JSON, which costs far less than model classes for 100,000 Secrets.
import { createRequire } from 'node:module';
import type { IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { API_GROUP, API_VERSION, PLURAL } from '../policy/schema.js';
import type { ClusterAccess } from './kube-access.js';
import { isObject } from './resource-fields.js';

// node:http by require: an ESM import reads all its exports, and on Node 26 its WebSocket getter loads
// node's bundled undici, 2-5 MB of RSS that serving does not use (test/architecture.test.ts holds it).
const { request: httpRequest } = createRequire(import.meta.url)('node:http') as typeof import('node:http');

export type ResourceName = 'authpolicies' | 'secrets';

/** A refused or failed API request. `code` is stable: `http_<status>` or `network`. */
export class KubernetesApiError extends Error {
  override readonly name = 'KubernetesApiError';
  readonly code: string;
  /** HTTP status, 0 when no answer came. */
  readonly status: number;
  /** The API's own reason (`Conflict`, `Expired`, `Forbidden`...), when it gave one. */
  readonly reason: string | undefined;

  constructor(status: number, reason: string | undefined, message: string) {
    super(message);
    this.status = status;
    this.reason = reason;
    this.code = status === 0 ? 'network' : `http_${status}`;
  }
}

/** Collection path of a resource, cluster-wide or in one namespace. */
export function collectionPath(resource: ResourceName, namespace: string | undefined): string {
  const ns = namespace === undefined ? '' : `/namespaces/${encodeURIComponent(namespace)}`;
  switch (resource) {
    case 'authpolicies':
      return `/apis/${API_GROUP}/${API_VERSION}${ns}/${PLURAL}`;
    case 'secrets':
      return `/api/v1${ns}/secrets`;
    default: {
      const never: never = resource;
      throw new Error(`unknown resource ${String(never)}`);
    }
  }
}

export interface ListPage {
  readonly items: readonly unknown[];
  readonly resourceVersion: string;
  readonly continueToken: string | undefined;
}

export type WatchParams = Readonly<Record<string, string | number | boolean | undefined>>;

/** An accepted watch: `ended` settles once with null for an end by the server, else the error. */
export interface OpenWatch {
  readonly ended: Promise<unknown>;
}

/** A list or patch waits this long for the next byte (undici's default, which client-node used). */
const REQUEST_IDLE_MS = 300_000;
/** A watch waits this long for its answer, then for each next byte (as client-node's Watch). */
const WATCH_IDLE_MS = 30_000;

export class KubernetesApi {
  readonly #access: ClusterAccess;

  constructor(access: ClusterAccess) {
    this.#access = access;
  }

  get server(): string {
    return this.#access.server;
  }

  async listPage(path: string, query: { labelSelector: string; limit: number; continueToken: string | undefined }, signal: AbortSignal): Promise<ListPage> {
    const params = new URLSearchParams({ limit: String(query.limit) });
    if (query.labelSelector !== '') params.set('labelSelector', query.labelSelector);
    if (query.continueToken !== undefined) params.set('continue', query.continueToken);
    const body = await this.#request('GET', `${path}?${params}`, undefined, undefined, signal);
    const items = body.items;
    const meta = isObject(body.metadata) ? body.metadata : {};
    if (!Array.isArray(items) && items !== null && items !== undefined) throw new KubernetesApiError(200, undefined, `list ${path}: items is not an array`);
    const rv = meta.resourceVersion;
    if (typeof rv !== 'string' || rv === '') throw new KubernetesApiError(200, undefined, `list ${path}: no metadata.resourceVersion`);
    const next = meta.continue;
    return { items: Array.isArray(items) ? items : [], resourceVersion: rv, continueToken: typeof next === 'string' && next !== '' ? next : undefined };
  }

  /** JSON merge patch of an object's status subresource; answers the updated object. */
  async mergePatchStatus(resource: ResourceName, namespace: string, name: string, patch: unknown, signal?: AbortSignal): Promise<Record<string, unknown>> {
    const path = `${collectionPath(resource, namespace)}/${encodeURIComponent(name)}/status`;
    return this.#request('PATCH', path, JSON.stringify(patch), 'application/merge-patch+json', signal);
  }

  /**
   * Opens a watch of a collection. Resolves once the server accepted it (200); rejects with a
   * KubernetesApiError when it refused (`http_<status>`, with the API's reason) or could not be reached.
   * Every complete line is one event; a line that is not JSON is skipped. Aborting `signal` ends it.
   */
  async watch(path: string, params: WatchParams, onEvent: (type: string, object: unknown) => void, signal: AbortSignal): Promise<OpenWatch> {
    const query = new URLSearchParams({ watch: 'true' });
    for (const [k, v] of Object.entries(params)) if (v !== undefined) query.set(k, String(v));
    const target = `${path}?${query}`;
    const { res, idle } = await this.#open('GET', target, undefined, undefined, signal, WATCH_IDLE_MS);
    if (res.statusCode !== 200) throw await refusal('watch', path, res);
    res.setEncoding('utf8');
    let partial = '';
    res.on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        let event: unknown;
        try {
          event = JSON.parse(line);
        } catch {
          continue;
        }
        if (!isObject(event) || typeof event.type !== 'string') continue;
        try {
          onEvent(event.type, event.object);
        } catch (e) {
          // A handler that throws ends the watch with its error (restarted, and logged, by the informer).
          res.destroy(e instanceof Error ? e : new Error(String(e)));
          return;
        }
      }
    });
    const ended = new Promise<unknown>((resolve) => {
      res.once('end', () => resolve(null));
      res.once('error', (e) => resolve(idle.error ?? e));
      res.once('close', () => resolve(idle.error ?? (res.complete ? null : new Error('the watch connection was cut'))));
    });
    return { ended };
  }

  async #request(method: string, path: string, body: string | undefined, contentType: string | undefined, signal: AbortSignal | undefined): Promise<Record<string, unknown>> {
    let status: number;
    let text: string;
    try {
      const { res } = await this.#open(method, path, body, contentType, signal, REQUEST_IDLE_MS);
      status = res.statusCode ?? 0;
      text = await readText(res);
    } catch (e) {
      if (e instanceof KubernetesApiError) throw e;
      throw new KubernetesApiError(0, undefined, `${method} ${path}: ${describe(e)}`);
    }
    const parsed = parseAnswer(method, path, status, text);
    if (!isObject(parsed)) throw new KubernetesApiError(status, undefined, `${method} ${path}: answer is not a JSON object`);
    return parsed;
  }

  /** Sends a request; resolves with the answer's head. No byte for `idleMs` ends it with a TimeoutError. */
  async #open(method: string, path: string, body: string | undefined, contentType: string | undefined, signal: AbortSignal | undefined, idleMs: number): Promise<{ res: IncomingMessage; idle: { error: Error | undefined } }> {
    const url = new URL(this.#access.server + path);
    const options = await this.#access.requestOptions();
    signal?.throwIfAborted();
    const headers: Record<string, string | number> = { ...stringHeaders(options.headers), accept: 'application/json' };
    if (contentType !== undefined) headers['content-type'] = contentType;
    if (body !== undefined) headers['content-length'] = Buffer.byteLength(body);
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const idle: { error: Error | undefined } = { error: undefined };
    return new Promise((resolve, reject) => {
      const req = send(url, { ...options, method, headers, signal, timeout: idleMs });
      req.once('timeout', () => {
        idle.error = new DOMException(`no answer from ${url.host} for ${idleMs / 1000} s`, 'TimeoutError');
        req.destroy(idle.error);
      });
      req.once('error', (e) => reject(idle.error ?? e));
      req.once('response', (res) => resolve({ res, idle }));
      req.end(body);
    });
  }
}

function stringHeaders(headers: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!isObject(headers)) return out;
  for (const [k, v] of Object.entries(headers)) if (typeof v === 'string') out[k.toLowerCase()] = v;
  return out;
}

function readText(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    res.once('error', reject);
  });
}

function parseAnswer(method: string, path: string, status: number, text: string): unknown {
  let parsed: unknown;
  try {
    parsed = text === '' ? {} : JSON.parse(text);
  } catch {
    throw new KubernetesApiError(status, undefined, `${method} ${path}: answer ${status} is not JSON`);
  }
  if (status < 200 || status > 299) {
    const reason = isObject(parsed) && typeof parsed.reason === 'string' ? parsed.reason : undefined;
    const message = isObject(parsed) && typeof parsed.message === 'string' ? parsed.message : `HTTP ${status}`;
    throw new KubernetesApiError(status, reason, `${method} ${path}: ${message}`);
  }
  return parsed;
}

/** The error of a refused watch, from the Status object the API server answers with. */
async function refusal(verb: string, path: string, res: IncomingMessage): Promise<KubernetesApiError> {
  const status = res.statusCode ?? 0;
  let text = '';
  try {
    text = await readText(res);
  } catch {
    // the status alone says enough
  }
  try {
    parseAnswer(verb, path, status, text);
  } catch (e) {
    if (e instanceof KubernetesApiError) return e;
  }
  return new KubernetesApiError(status, undefined, `${verb} ${path}: HTTP ${status}`);
}

/** A short description of an error, with its cause when it has one. */
// Node 22+ ends an untrusted-certificate message with advice to trust the system CA store: the CA
// that matters here is the kubeconfig's, so the advice would mislead.
const NODE_CA_HINT = /; if the root CA is installed locally, try running Node\.js with --use-system-ca$/;

export function describe(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  // Connecting to a name with several addresses fails with an AggregateError whose own message is empty.
  const message = e.message.replace(NODE_CA_HINT, '');
  const own = message !== '' ? message : e instanceof AggregateError ? e.errors.map(describe).join('; ') : `${e.name} (no message)`;
  const cause: unknown = e.cause;
  return cause instanceof Error && cause.message !== '' ? `${own}: ${cause.message}` : own;
}
