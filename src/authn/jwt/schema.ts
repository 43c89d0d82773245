import { Type, type Static } from '@sinclair/typebox';
import { CredentialLocation, Duration, HeaderName, SecretKeyRef, SecretRef, StringEnum } from '../../config/schema-common.js';

/** Signature algorithms a policy may allow. `none` is not one of them, on purpose. */
export const JWT_ALGORITHMS = [
  'HS256', 'HS384', 'HS512',
  'RS256', 'RS384', 'RS512',
  'PS256', 'PS384', 'PS512',
  'ES256', 'ES384', 'ES512',
  'EdDSA', 'Ed25519',
] as const;
export type JwtAlgorithm = (typeof JWT_ALGORITHMS)[number];

const ClaimName = (description: string, defaultValue?: string) =>
  Type.String({
    minLength: 1,
    maxLength: 256,
    description: `${description} A top-level claim name, or a dotted path into nested objects (\`realm_access.roles\`).`,
    ...(defaultValue === undefined ? {} : { default: defaultValue }),
  });

export const JwtConsumer = Type.Object(
  {
    id: ClaimName('Claim holding the consumer id (`x-consumer-id`).', 'sub'),
    username: Type.Optional(ClaimName('Claim holding the username (`x-consumer-username`).')),
    customId: Type.Optional(ClaimName('Claim holding the custom id (`x-consumer-custom-id`).')),
    groups: Type.Optional(ClaimName('Claim holding the groups: an array, or one string separated by spaces or commas.')),
  },
  { additionalProperties: false, default: {}, description: 'Which claims name the consumer. No lookup happens: the token is the consumer.' },
);

export const JwtSpec = Type.Object(
  {
    algorithms: Type.Array(StringEnum(JWT_ALGORITHMS), {
      minItems: 1,
      maxItems: 14,
      description: 'Signature algorithms accepted. Anything else (and `none`) is refused before any key is tried.',
    }),
    issuer: Type.Optional(Type.String({ minLength: 1, maxLength: 2048, description: 'Required `iss` value; with `discovery`, also where the OpenID configuration is read.' })),
    audiences: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: 2048 }), { minItems: 1, maxItems: 32, description: 'The token `aud` must hold one of these.' }),
    ),
    secretRef: Type.Optional(Type.Object(SecretKeyRef.properties, { additionalProperties: false, description: 'HMAC shared secret (HS256/384/512) in a Secret.' })),
    secretFromEnv: Type.Optional(
      Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]*$', maxLength: 256, description: 'HMAC shared secret from this environment variable of the gatehouse process.' }),
    ),
    secretEncoding: StringEnum(['raw', 'base64', 'base64url'] as const, {
      default: 'raw',
      description: 'How the HMAC secret is written (Kong `secret_is_base64`).',
    }),
    publicKeysRef: Type.Optional(
      Type.Object(SecretRef.properties, {
        additionalProperties: false,
        description:
          'A Secret whose every entry is a PEM public key or certificate, a JWK or a JWK Set (several keys for rotation). ' +
          'JWKs of kty `oct` are HMAC keys.',
      }),
    ),
    jwksUri: Type.Optional(
      Type.String({ pattern: '^https?://', maxLength: 2048, description: 'JWK Set URL, fetched in the background and cached (refreshed on Cache-Control and on an unknown `kid`).' }),
    ),
    discovery: Type.Boolean({
      default: false,
      description: 'Read `jwks_uri` from `<issuer>/.well-known/openid-configuration`.',
    }),
    signingKeyRef: Type.Optional(
      Type.Object(SecretKeyRef.properties, {
        additionalProperties: false,
        description: 'Private key (PEM or JWK) that `gatehouse token mint` signs with; its public half also verifies.',
      }),
    ),
    clockSkew: Duration('Tolerance for exp, nbf and iat.', '30s'),
    maxLifetime: Type.Optional(Duration('Refuse tokens whose exp - iat is longer than this (they then need iat).')),
    requireExpiration: Type.Boolean({ default: true, description: 'Refuse tokens without `exp`.' }),
    requiredClaims: Type.Optional(
      Type.Record(Type.String({ minLength: 1, maxLength: 256 }), Type.Unknown(), {
        description:
          'Claims that must hold a value: a string, number or boolean (equal, or contained when the claim is an array), ' +
          'or a list of those (any one of them).',
      }),
    ),
    maxTokenBytes: Type.Integer({ minimum: 256, maximum: 65536, default: 8192, description: 'Longer tokens are refused unread.' }),
    from: Type.Array(CredentialLocation, {
      minItems: 1,
      maxItems: 16,
      default: [{ header: 'authorization', prefix: 'Bearer ' }],
      description: 'Where the token may be presented, tried in order.',
    }),
    hideCredentials: Type.Boolean({ default: false, description: 'Remove the token before the request goes upstream.' }),
    consumer: JwtConsumer,
    claimsToHeaders: Type.Optional(
      Type.Record(Type.String({ pattern: '^[A-Za-z0-9!#$%&\'*+.^_`|~-]+$', maxLength: 256 }), Type.String({ minLength: 1, maxLength: 256 }), {
        description: 'Upstream header -> claim. Arrays are joined with ", ", objects sent as JSON.',
      }),
    ),
    forwardPayloadHeader: Type.Optional(HeaderName('Upstream header receiving the whole verified payload, base64url encoded.')),
    revocation: Type.Boolean({
      default: false,
      description: 'Deny tokens whose `jti` is revoked, or whose consumer was revoked after the token was issued.',
    }),
  },
  {
    additionalProperties: false,
    description: 'Stateless JSON Web Tokens: signature, issuer, audience and lifetime checked; the consumer read from the claims.',
    'x-kubernetes-validations': [
      {
        rule: 'has(self.secretRef) || has(self.secretFromEnv) || has(self.publicKeysRef) || has(self.jwksUri) || (has(self.discovery) && self.discovery) || has(self.signingKeyRef)',
        message: 'give at least one key source: secretRef, secretFromEnv, publicKeysRef, jwksUri, discovery or signingKeyRef',
      },
    ],
  },
);
export type JwtSpec = Static<typeof JwtSpec>;
