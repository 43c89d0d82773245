// Small pieces the fake API server's tests share: object builders, polling, and a recorder of what
// a client-node informer reports.
import assert from 'node:assert/strict';
import { get } from 'node:http';
import type { TestContext } from 'node:test';
import { ApiException, CustomObjectsApi, makeInformer, type Informer, type KubernetesObject, type ObjectCache } from '@kubernetes/client-node';
import type { FakeApiServer, JsonObject } from './fake-apiserver.js';

export const GROUP = 'gatehouse.dev';
export const VERSION = 'v1alpha1';
export const PLURAL = 'authpolicies';
export const POLICIES_PATH = `/apis/${GROUP}/${VERSION}/${PLURAL}`;

export function authPolicy(namespace: string, name: string, hosts: string[], labels?: Record<string, string>): JsonObject {
  return {
    apiVersion: `${GROUP}/${VERSION}`,
    kind: 'AuthPolicy',
    metadata: { name, namespace, ...(labels === undefined ? {} : { labels }) },
    spec: { hosts },
  };
}

export function secret(namespace: string, name: string, value: string, labels?: Record<string, string>): JsonObject {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace, ...(labels === undefined ? {} : { labels }) },
    type: 'Opaque',
    data: { key: Buffer.from(value).toString('base64') },
  };
}

/** Reads a nested member of a decoded JSON value, or undefined. */
export function at(value: unknown, ...path: string[]): unknown {
  let node = value;
  for (const key of path) {
    if (typeof node !== 'object' || node === null || Array.isArray(node)) return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export async function waitFor(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}

export type InformerEntry =
  | { readonly verb: 'add' | 'update' | 'delete'; readonly name: string; readonly namespace: string; readonly rv: string; readonly object: KubernetesObject }
  | { readonly verb: 'error'; readonly error: unknown }
  | { readonly verb: 'connect' };

/** Records every callback an informer makes, in order. */
export class InformerLog {
  readonly entries: InformerEntry[] = [];

  constructor(informer: Informer<KubernetesObject>) {
    for (const verb of ['add', 'update', 'delete'] as const) {
      informer.on(verb, (object) => {
        this.entries.push({
          verb,
          name: object.metadata?.name ?? '',
          namespace: object.metadata?.namespace ?? '',
          rv: object.metadata?.resourceVersion ?? '',
          object,
        });
      });
    }
    informer.on('error', (error?: unknown) => this.entries.push({ verb: 'error', error }));
    informer.on('connect', () => this.entries.push({ verb: 'connect' }));
  }

  /** "add:ns/name" style lines for the object events, for exact assertions. */
  get lines(): string[] {
    return this.entries.flatMap((e) => (e.verb === 'error' || e.verb === 'connect' ? [] : [`${e.verb}:${e.namespace}/${e.name}`]));
  }

  count(verb: InformerEntry['verb']): number {
    return this.entries.filter((e) => e.verb === verb).length;
  }

  errors(): unknown[] {
    return this.entries.flatMap((e) => (e.verb === 'error' ? [e.error] : []));
  }
}

export type TestInformer = Informer<KubernetesObject> & ObjectCache<KubernetesObject>;

export function policyInformer(t: TestContext, server: FakeApiServer, namespace?: string): { informer: TestInformer; log: InformerLog } {
  const kc = server.kubeConfig();
  const api = kc.makeApiClient(CustomObjectsApi);
  const informer =
    namespace === undefined
      ? makeInformer(kc, POLICIES_PATH, () => api.listClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL }))
      : makeInformer(kc, `/apis/${GROUP}/${VERSION}/namespaces/${namespace}/${PLURAL}`, () =>
          api.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: PLURAL }),
        );
  const log = new InformerLog(informer);
  t.after(() => informer.stop());
  return { informer, log };
}

export async function raw(server: FakeApiServer, path: string, init: RequestInit = {}): Promise<{ status: number; body: unknown }> {
  const headers = new Headers(init.headers);
  if (!headers.has('authorization')) headers.set('authorization', `Bearer ${server.token}`);
  const res = await fetch(server.url + path, { ...init, headers });
  const text = await res.text();
  return { status: res.status, body: text === '' ? undefined : (JSON.parse(text) as unknown) };
}

export function names(body: unknown): string[] {
  const items = at(body, 'items');
  assert.ok(Array.isArray(items));
  return items.map((item) => `${String(at(item, 'metadata', 'namespace'))}/${String(at(item, 'metadata', 'name'))}`);
}

export function apiStatus(err: unknown): { code: number; reason: unknown } {
  assert.ok(err instanceof ApiException, `expected an ApiException, got ${String(err)}`);
  const body: unknown = typeof err.body === 'string' ? JSON.parse(err.body) : err.body;
  return { code: err.code, reason: at(body, 'reason') };
}


/** A GET through node:http, whose client costs little, so timings measure the server. */
export function download(url: string, token: string): Promise<{ status: number; bytes: Buffer }> {
  return new Promise((resolve, reject) => {
    get(url, { headers: { authorization: `Bearer ${token}` } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes: Buffer.concat(chunks) }));
      res.on('error', reject);
    }).on('error', reject);
  });
}
