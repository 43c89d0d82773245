// Kubeconfig files as tests write them: one cluster, one user and one current context.

/** A kubeconfig whose cluster and user bodies are YAML flow mappings (`{server: "https://..."}`, `{token: t}`). */
export function kubeconfig(cluster: string, user: string, name = 'x'): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    `clusters: [{name: ${name}, cluster: ${cluster}}]`,
    `users: [{name: ${name}, user: ${user}}]`,
    `contexts: [{name: ${name}, context: {cluster: ${name}, user: ${name}, namespace: shop}}]`,
    `current-context: ${name}`,
  ].join('\n');
}
