// The AuthPolicy resource (gatehouse.dev/v1alpha1). Types, validation and the CRD come from here.
import { Type, type Static, type TOptional } from '@sinclair/typebox';
import { ClaimRules } from '../authz/claims-schema.js';
import { DEFAULT_IDENTITY_HEADER_NAMES as D } from '../core/identity.js';
import { HeaderName, HttpMethod, StringEnum } from '../config/schema-common.js';
import { SessionSpec } from '../session/policy-schema.js';
import { METHOD_KEYS, METHODS, type MethodKey } from './methods.js';

export const API_GROUP = 'gatehouse.dev';
export const API_VERSION = 'v1alpha1';
export const KIND = 'AuthPolicy';
export const PLURAL = 'authpolicies';

const HOST_PATTERN = '^(\\*|(\\*\\.)?[a-zA-Z0-9]([a-zA-Z0-9-]{0,62})(\\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,62}))*)(:[0-9]{1,5})?$';

const PathPrefix = Type.String({
  pattern: '^/',
  maxLength: 1024,
  description: 'Path prefix in normal form, matched at segment boundaries (`/static` matches `/static` and `/static/x`, not `/static-x`); query excluded.',
});

export const PathMatching = Type.Object(
  {
    caseInsensitive: Type.Boolean({
      default: false,
      description: 'Match `paths`, `skip.paths` and endpoint paths ignoring case: for upstreams that serve `/Admin` as `/admin` (IIS, case-insensitive file systems).',
    }),
    stripParameters: Type.Boolean({
      default: false,
      description: 'Ignore `;parameters` in every path segment when matching (`/admin;jsessionid=1` is `/admin`): for Tomcat, Jetty and Spring upstreams.',
    }),
    allowEncodedSlashes: Type.Boolean({
      default: false,
      description:
        'Accept `%2F` and `%5C` in paths (as data inside a segment) instead of refusing them with 400: only for upstreams that never decode them into separators (e.g. ids like `group%2Fproject`).',
    }),
  },
  { additionalProperties: false, default: {}, description: 'How request paths are compared with this policy\'s paths, for upstreams that read paths loosely.' },
);

// One optional block per entry of the method table; exactly one is set (schema rule here, checked again
// with a field path at compile).
const methodBlocks = Object.fromEntries(METHOD_KEYS.map((k) => [k, Type.Optional(METHODS[k].schema)])) as {
  [K in MethodKey]: TOptional<(typeof METHODS)[K]['schema']>;
};

export const AuthMethod = Type.Object(
  {
    name: Type.String({
      pattern: '^[a-z0-9]([-a-z0-9_]{0,61}[a-z0-9])?$',
      description: 'Name of this method, used in metrics, logs and `x-credential-identifier`-style headers.',
    }),
    ...methodBlocks,
  },
  {
    additionalProperties: false,
    description: 'One authentication method. Exactly one method block (such as `apiKey`) is set.',
    'x-kubernetes-validations': [
      { rule: `[${METHOD_KEYS.map((k) => `has(self.${k})`).join(', ')}].filter(x, x).size() == 1`, message: 'exactly one method block must be set' },
    ],
  },
);
export type AuthMethod = Static<typeof AuthMethod>;

const Consumer = Type.Object(
  {
    id: Type.String({ minLength: 1, maxLength: 256, description: 'Consumer id (`x-consumer-id`).' }),
    username: Type.Optional(Type.String({ maxLength: 256, description: '`x-consumer-username`.' })),
    customId: Type.Optional(Type.String({ maxLength: 256, description: '`x-consumer-custom-id`.' })),
    groups: Type.Optional(Type.Array(Type.String({ maxLength: 256 }), { maxItems: 64, description: '`x-authenticated-groups`.' })),
  },
  { additionalProperties: false },
);

const DenyResponse = (status: number, description: string) =>
  Type.Object(
    {
      status: Type.Integer({ minimum: 200, maximum: 599, default: status, description: 'HTTP status.' }),
      headers: Type.Optional(
        Type.Record(Type.String({ pattern: '^[A-Za-z0-9-]+$' }), Type.String({ maxLength: 4096 }), {
          description: 'Extra response headers.',
        }),
      ),
      body: Type.Optional(
        Type.Object(
          {
            json: Type.Optional(
              Type.Record(Type.String(), Type.Unknown(), { description: 'JSON object body.' }),
            ),
            text: Type.Optional(Type.String({ maxLength: 65536, description: 'Plain text body.' })),
          },
          { additionalProperties: false, description: 'Body; default `{"code":..., "message":...}`.' },
        ),
      ),
    },
    { additionalProperties: false, description },
  );

export const IdentityHeaders = Type.Object(
  {
    consumerId: HeaderName('Consumer id header.', D.consumerId),
    username: HeaderName('Consumer username header.', D.username),
    customId: HeaderName('Consumer custom id header.', D.customId),
    credential: HeaderName('Credential identifier header.', D.credential),
    groups: HeaderName('Groups header (comma separated).', D.groups),
    anonymous: HeaderName('Set to `true` for the anonymous consumer.', D.anonymous),
  },
  { additionalProperties: false, default: {}, description: 'Names of the identity headers sent upstream.' },
);
export type IdentityHeaders = Static<typeof IdentityHeaders>;

