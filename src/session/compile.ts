// A policy's `session` block + its Secret + the process's stores -> the session authenticator,
// the create hook and the logout endpoint. Problems are reported with their field paths.
import type { AllowHook, Authenticator, Endpoint } from '../core/ports.js';
import { parseDuration } from '../core/duration.js';
import { configuredPath } from '../core/path.js';
import type { Identity } from '../core/identity.js';
import type { SecretLookup } from '../config/method-context.js';
import type { RevocationList } from '../revocation/revocation.js';
import type { ProblemList } from '../config/problems.js';
import { SessionAuthenticator, type SessionBackend, type SessionConfig } from './authenticator.js';
import { SessionCodec, SessionIdSigner, SessionKeys } from './codec.js';
import { compileCookieSpec, cookieProblem, type CookieSpec } from './cookie.js';
import { SessionCreateHook } from './hook.js';
import { PolicySession } from './handle.js';
import { SessionLogout, type LogoutOptions, type LogoutTriggers } from './logout.js';
import { cookieLogouts } from './logouts.js';
import type { SessionLogoutEverywhereSpec, SessionLogoutSpec, SessionSpec } from './policy-schema.js';
import { timeoutsProblem, type SessionTimeouts } from './record.js';
import type { SessionServices } from './services.js';

export interface SessionCompileContext {
  readonly policyId: string;
  readonly secrets: SecretLookup;
  readonly problems: ProblemList;
  /** Names of the policy's methods, in order. */
  readonly methodNames: readonly string[];
  /**
   * Methods that sign users in at a callback of their own and create sessions there (OpenID
   * Connect), never through the create hook: left out of the `createdBy` default.
   */
  readonly loginMethods: readonly string[];
  readonly mode: 'any' | 'all';
  /** The policy's path matching (CheckInput.pathVariant bits): logout paths are compared in that form. */
  readonly pathOptions: number;
  readonly allowEncodedSlashes: boolean;
}

/** The process-wide parts sessions use. */
export interface SessionDeps {
  readonly services: SessionServices;
  /** Where cookie-storage logouts are kept: the process's revocation list (Redis with --redis-url). */
  readonly logouts: RevocationList;
  readonly clock: () => number;
}

export interface CompiledSession {
  /** What login methods use: create and end sessions, seal login state, register companions. */
  readonly handle: PolicySession;
  readonly authenticator: Authenticator;
  readonly hook: AllowHook;
  readonly endpoints: readonly Endpoint[];
}

const FIELD = 'spec.session';

export function compileSession(spec: SessionSpec, ctx: SessionCompileContext, deps: SessionDeps): CompiledSession | undefined {
  const { problems } = ctx;
  const before = problems.items.length;
  if (ctx.mode === 'all') {
    problems.error(FIELD, 'a session needs authentication.mode any (a session replaces the methods that created it)');
  }
  const createdBy = new Set(spec.createdBy ?? ctx.methodNames.filter((m) => !ctx.loginMethods.includes(m)));
  (spec.createdBy ?? []).forEach((name, i) => {
    if (!ctx.methodNames.includes(name)) problems.error(`${FIELD}.createdBy[${i}]`, `no method named "${name}" in this policy`);
    else if (ctx.loginMethods.includes(name)) {
      problems.error(`${FIELD}.createdBy[${i}]`, `"${name}" creates its sessions at its own callback; leave it out of createdBy`);
    }
  });
  if (ctx.methodNames.length === 0) problems.error(FIELD, 'a session needs at least one method to create it');
  const timeouts = compileTimeouts(spec, problems);
  const cookie = compileCookie(spec, ctx, problems);
  const keys = compileKeys(spec, ctx);
  const services = deps.services;
  const backend = keys === undefined ? undefined : compileBackend(spec, keys, deps, ctx);
  const logout = spec.logout === undefined ? undefined : compileLogout(spec.logout, spec.storage, ctx);
  if (errorsSince(problems, before) || timeouts === undefined || cookie === undefined || keys === undefined || backend === undefined) return undefined;

  const config: SessionConfig = {
    policyId: ctx.policyId,
    backend,
    cookie,
    persistent: spec.cookie.persistent,
    timeouts,
    services,
    fromSession: new WeakSet<Identity>(),
    companions: new Map(),
  };
  const endpoints: Endpoint[] = [];
  if (logout !== undefined) endpoints.push(new SessionLogout(config, logout));
  return {
    handle: new PolicySession(config, keys, spec.storage),
    authenticator: new SessionAuthenticator(config),
    hook: new SessionCreateHook(config, createdBy),
    endpoints,
  };
}

