// The AuthPolicy CustomResourceDefinition, derived from the TypeBox schema (the one source of truth).
// TypeBox emits JSON Schema; Kubernetes wants a structural OpenAPI v3 subset: no `const`, no
// `patternProperties`, no `additionalProperties: false` (pruning does that job), a type everywhere.
import { stringify } from 'yaml';
import { API_GROUP, API_VERSION, AuthPolicySpec, KIND, PLURAL } from './schema.js';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type JsonObject = { [k: string]: Json };

const KEEP = new Set([
  'type', 'description', 'default', 'enum', 'pattern', 'minLength', 'maxLength', 'minimum', 'maximum',
  'minItems', 'maxItems', 'items', 'properties', 'required', 'additionalProperties', 'format',
  'x-kubernetes-validations', 'x-kubernetes-preserve-unknown-fields', 'nullable', 'x-kubernetes-list-type',
]);

/** Converts one TypeBox schema node into the CRD dialect. */
function toStructural(node: unknown): JsonObject {
  const src = JSON.parse(JSON.stringify(node)) as JsonObject;
  const out: JsonObject = {};
  const pattern = src.patternProperties;
  if (typeof pattern === 'object' && pattern !== null && !Array.isArray(pattern)) {
    const values = Object.values(pattern);
    out.type = 'object';
    if (typeof src.description === 'string') out.description = src.description;
    out.additionalProperties = values[0] === undefined ? { 'x-kubernetes-preserve-unknown-fields': true } : toStructural(values[0]);
    for (const k of ['maxProperties', 'minProperties'] as const) if (src[k] !== undefined) out[k] = src[k] as Json;
    return out;
  }
  const anyOf = src.anyOf;
  if (Array.isArray(anyOf) && anyOf.length > 0 && anyOf.every((b) => typeof b === 'object' && b !== null && !Array.isArray(b) && typeof b.const === 'string')) {
    out.type = 'string';
    out.enum = anyOf.map((b) => (b as JsonObject).const as Json);
    for (const k of ['description', 'default'] as const) if (src[k] !== undefined) out[k] = src[k] as Json;
    return out;
  }
  if (src.type === undefined && src.anyOf === undefined && src.properties === undefined && src.const === undefined) {
    // Unknown (any JSON value).
    return { 'x-kubernetes-preserve-unknown-fields': true, ...(typeof src.description === 'string' ? { description: src.description } : {}) };
  }
  if (src.const !== undefined) return { type: typeof src.const as string, enum: [src.const] };
  for (const [k, v] of Object.entries(src)) {
    if (!KEEP.has(k)) continue;
    if (k === 'properties' && typeof v === 'object' && v !== null && !Array.isArray(v)) {
      const props: JsonObject = {};
      for (const [name, child] of Object.entries(v)) props[name] = toStructural(child);
      out.properties = props;
    } else if (k === 'items') {
      out.items = toStructural(v);
    } else if (k === 'additionalProperties') {
      if (typeof v === 'object' && v !== null) out.additionalProperties = toStructural(v);
    } else {
      out[k] = v;
    }
  }
  // A field with a default is filled in by the API server; requiring it would only confuse users.
  if (Array.isArray(out.required) && typeof out.properties === 'object' && out.properties !== null && !Array.isArray(out.properties)) {
    const props = out.properties;
    out.required = out.required.filter((name) => {
      const p = typeof name === 'string' ? props[name] : undefined;
      return !(typeof p === 'object' && p !== null && !Array.isArray(p) && 'default' in p);
    });
    if (out.required.length === 0) delete out.required;
  }
  if (out.type === 'object' && out.properties === undefined && out.additionalProperties === undefined) {
    out['x-kubernetes-preserve-unknown-fields'] = true;
  }
  return out;
}

export function authPolicyCrd(): JsonObject {
  const spec = toStructural(AuthPolicySpec);
  const condition: JsonObject = {
    type: 'object',
    required: ['type', 'status'],
    properties: {
      type: { type: 'string', description: 'What the condition reports: `Ready` (compiled and served), `Enforced` (not in shadow mode); one condition per type.' },
      status: { type: 'string', enum: ['True', 'False', 'Unknown'], description: 'Whether the condition holds.' },
      reason: { type: 'string', description: 'Why, as one CamelCase word (`Compiled`, `Invalid`, `Shadow`, ...).' },
      message: { type: 'string', description: 'Why, for people: the problems found, each with its field path.' },
      lastTransitionTime: { type: 'string', format: 'date-time', description: 'When `status` last changed.' },
      observedGeneration: { type: 'integer', description: 'The `metadata.generation` this condition was written for.' },
    },
  };
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${PLURAL}.${API_GROUP}` },
    spec: {
      group: API_GROUP,
      scope: 'Namespaced',
      names: { kind: KIND, listKind: `${KIND}List`, plural: PLURAL, singular: 'authpolicy', shortNames: ['ghp'], categories: ['gatehouse'] },
      versions: [
        {
          name: API_VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: [
            { name: 'Ready', type: 'string', jsonPath: `.status.conditions[?(@.type=="Ready")].status` },
            { name: 'Reason', type: 'string', jsonPath: `.status.conditions[?(@.type=="Ready")].reason` },
            { name: 'Mode', type: 'string', jsonPath: `.status.conditions[?(@.type=="Enforced")].reason` },
            { name: 'Hosts', type: 'string', jsonPath: '.spec.hosts' },
            { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
          ],
          schema: {
            openAPIV3Schema: {
              type: 'object',
              description: 'AuthPolicy selects requests by host, path and method and says how gatehouse authenticates and authorizes them.',
              required: ['spec'],
              properties: {
                apiVersion: { type: 'string', description: `The versioned schema of this object: \`${API_GROUP}/${API_VERSION}\`.` },
                kind: { type: 'string', description: `The kind of this object: \`${KIND}\`.` },
                metadata: { type: 'object', description: 'Standard object metadata (name, namespace, labels, ...).' },
                spec: spec,
                status: {
                  type: 'object',
                  description: 'Written by gatehouse.',
                  properties: {
                    observedGeneration: { type: 'integer', description: 'The `metadata.generation` gatehouse last compiled.' },
                    // Keyed by type: the API server refuses two conditions of one type, server-side apply merges by type.
                    conditions: {
                      type: 'array',
                      maxItems: 8,
                      'x-kubernetes-list-type': 'map',
                      'x-kubernetes-list-map-keys': ['type'],
                      description: 'The latest observations of the policy, one per type.',
                      items: condition,
                    },
                  },
                },
              },
            },
          },
        },
      ],
    },
  };
}

export function authPolicyCrdYaml(): string {
  return `# Generated from src/policy/schema.ts by \`gatehouse crd\`; do not edit.\n${stringify(authPolicyCrd(), { lineWidth: 0 })}`;
}
