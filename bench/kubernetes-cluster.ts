// The cluster the Kubernetes bench measures against: the fake API server filled with N AuthPolicies,
// each selecting its own share of M key Secrets, and a kubeconfig file pointing at it.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeApiServer, type JsonObject } from '../test/support/fake-apiserver/index.js';

const NAMESPACES = 50;

export const namespaceOf = (policy: number): string => `ns-${policy % NAMESPACES}`;
export const hostOf = (policy: number): string => `p${policy}.bench.test`;
/** The key Secret `secret` starts with; rotations replace it. */
export const initialKey = (secret: number): string => `key-${secret}-0`;

/**
 * `current`: the statuses gatehouse computes are already on the objects (a restart writes none).
 * `stale`: they predate the Enforced condition, so every policy gets one status write at start.
 */
export type StatusMode = 'current' | 'stale';

const READY = { type: 'Ready', status: 'True', reason: 'Compiled', message: '', lastTransitionTime: '2026-01-01T00:00:00Z', observedGeneration: 1 };
const ENFORCED = {
  type: 'Enforced',
  status: 'True',
  reason: 'Enforcing',
  message: 'requests are refused as the policy says',
  lastTransitionTime: '2026-01-01T00:00:00Z',
  observedGeneration: 1,
};

export async function startCluster(policies: number, secrets: number, statusMode: StatusMode): Promise<FakeApiServer> {
  const server = new FakeApiServer({ historyLimit: 10_000 });
  await server.start();
  const status: JsonObject = { observedGeneration: 1, conditions: statusMode === 'current' ? [READY, ENFORCED] : [READY] };
  for (let p = 0; p < policies; p++) {
    server.create({
      apiVersion: 'gatehouse.dev/v1alpha1',
      kind: 'AuthPolicy',
      metadata: { name: `policy-${p}`, namespace: namespaceOf(p) },
      spec: {
        hosts: [hostOf(p)],
        authentication: { methods: [{ name: 'keys', apiKey: { from: [{ header: 'apikey' }], selector: { matchLabels: { 'gatehouse.dev/credential': `group-${p}` } } } }] },
      },
      status,
    });
  }
  // Secret s belongs to policy s % policies: each policy selects secrets/policies Secrets.
  for (let s = 0; s < secrets; s++) server.create(secretObject(s % policies, `secret-${s}`, initialKey(s)));
  return server;
}

function secretObject(policy: number, name: string, key: string): JsonObject {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name,
      namespace: namespaceOf(policy),
      labels: { 'gatehouse.dev/credential': `group-${policy}` },
      annotations: { 'gatehouse.dev/consumer-id': name },
    },
    type: 'Opaque',
    data: { api_key: Buffer.from(key).toString('base64') },
  };
}

/** Replaces a Secret's key, as `kubectl apply` of a rotated Secret would. */
export function rotate(server: FakeApiServer, policy: number, secret: number, key: string): void {
  const current = server.get('Secret', namespaceOf(policy), `secret-${secret}`);
  if (current === undefined) throw new Error(`no Secret secret-${secret}`);
  server.update({ ...current, data: { api_key: Buffer.from(key).toString('base64') } });
}

/** A kubeconfig file for the fake server (plain HTTP, bearer token), in a new temporary directory. */
export function kubeConfigFile(server: FakeApiServer): string {
  const file = join(mkdtempSync(join(tmpdir(), 'gatehouse-bench-')), 'kubeconfig');
  writeFileSync(
    file,
    [
      'apiVersion: v1',
      'kind: Config',
      `clusters: [{name: bench, cluster: {server: "${server.url}", insecure-skip-tls-verify: true}}]`,
      `users: [{name: bench, user: {token: "${server.token}"}}]`,
      'contexts: [{name: bench, context: {cluster: bench, user: bench}}]',
      'current-context: bench',
    ].join('\n'),
  );
  return file;
}