/** Whether an error (not a warning) was reported after the first `before` problems. */
function errorsSince(problems: ProblemList, before: number): boolean {
  return problems.items.slice(before).some((p) => p.severity === 'error');
}

function compileLogout(spec: SessionLogoutSpec, storage: SessionSpec['storage'], ctx: SessionCompileContext): LogoutOptions | undefined {
  const { problems } = ctx;
  const field = `${FIELD}.logout`;
  const before = problems.items.length;
  const triggers = (t: SessionLogoutEverywhereSpec, at: string): LogoutTriggers | undefined =>
    t.path === undefined && t.queryArg === undefined && t.postArg === undefined
      ? undefined
      : { path: t.path === undefined ? undefined : logoutPath(t.path, `${at}.path`, ctx), queryArg: t.queryArg, postArg: t.postArg };
  const session = triggers(spec, field);
  const all = spec.everywhere;
  const everywhere = all === undefined ? undefined : triggers(all, `${field}.everywhere`);
  if (all !== undefined && everywhere === undefined) problems.error(`${field}.everywhere`, 'set at least one of path, queryArg, postArg');
  if (session === undefined && all === undefined) problems.error(field, 'set at least one of path, queryArg, postArg, everywhere');
  if (all !== undefined && storage === 'cookie') {
    problems.error(
      `${field}.everywhere`,
      'log out everywhere needs storage redis or memory: cookie-stored sessions are kept by the browsers alone, so there is no list of a consumer\'s sessions to end',
    );
  }
  if (session !== undefined && everywhere !== undefined) {
    // The same trigger for both would make plain logout unreachable: everywhere is checked first.
    for (const key of ['path', 'queryArg', 'postArg'] as const) {
      if (session[key] !== undefined && session[key] === everywhere[key]) {
        problems.error(`${field}.everywhere.${key}`, `same as ${field}.${key}; log out everywhere needs its own`);
      }
    }
  }
  if (problems.items.length > before) return undefined;
  return { session, everywhere, methods: new Set<string>(spec.methods), redirectTo: spec.redirectTo };
}

/** A logout path in the form the policy compares request paths in; a problem when not normal. */
function logoutPath(path: string, field: string, ctx: SessionCompileContext): string {
  const c = configuredPath(path, ctx.pathOptions, ctx.allowEncodedSlashes);
  if (c.ok) return c.path;
  ctx.problems.error(field, c.message);
  return path;
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

function compileCookie(spec: SessionSpec, ctx: SessionCompileContext, problems: ProblemList): CookieSpec | undefined {
  const c = spec.cookie;
  // The return from an identity provider is a cross-site navigation: a Strict cookie set at the
  // callback is not sent with it, so the first page after login would look logged out.
  const login = ctx.loginMethods.length > 0;
  const sameSite = c.sameSite ?? (login ? 'Lax' : 'Strict');
  if (login && c.sameSite === 'Strict') {
    problems.warn(
      `${FIELD}.cookie.sameSite`,
      `Strict with a login method (${ctx.loginMethods.join(', ')}): browsers do not send a Strict cookie with the navigation back from the identity provider, so the first page after login looks logged out; use Lax`,
      'Invalid',
    );
  }
  const options = { name: c.name, path: c.path, domain: c.domain, secure: c.secure, httpOnly: c.httpOnly, sameSite };
  const problem = cookieProblem(options);
  if (problem === undefined) return compileCookieSpec(options);
  problems.error(`${FIELD}.cookie.${problem.field}`, problem.message);
  return undefined;
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

function compileBackend(spec: SessionSpec, keys: SessionKeys, deps: SessionDeps, ctx: SessionCompileContext): SessionBackend | undefined {
  const { services } = deps;
  switch (spec.storage) {
    case 'cookie': {
      return { kind: 'cookie', codec: new SessionCodec(keys), logouts: cookieLogouts(deps.logouts, ctx.policyId) };
    }
    case 'memory':
      return { kind: 'store', store: services.memory(ctx.policyId, deps.clock), signer: new SessionIdSigner(keys) };
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
