// What a policy becomes once compiled: frozen matchers and ready-to-run methods. The Check path reads
// only these objects.
import type { AllowHook, Authenticator, Endpoint } from '../authn/authenticator.js';
import type { Rule } from '../authz/rules.js';
import type { HeaderPair } from '../core/identity.js';
import type { IdentityHeaders } from './schema.js';

export interface SkipRule {
  readonly paths: readonly string[] | undefined;
  readonly methods: ReadonlySet<string> | undefined;
}

export interface DenyTemplate {
  readonly status: number;
  readonly headers: readonly HeaderPair[];
  /** A fixed body, or undefined for the default JSON `{"code","message"}`. */
  readonly body: { readonly contentType: string; readonly text: string } | undefined;
}

export interface CompiledPolicy {
  /** `namespace/name`. */
  readonly id: string;
  readonly namespace: string;
  readonly name: string;
  readonly generation: number;
  readonly hosts: readonly string[];
  readonly paths: readonly string[];
  readonly methods: ReadonlySet<string> | undefined;
  /** What a method outside `methods` gets when this policy's path matched best. */
  readonly otherMethods: 'refuse' | 'fallThrough';
  /** Path matching options (CheckInput.pathVariant bits); `paths` and skip paths are stored in that form. */
  readonly pathOptions: number;
  /** `%2F`/`%5C` in a request path are accepted as data instead of refused. */
  readonly allowEncodedSlashes: boolean;
  readonly skip: readonly SkipRule[];
  readonly endpoints: readonly Endpoint[];
  readonly mode: 'any' | 'all';
  readonly authenticators: readonly Authenticator[];
  readonly anonymous: AnonymousConsumer | undefined;
  readonly rules: readonly Rule[];
  readonly hooks: readonly AllowHook[];
  readonly realm: string;
  readonly identityHeaders: IdentityHeaders;
  /** Every header name this policy may set upstream; all are stripped from client requests. */
  readonly headerNames: readonly string[];
  readonly unauthenticated: DenyTemplate;
  readonly unauthorized: DenyTemplate;
  readonly failOpen: boolean;
  /** Set when the policy could not be compiled: it serves only denials (`policy_invalid`). */
  readonly broken: string | undefined;
  /** Number of API keys held (for the gauge). */
  readonly keyCount: number;
}

export interface AnonymousConsumer {
  readonly id: string;
  readonly username: string | undefined;
  readonly customId: string | undefined;
  readonly groups: readonly string[];
}
