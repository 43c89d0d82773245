// Parsing and inspecting rendered Kubernetes manifests (helm template, kubectl kustomize) in tests.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { helm } from './k8s-tools.js';
import { repoRoot } from './tool-cache.js';

export const chartDir: string = join(repoRoot, 'charts', 'gatehouse');

export interface Manifest {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  readonly namespace: string | undefined;
  readonly raw: Readonly<Record<string, unknown>>;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function record(value: unknown, what: string): Record<string, unknown> {
  assert.ok(isRecord(value), `${what} should be a mapping, got ${JSON.stringify(value)}`);
  return value;
}

export function list(value: unknown, what: string): unknown[] {
  assert.ok(Array.isArray(value), `${what} should be a list, got ${JSON.stringify(value)}`);
  return value;
}

export function str(value: unknown, what: string): string {
  assert.equal(typeof value, 'string', `${what} should be a string, got ${JSON.stringify(value)}`);
  return value as string;
}

/** Walks `a.b.0.c`; a missing step yields undefined (assert on the result). */
export function at(value: unknown, path: string): unknown {
  let current = value;
  for (const step of path.split('.')) {
    if (Array.isArray(current) && /^\d+$/.test(step)) current = current[Number(step)];
    else if (isRecord(current)) current = current[step];
    else return undefined;
  }
  return current;
}

/** Parses a multi-document YAML stream; any syntax error fails the test with its position. */
export function parseManifests(text: string): Manifest[] {
  const out: Manifest[] = [];
  for (const doc of parseAllDocuments(text)) {
    assert.deepEqual(doc.errors.map((e) => e.message), [], 'rendered YAML must parse');
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) continue;
    const raw = record(value, 'a rendered document');
    const metadata = record(raw['metadata'], `metadata of ${String(raw['kind'])}`);
    const namespace = metadata['namespace'];
    out.push({
      apiVersion: str(raw['apiVersion'], 'apiVersion'),
      kind: str(raw['kind'], 'kind'),
      name: str(metadata['name'], 'metadata.name'),
      namespace: typeof namespace === 'string' ? namespace : undefined,
      raw,
    });
  }
  return out;
}

export function findAll(objects: readonly Manifest[], kind: string): Manifest[] {
  return objects.filter((o) => o.kind === kind);
}

export function findOne(objects: readonly Manifest[], kind: string, name?: string): Manifest {
  const found = objects.filter((o) => o.kind === kind && (name === undefined || o.name === name));
  assert.equal(found.length, 1, `expected one ${kind}${name === undefined ? '' : ` ${name}`}, found ${found.length}`);
  return found[0] as Manifest;
}

/** `Kind/name` of every object, sorted: compares the whole set of rendered objects at once. */
export function inventory(objects: readonly Manifest[]): string[] {
  return objects.map((o) => `${o.kind}/${o.namespace === undefined ? '' : `${o.namespace}/`}${o.name}`).sort();
}

/**
 * Flattens RBAC rules into sorted `apiGroup|resource|verb` triples (`core` for the core group), so
 * that two rule lists granting the same access compare equal however they are grouped.
 * Fails on anything a triple cannot express (resourceNames, nonResourceURLs).
 */
export function rbacGrants(role: Manifest): string[] {
  const grants = new Set<string>();
  for (const [i, ruleValue] of list(role.raw['rules'], `${role.kind} ${role.name} rules`).entries()) {
    const rule = record(ruleValue, `rule ${i}`);
    const extra = Object.keys(rule).filter((k) => !['apiGroups', 'resources', 'verbs'].includes(k));
    assert.deepEqual(extra, [], `${role.kind} ${role.name} rule ${i} must not use ${extra.join(', ')}`);
    for (const group of list(rule['apiGroups'], 'apiGroups')) {
      for (const resource of list(rule['resources'], 'resources')) {
        for (const verb of list(rule['verbs'], 'verbs')) {
          const apiGroup = str(group, 'apiGroup');
          grants.add(`${apiGroup === '' ? 'core' : apiGroup}|${str(resource, 'resource')}|${str(verb, 'verb')}`);
        }
      }
    }
  }
  return [...grants].sort();
}

/**
 * The one list of what gatehouse may do in the cluster: exactly what the Kubernetes source requests
 * (packaging-rbac.test.ts runs it against an API server enforcing this list and compares the requests
 * it made). The chart, kustomize and the docs are tested against it.
 */
export const WATCH_GRANTS: readonly string[] = [
  'core|secrets|list',
  'core|secrets|watch',
  'gatehouse.dev|authpolicies/status|patch',
  'gatehouse.dev|authpolicies|list',
  'gatehouse.dev|authpolicies|watch',
];

export const RELEASE = 'gh';
export const NAMESPACE = 'gatehouse-system';
/** The Service the shipped proxy configurations point at (the chart released as `gatehouse`, or deploy/kubernetes). */
export const GATEHOUSE_HOST = `gatehouse.${NAMESPACE}.svc.cluster.local`;

/** Every document of a YAML file of the repository (`deploy/...`); a syntax error fails the test. */
export async function loadRepoYaml(path: string): Promise<unknown[]> {
  return parseAllDocuments(await readFile(join(repoRoot, path), 'utf8')).map((doc) => {
    assert.deepEqual(doc.errors.map((e) => e.message), [], `${path} must parse`);
    return doc.toJS() as unknown;
  });
}

/** `helm template` of the chart; a failure to render fails the test with helm's message. */
export async function renderChart(args: readonly string[] = []): Promise<Manifest[]> {
  const result = await helm(['template', RELEASE, chartDir, '--namespace', NAMESPACE, ...args]);
  assert.equal(result.code, 0, `helm template ${args.join(' ')} failed:\n${result.stderr}`);
  return parseManifests(result.stdout);
}

/** The only container of the Deployment's pod template. */
export function container(deployment: Manifest): Record<string, unknown> {
  const containers = list(at(deployment.raw, 'spec.template.spec.containers'), 'containers');
  assert.equal(containers.length, 1, 'one container');
  return record(containers[0], 'container');
}

/** Resolves a probe's port (named or numeric) to the container port number. */
export function probePort(c: Record<string, unknown>, probe: string): number {
  const port = at(c, `${probe}.httpGet.port`);
  if (typeof port === 'number') return port;
  const named = list(c['ports'], 'ports').map((p) => record(p, 'port')).find((p) => p['name'] === port);
  assert.ok(named !== undefined, `${probe} names port ${String(port)}, which the container does not declare`);
  const number = named['containerPort'];
  assert.equal(typeof number, 'number');
  return number as number;
}

/** Every key path of a values tree down to leaves; empty maps and lists are leaves. */
export function valuePaths(value: unknown, prefix = ''): string[] {
  if (!isRecord(value) || Object.keys(value).length === 0) return [prefix];
  return Object.entries(value).flatMap(([key, child]) => valuePaths(child, prefix === '' ? key : `${prefix}.${key}`));
}
