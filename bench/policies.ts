// Policy sets the bench servers load, written as YAML into a temporary directory. A set also tells
// the requests what to send (host, key) and the checks what to expect (consumer id).
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface PolicySet {
  /** Scenarios naming the same id share one server process. */
  readonly id: string;
  /** Writes the manifests into `dir` (empty, private to this set); resolves with the AuthPolicy count. */
  write(dir: string): number | Promise<number>;
}

/** One API-key tenant: its own host, Secret and consumer. */
export interface ApiKeyTenant {
  readonly host: string;
  readonly key: string;
  readonly consumerId: string;
}

const NAMESPACE = 'bench';
const PER_FILE = 1000;
/** The header the keys travel in, as Kong's key-auth default. */
export const API_KEY_HEADER = 'apikey';
/** A key no tenant holds: the deny scenarios send it. */
export const UNKNOWN_KEY = 'bench-unknown-key-00000000000000';

export function apiKeyTenant(i: number): ApiKeyTenant {
  return {
    host: `t${i}.api.bench.test`,
    // Deterministic, so the request builder needs nothing from the writer; 32 hex digits like a real key.
    key: createHash('sha256').update(`bench-key-${i}`).digest('hex').slice(0, 32),
    consumerId: `consumer-${i}`,
  };
}

/** The tenant the requests target: one in the middle of the set, not the first one compiled. */
export function apiKeyTarget(count: number): number {
  return Math.floor((count * 7) / 10);
}

/** Keys of tenant `i` beyond its first: deterministic, never sent, there to fill the key tables. */
function extraKeys(i: number, keysPerTenant: number): string[] {
  return Array.from({ length: keysPerTenant - 1 }, (_, k) => createHash('sha256').update(`bench-key-${i}-${k + 1}`).digest('hex').slice(0, 32));
}

/** An AuthPolicy manifest up to its list of methods: the manifests here differ only after it. */
export function policyHead(name: string, host: string): string {
  return `apiVersion: gatehouse.dev/v1alpha1
kind: AuthPolicy
metadata: {name: ${name}, namespace: ${NAMESPACE}}
spec:
  hosts: ["${host}"]
  authentication:
    methods:
`;
}

function tenantYaml(i: number, keysPerTenant: number): string {
  const t = apiKeyTenant(i);
  // One Secret holds a tenant's keys, one per line (api_key), as the apiKey method reads them.
  const keys = [t.key, ...extraKeys(i, keysPerTenant)].join('\\n');
  return `${policyHead(`tenant-${i}`, t.host)}      - name: keys
        apiKey:
          from: [{header: ${API_KEY_HEADER}}]
          selector: {matchLabels: {bench.gatehouse.dev/tenant: "t${i}"}}
          hideCredentials: true
  response: {realm: bench}
---
apiVersion: v1
kind: Secret
metadata:
  name: tenant-${i}-key
  namespace: ${NAMESPACE}
  labels: {bench.gatehouse.dev/tenant: "t${i}"}
  annotations:
    gatehouse.dev/consumer-id: ${t.consumerId}
    gatehouse.dev/groups: tenants
stringData: {api_key: "${keys}"}
`;
}

/** `count` API-key policies on distinct hosts, each selecting its own Secret (of `keysPerTenant` keys) by label. */
export function apiKeyPolicies(count: number, keysPerTenant = 1): PolicySet {
  if (!Number.isSafeInteger(count) || count < 1) throw new RangeError(`policy count must be a positive integer, got ${count}`);
  if (!Number.isSafeInteger(keysPerTenant) || keysPerTenant < 1) throw new RangeError(`keys per tenant must be a positive integer, got ${keysPerTenant}`);
  return {
    id: `api-key-${count}x${keysPerTenant}`,
    write(dir) {
      for (let first = 0; first < count; first += PER_FILE) {
        const docs: string[] = [];
        for (let i = first; i < Math.min(count, first + PER_FILE); i++) docs.push(tenantYaml(i, keysPerTenant));
        writeFileSync(join(dir, `tenants-${String(first).padStart(6, '0')}.yaml`), docs.join('---\n'));
      }
      return count;
    },
  };
}
