// Source-neutral shapes of what a source (files, Kubernetes) reports. Sources parse their own format
// into these; compilation never sees YAML or API objects.

export interface PolicyResource {
  readonly namespace: string;
  readonly name: string;
  readonly generation: number;
  /** RFC 3339; the older policy wins a host/path conflict. */
  readonly creationTimestamp: string | undefined;
  /** The raw `spec`, validated at compile time. */
  readonly spec: unknown;
  /** Where it came from, for messages: `file.yaml#2` or `kubernetes`. */
  readonly origin: string;
}

export interface SecretResource {
  readonly namespace: string;
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  /** Decoded values of `data` and `stringData`. */
  readonly data: ReadonlyMap<string, Buffer>;
  readonly origin: string;
}

/** Flat (`join`, not a template): a template makes a chain of rope strings, each held as a Map key per policy. */
export function policyKey(namespace: string, name: string): string {
  return [namespace, name].join('/');
}
