// A validated spec + the Secrets it references -> a frozen CompiledPolicy. Runs off the request path,
// once per policy or Secret change.
import type { AllowHook, Authenticator, Endpoint } from '../core/ports.js';
import { compileRules } from '../authz/rules.js';
import { splitHostPort } from '../core/input.js';
import { DEFAULT_IDENTITY_HEADER_NAMES, type HeaderPair } from '../core/identity.js';
import { configuredPath, normalizePath, PATH_CASE_INSENSITIVE, PATH_STRIP_PARAMETERS } from '../core/path.js';
import type { CompiledPolicy, DenyTemplate, SkipRule } from '../core/ports.js';
import type { CompileEnv } from './compile-context.js';
import { compileBlock, compileSessionBlock, logsIn, METHOD_KEYS, type MethodKey, type MethodParts, type PolicyView, type RuntimeDependency } from './methods.js';
import { type Dependencies, SecretLookup } from '../config/method-context.js';
import { type Problem, ProblemList } from '../config/problems.js';
import { exactList, shareEqual } from '../config/shared.js';
import { policyKey, type PolicyResource } from '../config/resources.js';
import type { AuthPolicySpec, IdentityHeaders } from './schema.js';
import type { SecretIndex } from '../config/secrets.js';
import { validateSpec } from './validate.js';

export type CompileResult =
  | {
      readonly ok: true;
      readonly policy: CompiledPolicy;
      readonly problems: readonly Problem[];
      readonly deps: Dependencies;
      /** What the policy needs at run time to be Ready (identity providers); the store watches them. */
      readonly runtime: readonly RuntimeDependency[];
    }
  | {
      readonly ok: false;
      readonly problems: readonly Problem[];
      readonly deps: Dependencies;
      /** A deny-only stand-in for the hosts/paths it claims, when those could be read. */
      readonly standIn: CompiledPolicy | undefined;
    };

/** `id` is the policy's `namespace/name`; the store passes the string it holds, so as not to keep a copy. */
export function compilePolicy(res: PolicyResource, secrets: SecretIndex, env: CompileEnv, id = policyKey(res.namespace, res.name)): CompileResult {
  const lookup = new SecretLookup(secrets, res.namespace);
  const validated = validateSpec(res.spec);
  if (!validated.ok) {
    return { ok: false, problems: validated.problems.items, deps: lookup.deps, standIn: standIn(res, id, validated.problems.items) };
  }
  const problems = new ProblemList();
  const runtime: RuntimeDependency[] = [];
  const policy = build(res, id, validated.spec, lookup, env, problems, runtime);
  if (problems.hasErrors) return { ok: false, problems: problems.items, deps: lookup.deps, standIn: standIn(res, id, problems.items) };
  // Exact lists: most policies have no problems and no run-time dependencies (one shared empty list).
  return { ok: true, policy, problems: exactList(problems.items), deps: lookup.deps, runtime: exactList(runtime) };
}

/** The one method block of a method entry, or why there is not exactly one. */
function blockOf(method: AuthPolicySpec['authentication']['methods'][number]): MethodKey | string {
  const keys = METHOD_KEYS.filter((k) => method[k] !== undefined);
  const key = keys[0];
  if (key !== undefined && keys.length === 1) return key;
  return key === undefined ? `no method block set (one of ${METHOD_KEYS.join(', ')})` : `only one method block may be set, found ${keys.join(', ')}`;
}

function isMethodKey(k: MethodKey | string): k is MethodKey {
  return (METHOD_KEYS as readonly string[]).includes(k);
}

