// A validated spec + the Secrets it references -> a frozen CompiledPolicy. Runs off the request path,
// once per policy or Secret change.
import type { Authenticator } from '../authn/authenticator.js';
import { compileMethod, methodBlock } from '../authn/registry.js';
import { compileRules } from '../authz/rules.js';
import { compileSession } from '../session/compile.js';
import { splitHostPort } from '../core/input.js';
import type { HeaderPair } from '../core/identity.js';
import type { CompiledPolicy, DenyTemplate, SkipRule } from './compiled.js';
import { type CompileEnv, type Dependencies, SecretLookup } from './compile-context.js';
import { type Problem, ProblemList } from './problems.js';
import { policyKey, type PolicyResource } from './resources.js';
import type { AuthPolicySpec, IdentityHeaders } from './schema.js';
import type { SecretIndex } from './secrets.js';
import { validateSpec } from './validate.js';

export type CompileResult =
  | { readonly ok: true; readonly policy: CompiledPolicy; readonly problems: readonly Problem[]; readonly deps: Dependencies }
  | {
      readonly ok: false;
      readonly problems: readonly Problem[];
      readonly deps: Dependencies;
      /** A deny-only stand-in for the hosts/paths it claims, when those could be read. */
      readonly standIn: CompiledPolicy | undefined;
    };

export function compilePolicy(res: PolicyResource, secrets: SecretIndex, env: CompileEnv): CompileResult {
  const lookup = new SecretLookup(secrets, res.namespace);
  const validated = validateSpec(res.spec);
  if (!validated.ok) {
    return { ok: false, problems: validated.problems.items, deps: lookup.deps, standIn: standIn(res, validated.problems.items) };
  }
  const problems = new ProblemList();
  const policy = build(res, validated.spec, lookup, env, problems);
  if (problems.hasErrors) return { ok: false, problems: problems.items, deps: lookup.deps, standIn: standIn(res, problems.items) };
  return { ok: true, policy, problems: problems.items, deps: lookup.deps };
}

function build(res: PolicyResource, spec: AuthPolicySpec, secrets: SecretLookup, env: CompileEnv, problems: ProblemList): CompiledPolicy {
  const id = policyKey(res.namespace, res.name);
  const authenticators: Authenticator[] = [];
  let keyCount = 0;
  const names = new Set<string>();
  spec.authentication.methods.forEach((method, i) => {
    const path = `spec.authentication.methods[${i}]`;
    if (names.has(method.name)) problems.error(`${path}.name`, `duplicate method name "${method.name}"`);
    names.add(method.name);
    const key = methodBlock(method);
    if (Array.isArray(key)) {
      problems.error(path, key.length === 0 ? 'no method block set (such as apiKey)' : `only one method block may be set, found ${key.join(', ')}`);
      return;
    }
    const authenticator = compileMethod(method, key, {
      policyId: id,
      namespace: res.namespace,
      methodName: method.name,
      path: `${path}.${key}`,
      problems,
      secrets,
      env,
    });
    keyCount += authenticator.keyCount ?? 0;
    authenticators.push(authenticator);
  });
  const session =
    spec.session === undefined
      ? undefined
      : compileSession(spec.session, { policyId: id, secrets, env, problems, methodNames: spec.authentication.methods.map((m) => m.name), mode: spec.authentication.mode });
  if (session !== undefined) authenticators.unshift(session.authenticator);
  if (authenticators.length === 0 && spec.anonymous === undefined && !problems.hasErrors) {
    problems.error('spec.authentication.methods', 'no method and no anonymous consumer: every request would be denied');
  }
  const hosts = [...new Set(spec.hosts.map(normalizeHost))];
  const identityHeaders = lowerNames(spec.response.identityHeaders);
  const headerNames = new Set<string>(Object.values(identityHeaders));
  for (const a of authenticators) for (const h of a.headerNames) headerNames.add(h.toLowerCase());
  const realm = spec.response.realm ?? hosts[0] ?? 'gatehouse';
  return deepFreeze({
    id,
    namespace: res.namespace,
    name: res.name,
    generation: res.generation,
    hosts,
    paths: [...new Set(spec.paths)],
    methods: spec.methods === undefined ? undefined : new Set<string>(spec.methods),
    skip: spec.skip.map(
      (s): SkipRule => ({ paths: s.paths, methods: s.methods === undefined ? undefined : new Set<string>(s.methods) }),
    ),
    endpoints: session?.endpoints ?? [],
    mode: spec.authentication.mode,
    authenticators,
    anonymous:
      spec.anonymous === undefined
        ? undefined
        : {
            id: spec.anonymous.id,
            username: spec.anonymous.username,
            customId: spec.anonymous.customId,
            groups: spec.anonymous.groups ?? [],
          },
    rules: compileRules(spec.authorization, problems, 'spec.authorization'),
    hooks: session === undefined ? [] : [session.hook],
    realm,
    identityHeaders,
    headerNames: [...headerNames],
    unauthenticated: denyTemplate(spec.response.unauthenticated, 401),
    unauthorized: denyTemplate(spec.response.unauthorized, 403),
    failOpen: spec.failureMode === 'open',
    broken: undefined,
    keyCount,
  });
}

