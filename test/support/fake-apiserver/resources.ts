// The two resources the fake API server serves, and the immutable stored form of one object.
import type { JsonObject } from './json.js';
import type { Labels } from './selectors.js';

export type ResourceKind = 'AuthPolicy' | 'Secret';
export type ResourcePlural = 'authpolicies' | 'secrets';

export interface ResourceDef {
  readonly kind: ResourceKind;
  readonly listKind: string;
  readonly plural: ResourcePlural;
  readonly group: string;
  readonly version: string;
  readonly apiVersion: string;
  /** How the real server names the resource in messages: `authpolicies.gatehouse.dev`, `secrets`. */
  readonly qualified: string;
  /**
   * Custom resources (unstructured on the server) carry apiVersion/kind on list items, have a
   * generation, a status subresource, and refuse updates without metadata.resourceVersion.
   */
  readonly custom: boolean;
  readonly fieldLabels: readonly string[];
  readonly patchTypes: readonly string[];
}

export const AUTH_POLICIES: ResourceDef = {
  kind: 'AuthPolicy',
  listKind: 'AuthPolicyList',
  plural: 'authpolicies',
  group: 'gatehouse.dev',
  version: 'v1alpha1',
  apiVersion: 'gatehouse.dev/v1alpha1',
  qualified: 'authpolicies.gatehouse.dev',
  custom: true,
  fieldLabels: ['metadata.name', 'metadata.namespace'],
  patchTypes: ['application/json-patch+json', 'application/merge-patch+json'],
};

export const SECRETS: ResourceDef = {
  kind: 'Secret',
  listKind: 'SecretList',
  plural: 'secrets',
  group: '',
  version: 'v1',
  apiVersion: 'v1',
  qualified: 'secrets',
  custom: false,
  fieldLabels: ['metadata.name', 'metadata.namespace', 'type'],
  patchTypes: ['application/json-patch+json', 'application/merge-patch+json', 'application/strategic-merge-patch+json'],
};

export const RESOURCES: readonly ResourceDef[] = [AUTH_POLICIES, SECRETS];

export function resourceByKind(kind: ResourceKind): ResourceDef {
  switch (kind) {
    case 'AuthPolicy':
      return AUTH_POLICIES;
    case 'Secret':
      return SECRETS;
    default: {
      const never: never = kind;
      throw new Error(`unknown kind ${String(never)}`);
    }
  }
}

export function objectKey(namespace: string, name: string): string {
  // NUL sorts before every name character, so keys order by namespace, then name, as etcd keys do.
  return `${namespace}\u0000${name}`;
}

/**
 * One stored version of an object. Never mutated: an update stores a new record, so event history,
 * list snapshots and open watches can hold records without copying them.
 */
export class StoredRecord {
  readonly key: string;
  private json: string | undefined;

  constructor(
    readonly def: ResourceDef,
    readonly namespace: string,
    readonly name: string,
    readonly rv: number,
    readonly labels: Labels,
    /** The object without apiVersion/kind; `metadata` is its first member. */
    readonly body: JsonObject,
  ) {
    this.key = objectKey(namespace, name);
  }

  /** JSON without apiVersion/kind (how the real server writes items of built-in lists). */
  get bodyJson(): string {
    this.json ??= JSON.stringify(this.body);
    return this.json;
  }

  /** JSON with apiVersion/kind first, as in watch events and single-object responses. */
  get typedJson(): string {
    const rest = this.bodyJson.slice(1);
    return `{"apiVersion":${JSON.stringify(this.def.apiVersion)},"kind":${JSON.stringify(this.def.kind)},${rest}`;
  }

  get secretType(): string {
    const type = this.body['type'];
    return typeof type === 'string' ? type : '';
  }

  field(label: string): string {
    switch (label) {
      case 'metadata.name':
        return this.name;
      case 'metadata.namespace':
        return this.namespace;
      case 'type':
        return this.secretType;
      default:
        return '';
    }
  }

  /** A fresh, caller-owned copy with apiVersion/kind. */
  toObject(): JsonObject {
    return JSON.parse(this.typedJson) as JsonObject;
  }
}
