// Reading a claim from verified claims (JWT, OIDC, a session's copy): one rule for every reader, so
// consumer mappings, claim headers, required claims and authorization rules agree on what a name means.

/** A claim value a policy may compare with. */
export type ClaimValue = string | number | boolean;

/** A claim by exact name first (`https://example.com/groups`), then as a dotted path (`realm_access.roles`). */
export function claimAt(payload: Readonly<Record<string, unknown>>, name: string): unknown {
  if (Object.hasOwn(payload, name)) return payload[name];
  if (!name.includes('.')) return undefined;
  let at: unknown = payload;
  for (const part of name.split('.')) {
    if (typeof at !== 'object' || at === null || Array.isArray(at) || !Object.hasOwn(at, part)) return undefined;
    at = (at as Record<string, unknown>)[part];
  }
  return at;
}
