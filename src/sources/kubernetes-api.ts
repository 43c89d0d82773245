// The few API requests the Kubernetes source makes besides watches: paginated lists and status merge
// patches. They go through client-node's own HTTP stack (authentication, TLS, exec plugins) but skip
// its model classes: objects stay plain JSON, which costs far less for 100,000 Secrets.
import { HttpMethod, IsomorphicFetchHttpLibrary, type KubeConfig, RequestContext } from '@kubernetes/client-node';
import { API_GROUP, API_VERSION, PLURAL } from '../policy/schema.js';
import { isObject } from './resource-fields.js';

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

export class KubernetesApi {
  readonly #kc: KubeConfig;
  readonly #http = new IsomorphicFetchHttpLibrary();

  constructor(kc: KubeConfig) {
    this.#kc = kc;
  }

  get server(): string {
    const cluster = this.#kc.getCurrentCluster();
    if (cluster === null) throw new KubernetesApiError(0, undefined, 'the kubeconfig has no current cluster');
    return cluster.server.replace(/\/+$/, '');
  }

  async listPage(path: string, query: { labelSelector: string; limit: number; continueToken: string | undefined }, signal: AbortSignal): Promise<ListPage> {
    const params = new URLSearchParams({ limit: String(query.limit) });
    if (query.labelSelector !== '') params.set('labelSelector', query.labelSelector);
    if (query.continueToken !== undefined) params.set('continue', query.continueToken);
    const body = await this.#request(HttpMethod.GET, `${path}?${params}`, undefined, undefined, signal);
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
    return this.#request(HttpMethod.PATCH, path, JSON.stringify(patch), 'application/merge-patch+json', signal);
  }

  async #request(method: HttpMethod, path: string, body: string | undefined, contentType: string | undefined, signal: AbortSignal | undefined): Promise<Record<string, unknown>> {
    const ctx = new RequestContext(this.server + path, method);
    ctx.setHeaderParam('Accept', 'application/json');
    if (contentType !== undefined) ctx.setHeaderParam('Content-Type', contentType);
    if (body !== undefined) ctx.setBody(body);
    if (signal !== undefined) ctx.setSignal(signal);
    let status: number;
    let text: string;
    try {
      await this.#kc.applySecurityAuthentication(ctx);
      const res = await this.#http.send(ctx).toPromise();
      status = res.httpStatusCode;
      text = await res.body.text();
    } catch (e) {
      if (e instanceof KubernetesApiError) throw e;
      throw new KubernetesApiError(0, undefined, `${method} ${path}: ${describe(e)}`);
    }
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
    if (!isObject(parsed)) throw new KubernetesApiError(status, undefined, `${method} ${path}: answer is not a JSON object`);
    return parsed;
  }
}

/** A short description of a network error: undici hides the cause (ECONNREFUSED...) one level down. */
export function describe(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const cause: unknown = e.cause;
  return cause instanceof Error && cause.message !== '' ? `${e.message}: ${cause.message}` : e.message;
}