type DenySpec = NonNullable<AuthPolicySpec['response']['unauthenticated']>;

function denyTemplate(spec: DenySpec | undefined, status: number): DenyTemplate {
  if (spec === undefined) return { status, headers: [], body: undefined };
  const headers: HeaderPair[] = Object.entries(spec.headers ?? {}).map(([name, value]) => ({ name: name.toLowerCase(), value }));
  let body: DenyTemplate['body'];
  if (spec.body?.json !== undefined) body = { contentType: 'application/json', text: JSON.stringify(spec.body.json) };
  else if (spec.body?.text !== undefined) body = { contentType: 'text/plain; charset=utf-8', text: spec.body.text };
  return { status: spec.status, headers, body };
}

export function normalizeHost(host: string): string {
  if (host === '*' || host.startsWith('*.')) return host.toLowerCase().replace(/:[0-9]+$/, '');
  return splitHostPort(host)[0];
}

function lowerNames(h: IdentityHeaders): IdentityHeaders {
  return {
    consumerId: h.consumerId.toLowerCase(),
    username: h.username.toLowerCase(),
    customId: h.customId.toLowerCase(),
    credential: h.credential.toLowerCase(),
    groups: h.groups.toLowerCase(),
    anonymous: h.anonymous.toLowerCase(),
  };
}

/** Hosts and paths read leniently from an invalid spec, so its hosts are denied rather than left open. */
function standIn(res: PolicyResource, problems: readonly Problem[]): CompiledPolicy | undefined {
  const raw = res.spec;
  if (typeof raw !== 'object' || raw === null) return undefined;
  const hostsRaw = (raw as { hosts?: unknown }).hosts;
  const pathsRaw = (raw as { paths?: unknown }).paths;
  const hosts = Array.isArray(hostsRaw) ? hostsRaw.filter((h): h is string => typeof h === 'string' && h !== '').map(normalizeHost) : [];
  if (hosts.length === 0) return undefined;
  const paths = Array.isArray(pathsRaw) ? pathsRaw.filter((p): p is string => typeof p === 'string' && p.startsWith('/')) : [];
  const first = problems.find((p) => p.severity === 'error');
  return deepFreeze({
    id: policyKey(res.namespace, res.name),
    namespace: res.namespace,
    name: res.name,
    generation: res.generation,
    hosts: [...new Set(hosts)],
    paths: paths.length === 0 ? ['/'] : [...new Set(paths)],
    methods: undefined,
    skip: [],
    endpoints: [],
    mode: 'any',
    authenticators: [],
    anonymous: undefined,
    rules: [],
    hooks: [],
    realm: hosts[0] ?? 'gatehouse',
    identityHeaders: lowerNames({
      consumerId: 'x-consumer-id',
      username: 'x-consumer-username',
      customId: 'x-consumer-custom-id',
      credential: 'x-credential-identifier',
      groups: 'x-authenticated-groups',
      anonymous: 'x-anonymous-consumer',
    }),
    headerNames: [],
    unauthenticated: { status: 401, headers: [], body: undefined },
    unauthorized: { status: 403, headers: [], body: undefined },
    failOpen: false,
    broken: first === undefined ? 'invalid policy' : `${first.path}: ${first.message}`,
    keyCount: 0,
  });
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    if (value instanceof Map || value instanceof Set) return value;
    Object.freeze(value);
    // Authenticators are class instances holding their own frozen state; freeze plain data only.
    const proto: unknown = Object.getPrototypeOf(value);
    if (proto === Object.prototype || Array.isArray(value)) {
      for (const v of Object.values(value)) deepFreeze(v);
    }
  }
  return value;
}
