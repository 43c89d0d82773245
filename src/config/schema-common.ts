// Schema building blocks shared by the AuthPolicy spec and each method's block. The TypeBox schema is
// the single source of truth: TypeScript types (Static), validation (with field paths) and the CRD's
// OpenAPI v3 schema (scripts/gen-crd) all come from it.
import { type TLiteral, type TSchema, type TUnion, Type } from '@sinclair/typebox';

/** A union of string literals; the CRD generator renders it as `enum` (the CRD dialect has no `const`). */
export function StringEnum<const T extends readonly string[]>(
  values: T,
  options: { description?: string; default?: T[number] } = {},
): TUnion<TLiteral<T[number]>[]> {
  return Type.Union(values.map((v: T[number]) => Type.Literal(v)), options);
}

const DURATION_PATTERN = '^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$';

export function Duration(description: string, defaultValue?: string) {
  return Type.String({
    pattern: DURATION_PATTERN,
    description: `${description} Go-style duration such as \`30s\`, \`5m\`, \`1h30m\`.`,
    ...(defaultValue === undefined ? {} : { default: defaultValue }),
  });
}

export const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'CONNECT', 'TRACE'] as const;

export const HttpMethod = StringEnum(HTTP_METHODS, { description: 'HTTP method, uppercase.' });

const HEADER_NAME_PATTERN = "^[A-Za-z0-9!#$%&'*+.^_`|~-]+$";

export function HeaderName(description: string, defaultValue?: string) {
  return Type.String({
    pattern: HEADER_NAME_PATTERN,
    maxLength: 256,
    description,
    ...(defaultValue === undefined ? {} : { default: defaultValue }),
  });
}

/** A reference to one key of a Secret in the policy's namespace. */
export const SecretKeyRef = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 253, description: 'Secret name, in the policy namespace.' }),
    key: Type.String({ minLength: 1, maxLength: 253, description: 'Key inside the Secret data.' }),
  },
  { additionalProperties: false },
);

/** A reference to a whole Secret in the policy's namespace. */
export const SecretRef = Type.Object(
  { name: Type.String({ minLength: 1, maxLength: 253, description: 'Secret name, in the policy namespace.' }) },
  { additionalProperties: false },
);

export const LabelSelector = Type.Object(
  {
    matchLabels: Type.Optional(
      Type.Record(Type.String({ maxLength: 317 }), Type.String({ maxLength: 63 }), {
        description: 'Secrets carrying all of these labels are selected.',
      }),
    ),
    matchExpressions: Type.Optional(
      Type.Array(
        Type.Object(
          {
            key: Type.String({ minLength: 1, maxLength: 317, description: 'Label key the requirement tests.' }),
            operator: StringEnum(['In', 'NotIn', 'Exists', 'DoesNotExist'] as const, {
              description: '`In` and `NotIn` compare the label with `values`; `Exists` and `DoesNotExist` test the key alone.',
            }),
            values: Type.Optional(
              Type.Array(Type.String({ maxLength: 63 }), { maxItems: 64, description: 'Label values for `In` and `NotIn`; empty for `Exists` and `DoesNotExist`.' }),
            ),
          },
          { additionalProperties: false },
        ),
        { maxItems: 16, description: 'Set-based requirements, as in Kubernetes label selectors.' },
      ),
    ),
  },
  { additionalProperties: false, description: 'Kubernetes label selector over Secrets in the policy namespace.' },
);

/** Where a credential is read from: exactly one of header, query or cookie. */
export const CredentialLocation = Type.Object(
  {
    header: Type.Optional(HeaderName('Request header name (case-insensitive).')),
    prefix: Type.Optional(
      Type.String({ maxLength: 64, description: 'With `header`: required value prefix, stripped (e.g. `Bearer `).' }),
    ),
    query: Type.Optional(Type.String({ minLength: 1, maxLength: 256, description: 'Query parameter name.' })),
    cookie: Type.Optional(Type.String({ minLength: 1, maxLength: 256, description: 'Cookie name.' })),
  },
  {
    additionalProperties: false,
    description: 'One place a credential may be presented: `header` (with optional `prefix`), `query` or `cookie`.',
    'x-kubernetes-validations': [
      {
        rule: '[has(self.header), has(self.query), has(self.cookie)].filter(x, x).size() == 1',
        message: 'exactly one of header, query, cookie',
      },
    ],
  },
);

export type { TSchema };
