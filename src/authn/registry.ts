// Method name in the policy -> compiler. Adding a method is one entry here and one file beside it.
import type { MethodContext } from '../policy/compile-context.js';
import { METHOD_KEYS, type AuthMethod, type MethodKey } from '../policy/schema.js';
import { compileApiKey } from './api-key.js';
import type { Authenticator } from '../core/ports.js';
import { compileJwt } from './jwt.js';

type Compilers = {
  readonly [K in MethodKey]: (spec: NonNullable<AuthMethod[K]>, ctx: MethodContext) => Authenticator & { readonly keyCount?: number };
};

const COMPILERS: Compilers = {
  apiKey: compileApiKey,
  jwt: compileJwt,
};

/** The single method block set on a method entry, or the list of those set when not exactly one. */
export function methodBlock(method: AuthMethod): MethodKey | MethodKey[] {
  const set = METHOD_KEYS.filter((k) => method[k] !== undefined);
  return set.length === 1 && set[0] !== undefined ? set[0] : set;
}

export function compileMethod(method: AuthMethod, key: MethodKey, ctx: MethodContext): Authenticator & { readonly keyCount?: number } {
  switch (key) {
    case 'apiKey':
      return COMPILERS.apiKey(must(method.apiKey), ctx);
    case 'jwt':
      return COMPILERS.jwt(must(method.jwt), ctx);
    default: {
      const never: never = key;
      throw new Error(`unknown method ${String(never)}`);
    }
  }
}

function must<T>(v: T | undefined): T {
  if (v === undefined) throw new Error('method block missing');
  return v;
}
