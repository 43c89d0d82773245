import { Type, type Static } from '@sinclair/typebox';
import { CredentialLocation, LabelSelector } from '../config/schema-common.js';

export const ApiKeySpec = Type.Object(
  {
    from: Type.Array(CredentialLocation, {
      minItems: 1,
      maxItems: 16,
      default: [{ header: 'apikey' }],
      description: 'Where the key may be presented, tried in order (Kong key-auth `key_names`).',
    }),
    selector: LabelSelector,
    hideCredentials: Type.Boolean({
      default: false,
      description: 'Remove the key (header or query parameter) before the request goes upstream.',
    }),
  },
  {
    additionalProperties: false,
    description:
      'API keys held in Secrets selected by label. Each Secret holds keys under `api_key` (one per line, ' +
      'plain or `sha256:<hex>`) and names its consumer in `gatehouse.dev/consumer-*` annotations.',
  },
);
export type ApiKeySpec = Static<typeof ApiKeySpec>;