function build(res: PolicyResource, id: string, spec: AuthPolicySpec, secrets: SecretLookup, env: CompileEnv, problems: ProblemList, runtime: RuntimeDependency[]): CompiledPolicy {
  const authenticators: Authenticator[] = [];
  const endpoints: Endpoint[] = [];
  const hooks: AllowHook[] = [];
  let keyCount = 0;
  const add = (parts: MethodParts): void => {
    authenticators.push(...parts.authenticators);
    endpoints.push(...parts.endpoints);
    hooks.push(...parts.hooks);
    keyCount += parts.keyCount;
    runtime.push(...(parts.dependencies ?? []));
  };
  const pathOptions = (spec.pathMatching.caseInsensitive ? PATH_CASE_INSENSITIVE : 0) | (spec.pathMatching.stripParameters ? PATH_STRIP_PARAMETERS : 0);
  const allowEncodedSlashes = spec.pathMatching.allowEncodedSlashes;
  const methods = spec.authentication.methods;
  const blocks = methods.map(blockOf);
  // The session is compiled first: methods that sign users in create sessions through it.
  const session =
    spec.session === undefined
      ? undefined
      : compileSessionBlock(
          spec.session,
          {
            policyId: id,
            secrets,
            problems,
            methodNames: methods.map((m) => m.name),
            loginMethods: methods.filter((_, i) => {
              const key = blocks[i];
              return key !== undefined && isMethodKey(key) && logsIn(key);
            }).map((m) => m.name),
            mode: spec.authentication.mode,
            pathOptions,
            allowEncodedSlashes,
          },
          env,
        );
  const hosts = [...new Set(spec.hosts.map(normalizeHost))];
  const paths = compilePaths(spec.paths, 'spec.paths', pathOptions, allowEncodedSlashes, problems);
  const view: PolicyView = {
    session: session?.session,
    sessionDeclared: spec.session !== undefined,
    hosts,
    paths,
    pathOptions,
    allowEncodedSlashes,
    anonymous: spec.anonymous !== undefined,
  };
  const names = new Set<string>();
  methods.forEach((method, i) => {
    const path = `spec.authentication.methods[${i}]`;
    if (names.has(method.name)) problems.error(`${path}.name`, `duplicate method name "${method.name}"`);
    names.add(method.name);
    const key = blocks[i] ?? '';
    if (!isMethodKey(key)) {
      problems.error(path, key);
      return;
    }
    const ctx = { policyId: id, namespace: res.namespace, methodName: method.name, path: `${path}.${key}`, problems, secrets };
    add(compileBlock(key, method, ctx, env, view));
  });
  const sessionLogout = spec.session?.logout?.path;
  methods.forEach((m, i) => {
    // The session's logout answers first: an oidc logout on the same path would never revoke nor visit the provider.
    if (sessionLogout !== undefined && m.oidc?.logout?.path === sessionLogout) {
      problems.error('spec.session.logout.path', `same path as spec.authentication.methods[${i}].oidc.logout.path; the oidc logout also ends the session, keep only that one`);
    }
  });
  // The session cookie is tried before the methods, and its endpoints (logout) answer first.
  if (session !== undefined) {
    authenticators.unshift(...session.authenticators);
    endpoints.unshift(...session.endpoints);
    hooks.push(...session.hooks);
  }
  if (authenticators.length === 0 && spec.anonymous === undefined && !problems.hasErrors) {
    problems.error('spec.authentication.methods', 'no method and no anonymous consumer: every request would be denied');
  }
  const skip = spec.skip.map(
    (s, i): SkipRule => ({
      paths: s.paths === undefined ? undefined : compilePaths(s.paths, `spec.skip[${i}].paths`, pathOptions, allowEncodedSlashes, problems),
      methods: s.methods === undefined ? undefined : new Set<string>(s.methods),
    }),
  );
  if (spec.otherMethods === 'fallThrough' && spec.methods === undefined) {
    problems.warn('spec.otherMethods', 'fallThrough has no effect without spec.methods: the policy covers every method');
  }
  const identityHeaders = shareEqual('identity-headers', lowerNames(spec.response.identityHeaders));
  const headerNames = new Set<string>(Object.values(identityHeaders));
  for (const a of authenticators) for (const h of a.headerNames) headerNames.add(h.toLowerCase());
  const realm = spec.response.realm ?? hosts[0] ?? 'gatehouse';
  return deepFreeze({
    id,
    namespace: res.namespace,
    name: res.name,
    generation: res.generation,
    hosts,
    paths: shareEqual('paths', paths),
    methods: spec.methods === undefined ? undefined : new Set<string>(spec.methods),
    otherMethods: spec.otherMethods,
    pathOptions,
    allowEncodedSlashes,
    skip: exactList(skip),
    endpoints: exactList(endpoints),
    mode: spec.authentication.mode,
    authenticators: exactList(authenticators),
    anonymous:
      spec.anonymous === undefined
        ? undefined
        : {
            id: spec.anonymous.id,
            username: spec.anonymous.username,
            customId: spec.anonymous.customId,
            groups: spec.anonymous.groups ?? [],
          },
    rules: exactList(compileRules(spec.authorization, problems, 'spec.authorization')),
    hooks: exactList(hooks),
    realm,
    identityHeaders,
    headerNames: shareEqual('header-names', [...headerNames]),
    unauthenticated: shareEqual('deny', denyTemplate(spec.response.unauthenticated, 401)),
    unauthorized: shareEqual('deny', denyTemplate(spec.response.unauthorized, 403)),
    failOpen: spec.failureMode === 'open',
    broken: undefined,
    keyCount,
    enforcement: spec.enforcement,
  });
}

