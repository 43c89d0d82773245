// Compiles one `jwt` method the way `serve` does (schema defaults, Secrets, problems) and builds the
// requests it authenticates, for tests at the authenticator level.
import type { AuthnResult } from '../../src/core/ports.js';
import { JwtAuthenticator } from '../../src/authn/jwt/authenticator.js';
import type { JwtServices } from '../../src/authn/jwt/services.js';
import { CheckInput } from '../../src/core/input.js';
import { compilePolicy } from '../../src/policy/compile.js';
import type { Problem } from '../../src/config/problems.js';
import type { SecretResource } from '../../src/config/resources.js';
import { SecretIndex } from '../../src/config/secrets.js';

export const NAMESPACE = 'shop';
export const POLICY = 'shop/api';
/** 2030-01-01T00:00:00Z: the clock of authenticator tests, in ms. */
export const T0 = Date.UTC(2030, 0, 1);
export const S0 = T0 / 1000;

export function secret(name: string, data: Readonly<Record<string, string | Buffer>>): SecretResource {
  return {
    namespace: NAMESPACE,
    name,
    labels: {},
    annotations: {},
    data: new Map(Object.entries(data).map(([k, v]) => [k, typeof v === 'string' ? Buffer.from(v) : v])),
    origin: 'test',
  };
}

export interface CompileOptions {
  readonly services: JwtServices;
  readonly secrets?: readonly SecretResource[];
  readonly methodName?: string;
}

export type Compiled =
  | { readonly ok: true; readonly method: JwtAuthenticator; readonly problems: readonly Problem[] }
  | { readonly ok: false; readonly problems: readonly Problem[] };

export function compileJwtMethod(jwt: Readonly<Record<string, unknown>>, options: CompileOptions): Compiled {
  const index = new SecretIndex();
  for (const s of options.secrets ?? []) index.put(s);
  const spec = {
    hosts: ['api.example.com'],
    authentication: { methods: [{ name: options.methodName ?? 'tokens', jwt }] },
  };
  const result = compilePolicy(
    { namespace: NAMESPACE, name: 'api', generation: 1, creationTimestamp: undefined, spec, origin: 'test' },
    index,
    { clock: () => T0, jwt: options.services },
  );
  if (!result.ok) return { ok: false, problems: result.problems };
  const method = result.policy.authenticators[0];
  if (!(method instanceof JwtAuthenticator)) throw new Error('compiled method is not a JwtAuthenticator');
  return { ok: true, method, problems: result.problems };
}

/** Compiles or throws with every problem, for tests whose policy must be valid. */
export function mustCompile(jwt: Readonly<Record<string, unknown>>, options: CompileOptions): JwtAuthenticator {
  const c = compileJwtMethod(jwt, options);
  if (!c.ok) throw new Error(`policy does not compile:\n${c.problems.map((p) => `${p.path}: ${p.message}`).join('\n')}`);
  return c.method;
}

export function request(headers: Readonly<Record<string, string>> = {}, path = '/orders'): CheckInput {
  return new CheckInput({
    method: 'GET',
    scheme: 'https',
    host: 'api.example.com',
    path,
    headers: new Map(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v])),
    peer: '127.0.0.1',
  });
}

export function bearer(token: string): CheckInput {
  return request({ authorization: `Bearer ${token}` });
}

export async function authenticate(method: JwtAuthenticator, input: CheckInput, now = T0): Promise<AuthnResult> {
  return method.authenticate(input, { now, policy: POLICY, path: '/' });
}

/** The failure code of a result, `success` or `none`; for one-line assertions. */
export function outcome(r: AuthnResult): string {
  switch (r.kind) {
    case 'failure':
      return r.error.code;
    case 'success':
      return 'success';
    case 'none':
      return 'none';
    case 'respond':
      return `respond ${r.decision.status}`;
    default: {
      const never: never = r;
      throw new Error(`unknown result ${JSON.stringify(never)}`);
    }
  }
}
