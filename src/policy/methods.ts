// The method table: every authentication method a policy can name in
// `spec.authentication.methods[].<key>`, with its schema block and its compiler. The schema union, the
// list of method keys and the CRD's "exactly one method block" rule are derived from it, so adding a
// method is a folder beside the others and one entry here. A method registers whole: the
// authenticators, endpoints (callbacks, logout) and allow hooks (sessions) it brings.
import type { Static, TSchema } from '@sinclair/typebox';
import { compileApiKey } from '../authn/api-key.js';
import { ApiKeySpec } from '../authn/api-key-schema.js';
import { compileJwt } from '../authn/jwt/authenticator.js';
import { JwtSpec } from '../authn/jwt/schema.js';
import { defaultJwtServices, type JwtServices } from '../authn/jwt/services.js';
import { compileOidc, type OidcPolicyView, type ProviderDependency } from '../authn/oidc/compile.js';
import { OidcSpec } from '../authn/oidc/schema.js';
import { OidcServices } from '../authn/oidc/services.js';
import type { MethodContext } from '../config/method-context.js';
import type { AllowHook, Authenticator, Endpoint } from '../core/ports.js';
import { compileSession, type SessionCompileContext, type SessionDeps } from '../session/compile.js';
import type { PolicySession } from '../session/handle.js';
import type { SessionSpec } from '../session/policy-schema.js';
import { SessionServices } from '../session/services.js';
import type { CompileEnv } from './compile-context.js';

/** What one method (or the session block) adds to a compiled policy. */
export interface MethodParts {
  readonly authenticators: readonly Authenticator[];
  readonly endpoints: readonly Endpoint[];
  readonly hooks: readonly AllowHook[];
  /** API keys held, for the gauge. */
  readonly keyCount: number;
  /** What the policy needs at run time to be Ready (an identity provider that has answered once). */
  readonly dependencies?: readonly RuntimeDependency[];
}

/** Something a compiled policy depends on whose absence makes it not Ready (status `ProviderUnavailable`). */
export type RuntimeDependency = ProviderDependency;

/** What the policy around a method offers it: its session (for methods that sign users in), hosts, paths. */
export type PolicyView = OidcPolicyView;

interface MethodEntry<S extends TSchema> {
  readonly schema: S;
  readonly compile: (spec: Static<S>, ctx: MethodContext, env: CompileEnv, policy: PolicyView) => MethodParts;
  /** The method signs users in at a callback of its own and creates their sessions there, not through the create hook. */
  readonly logsIn: boolean;
}

function entry<S extends TSchema>(schema: S, compile: MethodEntry<S>['compile'], logsIn = false): MethodEntry<S> {
  return { schema, compile, logsIn };
}

/** Just an authenticator. */
function alone(authenticator: Authenticator & { readonly keyCount?: number }): MethodParts {
  return { authenticators: [authenticator], endpoints: [], hooks: [], keyCount: authenticator.keyCount ?? 0 };
}

export const METHODS = {
  apiKey: entry(ApiKeySpec, (spec, ctx) => alone(compileApiKey(spec, ctx))),
  jwt: entry(JwtSpec, (spec, ctx, env) => alone(compileJwt(spec, ctx, jwtServicesOf(env)))),
  oidc: entry(
    OidcSpec,
    (spec, ctx, env, policy) => {
      const parts = compileOidc(spec, ctx, jwtServicesOf(env), oidcServicesOf(env), policy);
      return { authenticators: [parts.authenticator], endpoints: parts.endpoints, hooks: [], keyCount: 0, dependencies: [parts.dependency] };
    },
    true,
  ),
};

export type MethodKey = keyof typeof METHODS;
export const METHOD_KEYS = Object.freeze(Object.keys(METHODS) as MethodKey[]);
export type MethodSpec<K extends MethodKey> = Static<(typeof METHODS)[K]['schema']>;

/** Compiles block `key` of a method entry, known to be set. */
export function compileBlock<K extends MethodKey>(
  key: K,
  method: { readonly [P in MethodKey]?: MethodSpec<P> | undefined },
  ctx: MethodContext,
  env: CompileEnv,
  policy: PolicyView,
): MethodParts {
  const spec = method[key] as MethodSpec<K>;
  // The table pairs each key with its own spec type; TypeScript cannot follow that through K.
  const compile = METHODS[key].compile as (spec: MethodSpec<K>, ctx: MethodContext, env: CompileEnv, policy: PolicyView) => MethodParts;
  return compile(spec, ctx, env, policy);
}

/** Whether the methods of block `key` create their own sessions (see MethodEntry.logsIn). */
export function logsIn(key: MethodKey): boolean {
  return METHODS[key].logsIn;
}

/**
 * The policy-level `session` block registers like a method: one authenticator (its cookie), its
 * logout endpoints and the hook that creates sessions after another method succeeds. It is compiled
 * before the methods, which get its handle (`session`) to create sessions at their callbacks.
 */
export function compileSessionBlock(spec: SessionSpec, ctx: SessionCompileContext, env: CompileEnv): (MethodParts & { readonly session: PolicySession }) | undefined {
  const s = compileSession(spec, ctx, sessionDepsOf(env));
  return s === undefined ? undefined : { authenticators: [s.authenticator], endpoints: s.endpoints, hooks: [s.hook], keyCount: 0, session: s.handle };
}

function jwtServicesOf(env: CompileEnv): JwtServices {
  return env.jwt ?? defaultJwtServices();
}

// One set of OpenID services per CompileEnv: providers (discovery, keys) survive recompiles. Offline
// (never fetching) when the environment's key caches are, as `gatehouse validate` makes them.
const oidcServices = new WeakMap<CompileEnv, OidcServices>();

function oidcServicesOf(env: CompileEnv): OidcServices {
  let services = oidcServices.get(env);
  if (services === undefined) {
    const jwks = jwtServicesOf(env).jwks.options;
    const created = new OidcServices({ jwks, logger: jwks.logger.child({ component: 'oidc' }) });
    // Providers stop (background discovery, requests under way) when the process's sessions close at shutdown.
    env.sessions?.closeAlongside(() => created.close());
    oidcServices.set(env, (services = created));
  }
  return services;
}

// Without configured services, memory and cookie sessions still work: one set per CompileEnv keeps each
// policy's store (and the logouts) across recompiles.
const fallback = new WeakMap<CompileEnv, SessionServices>();

function sessionDepsOf(env: CompileEnv): SessionDeps {
  let services = env.sessions;
  if (services === undefined) {
    services = fallback.get(env);
    if (services === undefined) fallback.set(env, (services = new SessionServices()));
  }
  return { services, logouts: env.jwt?.revocation ?? services.localLogouts(env.clock), clock: env.clock };
}
