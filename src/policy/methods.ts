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
import type { MethodContext } from '../config/method-context.js';
import type { AllowHook, Authenticator, Endpoint } from '../core/ports.js';
import { compileSession, type SessionCompileContext, type SessionDeps } from '../session/compile.js';
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
}

interface MethodEntry<S extends TSchema> {
  readonly schema: S;
  readonly compile: (spec: Static<S>, ctx: MethodContext, env: CompileEnv) => MethodParts;
}

function entry<S extends TSchema>(schema: S, compile: MethodEntry<S>['compile']): MethodEntry<S> {
  return { schema, compile };
}

/** Just an authenticator. */
function alone(authenticator: Authenticator & { readonly keyCount?: number }): MethodParts {
  return { authenticators: [authenticator], endpoints: [], hooks: [], keyCount: authenticator.keyCount ?? 0 };
}

export const METHODS = {
  apiKey: entry(ApiKeySpec, (spec, ctx) => alone(compileApiKey(spec, ctx))),
  jwt: entry(JwtSpec, (spec, ctx, env) => alone(compileJwt(spec, ctx, jwtServicesOf(env)))),
};

export type MethodKey = keyof typeof METHODS;
export const METHOD_KEYS = Object.freeze(Object.keys(METHODS) as MethodKey[]);
export type MethodSpec<K extends MethodKey> = Static<(typeof METHODS)[K]['schema']>;

/** Compiles block `key` of a method entry, known to be set. */
export function compileBlock<K extends MethodKey>(key: K, method: { readonly [P in MethodKey]?: MethodSpec<P> | undefined }, ctx: MethodContext, env: CompileEnv): MethodParts {
  const spec = method[key] as MethodSpec<K>;
  // The table pairs each key with its own spec type; TypeScript cannot follow that through K.
  const compile = METHODS[key].compile as (spec: MethodSpec<K>, ctx: MethodContext, env: CompileEnv) => MethodParts;
  return compile(spec, ctx, env);
}

/**
 * The policy-level `session` block registers like a method: one authenticator (its cookie), its
 * logout endpoints and the hook that creates sessions after another method succeeds.
 */
export function compileSessionBlock(spec: SessionSpec, ctx: SessionCompileContext, env: CompileEnv): MethodParts | undefined {
  const s = compileSession(spec, ctx, sessionDepsOf(env));
  return s === undefined ? undefined : { authenticators: [s.authenticator], endpoints: s.endpoints, hooks: [s.hook], keyCount: 0 };
}

function jwtServicesOf(env: CompileEnv): JwtServices {
  return env.jwt ?? defaultJwtServices();
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
