// Policy and Secret YAML for session tests that start the whole service (a policy per storage,
// signed in with acme's API key `acme-key-1`, logged out by `POST|DELETE /logout` or a form field),
// and the answers they expect as Envoy decodes them.
import type { DecodedCheckResponse } from './envoy-client.js';
import { authPolicy, keyMethod, keySecret, secret, yamlOf } from './fixtures.js';

/** A policy `shop/<name>` on host `<name>.example.com` whose sessions live in `storage`. */
export const sessionPolicy = (name: string, storage: string): string =>
  yamlOf(
    authPolicy('shop', name, {
      hosts: [`${name}.example.com`],
      authentication: { methods: [keyMethod()] },
      session: { storage, secretRef: { name: 'shop-session' }, idleTimeout: '30m', renewBefore: '5m', logout: { path: '/logout', postArg: 'session_logout' } },
    }),
  );

/** acme's API key and the session keys. */
export const SESSION_SECRETS = yamlOf(
  keySecret('shop', 'acme', 'acme-key-1', { id: 'acme', username: 'acme-corp', groups: 'partners, beta' }),
  secret('shop', 'shop-session', { current: '0123456789abcdef0123456789abcdef-session-key' }),
);

/** A session Check or logout while the store (or the logout list) cannot answer: 503, fail closed. */
export const SESSION_UNAVAILABLE: DecodedCheckResponse = {
  grpcCode: 14,
  message: 'session_store_unavailable',
  kind: 'denied',
  denied: {
    status: 503,
    headers: [{ key: 'content-type', value: 'application/json', append: false }],
    body: '{"code":"session_store_unavailable","message":"Service unavailable"}',
  },
};
