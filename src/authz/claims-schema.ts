// The `authorization.claims` rules of an AuthPolicy: one subject (a claim or a consumer field) and one
// operator each. Part of the AuthPolicy schema, so the CRD and the validator come from here too.
import { Type, type Static } from '@sinclair/typebox';
import { StringEnum } from '../config/schema-common.js';

/** Consumer fields a rule may test instead of a claim (`method` is the authenticating method's name). */
const CONSUMER_FIELDS = ['id', 'username', 'customId', 'credential', 'groups', 'method'] as const;
export type ConsumerField = (typeof CONSUMER_FIELDS)[number];

/** The operators, in one place so compile and the CRD's rule agree on them. */
export const CLAIM_OPERATORS = ['equals', 'oneOf', 'contains', 'pattern', 'present'] as const;

const MAX_PATTERN_LENGTH = 256;

// Values keep their JSON type (`true` is not `"true"`). Kubernetes can only carry a value of several
// types untyped (preserve-unknown-fields), so compile checks that it is a scalar.
const Value = (description: string) => Type.Unknown({ description });

export const ClaimRuleSpec = Type.Object(
  {
    claim: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 256,
        description:
          'Claim name, looked up as written first (`https://example.com/roles`), else as a dotted path into nested objects (`realm_access.roles`).',
      }),
    ),
    consumer: Type.Optional(StringEnum(CONSUMER_FIELDS, { description: 'Consumer field to test instead of a claim.' })),
    equals: Type.Optional(Value('The value must be exactly this string, number or boolean (types are not converted).')),
    oneOf: Type.Optional(
      Type.Array(Type.Unknown(), { minItems: 1, maxItems: 64, description: 'The value must be exactly one of these strings, numbers or booleans.' }),
    ),
    contains: Type.Optional(
      Value('The value, an array or a space-separated string (OAuth `scope`), must hold this string, number or boolean, or every one of a list of them.'),
    ),
    pattern: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: MAX_PATTERN_LENGTH,
        description: 'ECMAScript regular expression (unicode mode, no implicit anchors) a string value must match.',
      }),
    ),
    present: Type.Optional(Type.Boolean({ description: '`true`: the value must be present (not null); `false`: it must be absent.' })),
  },
  {
    additionalProperties: false,
    description: 'One rule: exactly one of `claim`, `consumer` and exactly one of equals, oneOf, contains, pattern, present.',
    // Only typed fields are visible to CEL, so the operator count (values are untyped) is left to gatehouse.
    'x-kubernetes-validations': [
      { rule: '[has(self.claim), has(self.consumer)].filter(x, x).size() == 1', message: 'exactly one of claim, consumer' },
    ],
  },
);
export type ClaimRuleSpec = Static<typeof ClaimRuleSpec>;

export const ClaimRules = Type.Array(ClaimRuleSpec, {
  minItems: 1,
  maxItems: 64,
  description: 'Rules on claims (JWT, OIDC, sessions created by them) and consumer fields; every one must pass (403 `claim_forbidden` otherwise).',
});