/** Policy paths in the form requests are compared in; a path not in normal form is a problem. */
function compilePaths(list: readonly string[], field: string, options: number, allowEncodedSlashes: boolean, problems: ProblemList): string[] {
  const out = new Set<string>();
  list.forEach((p, i) => {
    const c = configuredPath(p, options, allowEncodedSlashes);
    if (c.ok) out.add(c.path);
    else problems.error(`${field}[${i}]`, c.message);
  });
  return [...out];
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

function normalizeHost(host: string): string {
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
function standIn(res: PolicyResource, id: string, problems: readonly Problem[]): CompiledPolicy | undefined {
  const raw = res.spec;
  if (typeof raw !== 'object' || raw === null) return undefined;
  const hostsRaw = (raw as { hosts?: unknown }).hosts;
  const pathsRaw = (raw as { paths?: unknown }).paths;
  // A policy meant to be a shadow stays one while invalid: denying its hosts would break live traffic.
  const enforcement = (raw as { enforcement?: unknown }).enforcement === 'shadow' ? 'shadow' : 'enforce';
  const hosts = Array.isArray(hostsRaw) ? hostsRaw.filter((h): h is string => typeof h === 'string' && h !== '').map(normalizeHost) : [];
  if (hosts.length === 0) return undefined;
  // Denying more than the policy claimed is the safe side: a path that cannot be read becomes `/`.
  const paths = Array.isArray(pathsRaw)
    ? pathsRaw.map((p) => {
        const n = typeof p === 'string' ? normalizePath(p) : undefined;
        return n?.ok === true ? n.path : '/';
      })
    : [];
  const first = problems.find((p) => p.severity === 'error');
  return deepFreeze({
    id,
    namespace: res.namespace,
    name: res.name,
    generation: res.generation,
    hosts: [...new Set(hosts)],
    paths: paths.length === 0 ? ['/'] : [...new Set(paths)],
    methods: undefined,
    otherMethods: 'refuse',
    pathOptions: 0,
    allowEncodedSlashes: false,
    skip: [],
    endpoints: [],
    mode: 'any',
    authenticators: [],
    anonymous: undefined,
    rules: [],
    hooks: [],
    realm: hosts[0] ?? 'gatehouse',
    identityHeaders: DEFAULT_IDENTITY_HEADER_NAMES,
    headerNames: [],
    unauthenticated: { status: 401, headers: [], body: undefined },
    unauthorized: { status: 403, headers: [], body: undefined },
    failOpen: false,
    broken: first === undefined ? 'invalid policy' : `${first.path}: ${first.message}`,
    keyCount: 0,
    enforcement,
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
