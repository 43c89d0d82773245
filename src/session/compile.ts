// A policy's `session` block + its Secret + the process's stores -> the session authenticator,
// the create hook and the logout endpoint. Problems are reported with their field paths.
import type { AllowHook, Authenticator, Endpoint } from '../authn/authenticator.js';
import { parseDuration } from '../core/duration.js';
import type { Identity } from '../core/identity.js';
import type { CompileEnv, SecretLookup } from '../policy/compile-context.js';
import type { ProblemList } from '../policy/problems.js';
import { SessionAuthenticator, type SessionBackend, type SessionConfig } from './authenticator.js';
import { SessionCodec, SessionIdSigner, SessionKeys } from './codec.js';
import { compileCookieSpec, type CookieSpec } from './cookie.js';
import { SessionCreateHook } from './hook.js';
import { SessionLogout } from './logout.js';
import type { SessionSpec } from './policy-schema.js';
import { timeoutsProblem, type SessionTimeouts } from './record.js';
import { SessionServices } from './stores.js';

export interface SessionCompileContext {
  readonly policyId: string;
  readonly secrets: SecretLookup;
  readonly env: CompileEnv;
  readonly problems: ProblemList;
  /** Names of the policy's methods, in order. */
  readonly methodNames: readonly string[];
  readonly mode: 'any' | 'all';
}

export interface CompiledSession {
  readonly authenticator: Authenticator;
  readonly hook: AllowHook;
  readonly endpoints: readonly Endpoint[];
}

const FIELD = 'spec.session';

// Without configured services, memory sessions still work: one registry per CompileEnv keeps each
// policy's store across recompiles.
const fallback = new WeakMap<CompileEnv, SessionServices>();

function servicesFor(env: CompileEnv): SessionServices {
  if (env.sessions !== undefined) return env.sessions;
  let s = fallback.get(env);
  if (s === undefined) {
    s = new SessionServices();
    fallback.set(env, s);
  }
  return s;
}

export function compileSession(spec: SessionSpec, ctx: SessionCompileContext): CompiledSession | undefined {
  const { problems } = ctx;
  const before = problems.items.length;
  if (ctx.mode === 'all') {
    problems.error(FIELD, 'a session needs authentication.mode any (a session replaces the methods that created it)');
  }
  const createdBy = new Set(spec.createdBy ?? ctx.methodNames);
  (spec.createdBy ?? []).forEach((name, i) => {
    if (!ctx.methodNames.includes(name)) problems.error(`${FIELD}.createdBy[${i}]`, `no method named "${name}" in this policy`);
  });
  if (ctx.methodNames.length === 0) problems.error(FIELD, 'a session needs at least one method to create it');
  const timeouts = compileTimeouts(spec, problems);
  const cookie = compileCookie(spec, problems);
  const keys = compileKeys(spec, ctx);
  const services = servicesFor(ctx.env);
  const backend = keys === undefined ? undefined : compileBackend(spec, keys, services, ctx);
  if (problems.items.length > before || timeouts === undefined || cookie === undefined || backend === undefined) return undefined;

  const config: SessionConfig = {
    policyId: ctx.policyId,
    backend,
    cookie,
    persistent: spec.cookie.persistent,
    timeouts,
    services,
    fromSession: new WeakSet<Identity>(),
  };
  const endpoints: Endpoint[] = [];
  const logout = spec.logout;
  if (logout !== undefined) {
    if (logout.path === undefined && logout.queryArg === undefined && logout.postArg === undefined) {
      problems.error(`${FIELD}.logout`, 'set at least one of path, queryArg, postArg');
      return undefined;
    }
    endpoints.push(
      new SessionLogout(config, {
        path: logout.path,
        queryArg: logout.queryArg,
        postArg: logout.postArg,
        methods: new Set<string>(logout.methods),
        redirectTo: logout.redirectTo,
      }),
    );
  }
  return { authenticator: new SessionAuthenticator(config), hook: new SessionCreateHook(config, createdBy), endpoints };
}

function compileTimeouts(spec: SessionSpec, problems: ProblemList): SessionTimeouts | undefined {
  const absoluteMs = parseDuration(spec.absoluteTimeout);
  const idleMs = parseDuration(spec.idleTimeout);
  const renewBeforeMs = parseDuration(spec.renewBefore);
  if (absoluteMs === undefined || idleMs === undefined || renewBeforeMs === undefined) {
    problems.error(FIELD, 'timeouts must be durations');
    return undefined;
  }
  const t = { absoluteMs, idleMs, renewBeforeMs };
  const problem = timeoutsProblem(t);
  if (problem !== undefined) {
    problems.error(FIELD, problem);
    return undefined;
  }
  return t;
}

function compileCookie(spec: SessionSpec, problems: ProblemList): CookieSpec | undefined {
  const c = spec.cookie;
  try {
    return compileCookieSpec(
      { name: c.name, path: c.path, domain: c.domain, secure: c.secure, httpOnly: c.httpOnly, sameSite: c.sameSite },
      `${FIELD}.cookie`,
    );
  } catch (e) {
    problems.error(`${FIELD}.cookie`, e instanceof Error ? e.message : String(e));
    return undefined;
  }
}

function compileKeys(spec: SessionSpec, ctx: SessionCompileContext): SessionKeys | undefined {
  const field = `${FIELD}.secretRef`;
  const secret = ctx.secrets.get(spec.secretRef.name);
  if (secret === undefined) {
    ctx.problems.error(field, `Secret "${spec.secretRef.name}" not found`, 'SecretMissing');
    return undefined;
  }
  // Entry names order the keys: `a-2026-11` before `b-2026-05` seals; rotation renames nothing.
  const names = [...secret.data.keys()].sort();
  const values = names.map((n) => secret.data.get(n)).filter((v): v is Buffer => v !== undefined);
  try {
    return SessionKeys.derive({ audience: ctx.policyId, secrets: values });
  } catch (e) {
    // The message names the entry index and length problem, never a key.
    ctx.problems.error(field, `Secret "${spec.secretRef.name}": ${e instanceof Error ? e.message : String(e)}`, 'SecretInvalid');
    return undefined;
  }
}

function compileBackend(spec: SessionSpec, keys: SessionKeys, services: SessionServices, ctx: SessionCompileContext): SessionBackend | undefined {
  switch (spec.storage) {
    case 'cookie':
      return { kind: 'cookie', codec: new SessionCodec(keys) };
    case 'memory':
      return { kind: 'store', store: services.memory(ctx.policyId, ctx.env.clock), signer: new SessionIdSigner(keys) };
    case 'redis': {
      const store = services.redis();
      if (store === undefined) {
        ctx.problems.error(`${FIELD}.storage`, 'no Redis configured (--redis-url)');
        return undefined;
      }
      return { kind: 'store', store, signer: new SessionIdSigner(keys) };
    }
    default: {
      const never: never = spec.storage;
      throw new Error(`unknown storage ${String(never)}`);
    }
  }
}
