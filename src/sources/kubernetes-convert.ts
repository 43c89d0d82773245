// API objects (plain JSON from lists and watch events) -> source-neutral resources. The API server has
// validated them already; what is checked here is only what gatehouse relies on, with the field named.
import type { SecretResource } from '../config/resources.js';
import { HeldPolicy } from '../policy/held-policy.js';
import { EqualPieces } from '../config/shared.js';
import { decodeSecretData, isObject, stringMap } from './resource-fields.js';

const ORIGIN = 'kubernetes';

/**
 * The only Secret annotations gatehouse reads (consumer fields). The rest is dropped on arrival, so
 * 100,000 Secrets do not hold what tools write there: `kubectl apply` copies the whole object, stringData
 * in clear included, into kubectl.kubernetes.io/last-applied-configuration.
 */
const KEPT_ANNOTATION_PREFIX = 'gatehouse.dev/';

export interface Condition {
  readonly type: string;
  readonly status: string;
  readonly reason?: string;
  readonly message?: string;
  readonly lastTransitionTime?: string;
  readonly observedGeneration?: number;
}

/** The status an AuthPolicy carries on the server. */
export interface ObservedStatus {
  readonly observedGeneration: number | undefined;
  readonly conditions: readonly Condition[];
}

/** An AuthPolicy as last seen from the API: what the store needs and what the status writer compares. */
export interface ObservedPolicy {
  /** As the store keeps it (the same object is handed to the store: one copy of the spec). */
  readonly resource: HeldPolicy;
  readonly resourceVersion: string;
  readonly status: ObservedStatus;
}

export type Converted<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly problem: string };

export function toPolicy(object: unknown): Converted<ObservedPolicy> {
  const meta = metadataOf(object);
  if (!meta.ok) return meta;
  const m = meta.value;
  if (!isObject(object)) return { ok: false, problem: 'not an object' };
  const generation = m.raw.generation;
  if (generation !== undefined && (typeof generation !== 'number' || !Number.isInteger(generation) || generation < 1)) {
    return { ok: false, problem: 'metadata.generation: must be a positive integer' };
  }
  return {
    ok: true,
    value: {
      resource: new HeldPolicy({
        namespace: m.namespace,
        name: m.name,
        generation: generation ?? 1,
        creationTimestamp: typeof m.raw.creationTimestamp === 'string' ? m.raw.creationTimestamp : undefined,
        spec: object.spec,
        origin: ORIGIN,
      }),
      resourceVersion: m.resourceVersion,
      status: statusOf(object.status),
    },
  };
}

export function toSecret(object: unknown): Converted<SecretResource> {
  const meta = metadataOf(object);
  if (!meta.ok) return meta;
  if (!isObject(object)) return { ok: false, problem: 'not an object' };
  const m = meta.value;
  let problem = '';
  const sink = (path: string, message: string): void => {
    problem ||= `${path}: ${message}`;
  };
  const labels = stringMap(m.raw.labels, 'metadata.labels', sink);
  const annotations = stringMap(m.raw.annotations, 'metadata.annotations', sink);
  const data = decodeSecretData(object, sink);
  if (labels === undefined || annotations === undefined || data === undefined) return { ok: false, problem };
  return { ok: true, value: { namespace: m.namespace, name: m.name, labels, annotations: gatehouseAnnotations(annotations), data, origin: ORIGIN } };
}

/** The gatehouse.dev/ annotations, in a new object built only when another one has to go. */
function gatehouseAnnotations(all: Record<string, string>): Record<string, string> {
  const names = Object.keys(all);
  if (names.every((n) => n.startsWith(KEPT_ANNOTATION_PREFIX))) return all;
  const kept: Record<string, string> = {};
  for (const n of names) if (n.startsWith(KEPT_ANNOTATION_PREFIX)) kept[n] = all[n] ?? '';
  return kept;
}

interface Metadata {
  readonly namespace: string;
  readonly name: string;
  readonly resourceVersion: string;
  readonly raw: Record<string, unknown>;
}

function metadataOf(object: unknown): Converted<Metadata> {
  if (!isObject(object)) return { ok: false, problem: 'not an object' };
  const raw = object.metadata;
  if (!isObject(raw)) return { ok: false, problem: 'metadata: is required' };
  if (typeof raw.name !== 'string' || raw.name === '') return { ok: false, problem: 'metadata.name: is required' };
  if (typeof raw.namespace !== 'string' || raw.namespace === '') return { ok: false, problem: 'metadata.namespace: is required' };
  if (typeof raw.resourceVersion !== 'string' || raw.resourceVersion === '') return { ok: false, problem: 'metadata.resourceVersion: is required' };
  return { ok: true, value: { namespace: raw.namespace, name: raw.name, resourceVersion: raw.resourceVersion, raw } };
}

/**
 * Statuses as observed, shared when equal: after a sync most policies carry the same conditions (the
 * ones gatehouse wrote), and 10,000 copies of them would cost megabytes. Frozen.
 */
const observedStatuses = new EqualPieces(4096);
const NO_STATUS: ObservedStatus = Object.freeze({ observedGeneration: undefined, conditions: Object.freeze([]) });

/** Reads `status` leniently: anything unexpected counts as absent, so the writer replaces it. */
export function statusOf(raw: unknown): ObservedStatus {
  if (!isObject(raw)) return NO_STATUS;
  const observedGeneration = typeof raw.observedGeneration === 'number' ? raw.observedGeneration : undefined;
  const conditions: Condition[] = [];
  if (Array.isArray(raw.conditions)) {
    for (const c of raw.conditions) {
      if (!isObject(c) || typeof c.type !== 'string' || typeof c.status !== 'string') continue;
      conditions.push({
        type: c.type,
        status: c.status,
        ...(typeof c.reason === 'string' ? { reason: c.reason } : {}),
        ...(typeof c.message === 'string' ? { message: c.message } : {}),
        ...(typeof c.lastTransitionTime === 'string' ? { lastTransitionTime: c.lastTransitionTime } : {}),
        ...(typeof c.observedGeneration === 'number' ? { observedGeneration: c.observedGeneration } : {}),
      });
    }
  }
  return observedStatuses.share('status', { observedGeneration, conditions: [...conditions] });
}
