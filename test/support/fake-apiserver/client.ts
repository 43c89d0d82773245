// Requests a test sends to the fake API server past any client library: raw HTTP with the bearer
// token, and a cheap download for timing large lists.
import assert from 'node:assert/strict';
import { get } from 'node:http';
import { at } from './json.js';
import { AUTH_POLICIES } from './resources.js';
import type { FakeApiServer } from './server.js';

/** The cluster-wide AuthPolicy collection. */
export const POLICIES_PATH = `/apis/${AUTH_POLICIES.group}/${AUTH_POLICIES.version}/${AUTH_POLICIES.plural}`;

export async function raw(server: FakeApiServer, path: string, init: RequestInit = {}): Promise<{ status: number; body: unknown }> {
  const headers = new Headers(init.headers);
  if (!headers.has('authorization')) headers.set('authorization', `Bearer ${server.token}`);
  const res = await fetch(server.url + path, { ...init, headers });
  const text = await res.text();
  return { status: res.status, body: text === '' ? undefined : (JSON.parse(text) as unknown) };
}

/** `namespace/name` of every item of a list answer. */
export function names(body: unknown): string[] {
  const items = at(body, 'items');
  assert.ok(Array.isArray(items));
  return items.map((item) => `${String(at(item, 'metadata', 'namespace'))}/${String(at(item, 'metadata', 'name'))}`);
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