export const AuthPolicySpec = Type.Object(
  {
    hosts: Type.Array(Type.String({ pattern: HOST_PATTERN, maxLength: 259 }), {
      minItems: 1,
      maxItems: 64,
      // A set: the API server refuses a repeated host (`x-kubernetes-list-type`), `gatehouse validate` too (`uniqueItems`,
      // which a CRD may not carry).
      uniqueItems: true,
      'x-kubernetes-list-type': 'set',
      description: 'Hosts this policy serves. Exact names beat `*.suffix` wildcards; `*` is the catch-all; a `:port` is ignored.',
    }),
    paths: Type.Array(PathPrefix, {
      minItems: 1,
      maxItems: 64,
      default: ['/'],
      description: 'Path prefixes. The longest matching prefix over all policies of a host wins.',
    }),
    methods: Type.Optional(
      Type.Array(HttpMethod, { minItems: 1, maxItems: 9, description: 'Only these methods (default: all).' }),
    ),
    otherMethods: StringEnum(['refuse', 'fallThrough'] as const, {
      default: 'refuse',
      description:
        'With `methods`: a request whose path this policy matches best but whose method no policy at that path covers is refused with 405 (`refuse`), or decided by the next less specific policy (`fallThrough`).',
    }),
    pathMatching: PathMatching,
    skip: Type.Array(
      Type.Object(
        {
          paths: Type.Optional(Type.Array(PathPrefix, { maxItems: 64, description: 'Path prefixes this rule covers (default: all).' })),
          methods: Type.Optional(Type.Array(HttpMethod, { maxItems: 9, description: 'Methods this rule covers (default: all).' })),
        },
        { additionalProperties: false },
      ),
      {
        maxItems: 64,
        default: [],
        description: 'Requests matching a rule (all of its paths/methods that are set) pass without authentication.',
      },
    ),
    authentication: Type.Object(
      {
        mode: StringEnum(['any', 'all'] as const, {
          default: 'any',
          description: '`any`: the first method that succeeds wins (Kong multiple authentication). `all`: every method must.',
        }),
        methods: Type.Array(AuthMethod, { maxItems: 16, description: 'Methods, tried in order.' }),
      },
      { additionalProperties: false, description: 'How requests prove who they are.' },
    ),
    anonymous: Type.Optional(
      Type.Object(
        {
          ...Consumer.properties,
        },
        { additionalProperties: false, description: 'Consumer used when no credential is presented at all.' },
      ),
    ),
    authorization: Type.Object(
      {
        groups: Type.Optional(
          Type.Object(
            {
              anyOf: Type.Optional(
                Type.Array(Type.String(), { minItems: 1, maxItems: 64, description: 'The consumer must be in at least one of these groups.' }),
              ),
              allOf: Type.Optional(Type.Array(Type.String(), { minItems: 1, maxItems: 64, description: 'The consumer must be in every one of these groups.' })),
            },
            { additionalProperties: false, description: 'Group membership required (403 otherwise).' },
          ),
        ),
        consumers: Type.Optional(
          Type.Array(Type.String({ minLength: 1 }), {
            minItems: 1,
            maxItems: 1024,
            description: 'Only these consumers (by id or username) are allowed (403 otherwise).',
          }),
        ),
        claims: Type.Optional(ClaimRules),
        allowAnonymous: Type.Boolean({
          default: true,
          description: 'When false, the anonymous consumer is refused with 403 while known consumers pass.',
        }),
      },
      { additionalProperties: false, default: {}, description: 'Rules every authenticated request must pass (403 otherwise).' },
    ),
    response: Type.Object(
      {
        realm: Type.Optional(
          Type.String({ pattern: '^[^"\\\\\\x00-\\x1f]*$', maxLength: 256, description: 'Realm in `WWW-Authenticate`; default the policy host.' }),
        ),
        identityHeaders: IdentityHeaders,
        unauthenticated: Type.Optional(DenyResponse(401, 'Answer when authentication fails.')),
        unauthorized: Type.Optional(DenyResponse(403, 'Answer when authorization fails.')),
      },
      { additionalProperties: false, default: {}, description: 'What gatehouse answers: identity headers upstream, deny responses to clients.' },
    ),
    session: Type.Optional(SessionSpec),
    failureMode: StringEnum(['closed', 'open'] as const, {
      default: 'closed',
      description: 'On an infrastructure failure (store or IdP unreachable): `closed` denies (503), `open` passes without identity.',
    }),
    enforcement: StringEnum(['enforce', 'shadow'] as const, {
      default: 'enforce',
      description:
        '`enforce`: the policy decides its requests. `shadow`: it is evaluated and its would-be decision counted (`gatehouse_shadow_decisions_total`) and logged, but it never refuses a request: beside an enforced policy on the same route it is evaluated after the answer, without side effects; alone on a route it lets every request through, with identity headers only when authentication succeeded (its logout and login endpoints still answer).',
    }),
  },
  { additionalProperties: false, description: 'Which requests the policy selects and how they are authenticated and authorized.' },
);
export type AuthPolicySpec = Static<typeof AuthPolicySpec>;

