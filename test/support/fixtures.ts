// AuthPolicies and Secrets as a user would `kubectl apply` them, built in one place: as objects for
// the fake API server, and as YAML (`yamlOf`) for the policy files the file source reads.
import { stringify } from 'yaml';
import type { JsonObject } from './fake-apiserver/index.js';

/** The label whose Secrets gatehouse reads by default; API-key selectors match its value. */
export const CREDENTIAL = 'gatehouse.dev/credential';

type Strings = Readonly<Record<string, string>>;

export interface Meta {
  readonly labels?: Strings;
  readonly annotations?: Strings;
  /** For an object seeded into the fake API server as created earlier; a user never sets it. */
  readonly creationTimestamp?: string;
}

function metadata(namespace: string, name: string, meta: Meta): JsonObject {
  return {
    name,
    namespace,
    ...(meta.labels === undefined ? {} : { labels: { ...meta.labels } }),
    ...(meta.annotations === undefined ? {} : { annotations: { ...meta.annotations } }),
    ...(meta.creationTimestamp === undefined ? {} : { creationTimestamp: meta.creationTimestamp }),
  };
}

export function authPolicy(namespace: string, name: string, spec: JsonObject, meta: Meta = {}): JsonObject {
  return { apiVersion: 'gatehouse.dev/v1alpha1', kind: 'AuthPolicy', metadata: metadata(namespace, name, meta), spec };
}

/** A Secret with `stringData`, as written by hand (the API server stores it base64 in `data`). */
export function secret(namespace: string, name: string, stringData: Strings, meta: Meta = {}): JsonObject {
  return { apiVersion: 'v1', kind: 'Secret', metadata: metadata(namespace, name, meta), type: 'Opaque', stringData: { ...stringData } };
}

/** An `apiKey` method reading Secrets labelled `gatehouse.dev/credential: <group>`. */
export function keyMethod(group = 'partners', options: JsonObject = {}): JsonObject {
  return { name: 'keys', apiKey: { from: [{ header: 'apikey' }], selector: { matchLabels: { [CREDENTIAL]: group } }, ...options } };
}

/** An API-key policy spec for one host. */
export function keySpec(host: string, group = 'partners'): JsonObject {
  return { hosts: [host], authentication: { methods: [keyMethod(group)] } };
}

export function keyPolicy(namespace: string, name: string, host: string, group = 'partners', labels?: Strings): JsonObject {
  return authPolicy(namespace, name, keySpec(host, group), labels === undefined ? {} : { labels });
}

/** Who a key Secret's keys belong to: its `gatehouse.dev/consumer-*` and `groups` annotations. */
export interface Consumer {
  readonly id: string;
  readonly username?: string;
  readonly groups?: string;
}

/** API keys (one per line) of `consumer` (a bare id is in the group `partners`), labelled for `group`'s selector. */
export function keySecret(namespace: string, name: string, keys: string, consumer: string | Consumer, group = 'partners'): JsonObject {
  const c = typeof consumer === 'string' ? { id: consumer, groups: 'partners' } : consumer;
  const annotations: Record<string, string> = { 'gatehouse.dev/consumer-id': c.id };
  if (c.username !== undefined) annotations['gatehouse.dev/consumer-username'] = c.username;
  if (c.groups !== undefined) annotations['gatehouse.dev/groups'] = c.groups;
  return secret(namespace, name, { api_key: keys }, { labels: { [CREDENTIAL]: group }, annotations });
}

/** An HS256 `jwt` method verifying with the key `secret` of the Secret `jwt-hmac` (see hmacSecret). */
export function hmacJwtMethod(jwt: JsonObject = {}, name = 'tokens'): JsonObject {
  return { name, jwt: { algorithms: ['HS256'], secretRef: { name: 'jwt-hmac', key: 'secret' }, ...jwt } };
}

/** The Secret `jwt-hmac` an HS256 method's `secretRef` names. */
export function hmacSecret(namespace: string, value: string): JsonObject {
  return secret(namespace, 'jwt-hmac', { secret: value });
}

/** A multi-document YAML file of the given objects, as the file source reads them. */
export function yamlOf(...objects: readonly JsonObject[]): string {
  return objects.map((o) => stringify(o)).join('---\n');
}
