// The `session` block of an AuthPolicy: one browser session per policy, created after a method
// succeeds and then accepted instead of that method until it expires or the user logs out.
import { Type, type Static } from '@sinclair/typebox';
import { Duration, HttpMethod, SecretRef, StringEnum } from '../config/schema-common.js';

const COOKIE_NAME_PATTERN = "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$";

export const SessionCookieSpec = Type.Object(
  {
    name: Type.String({ pattern: COOKIE_NAME_PATTERN, maxLength: 128, default: 'gh_session', description: 'Cookie name.' }),
    path: Type.String({ pattern: '^/', maxLength: 1024, default: '/', description: 'Cookie `Path`.' }),
    domain: Type.Optional(
      Type.String({ maxLength: 253, description: 'Cookie `Domain`; default none (the request host only).' }),
    ),
    secure: Type.Boolean({ default: true, description: 'Cookie `Secure`.' }),
    httpOnly: Type.Boolean({ default: true, description: 'Cookie `HttpOnly`.' }),
    sameSite: Type.Optional(
      StringEnum(['Strict', 'Lax', 'None'] as const, {
        description: 'Cookie `SameSite`. Default `Strict`; `Lax` in a policy with an `oidc` method (the return from the identity provider is a cross-site navigation).',
      }),
    ),
    persistent: Type.Boolean({
      default: false,
      description: 'Give the cookie `Expires`/`Max-Age` (survives a browser restart); default a browser-session cookie.',
    }),
  },
  { additionalProperties: false, default: {}, description: 'The session cookie.' },
);

// The three ways a request asks to log out; `logout` and `logout.everywhere` each take any of them.
const logoutTriggers = (what: string) => ({
  path: Type.Optional(Type.String({ pattern: '^/', maxLength: 1024, description: `Requests to exactly this path ${what}.` })),
  queryArg: Type.Optional(Type.String({ minLength: 1, maxLength: 256, description: `Requests carrying this query argument ${what}.` })),
  postArg: Type.Optional(
    Type.String({ minLength: 1, maxLength: 256, description: `Form bodies (x-www-form-urlencoded) carrying this argument ${what}.` }),
  ),
});

export const SessionLogoutEverywhereSpec = Type.Object(logoutTriggers('end every session of the signed-in consumer'), {
  additionalProperties: false,
  description:
    'Log out everywhere: a request that matches and carries a live session cookie ends every session of that ' +
    'consumer under this policy (all devices and browsers), not only its own. Checked before the plain logout; ' +
    'uses the same `methods` and `redirectTo`. Needs `storage: redis` (all replicas) or `memory` (this replica); ' +
    'refused with `storage: cookie`, which keeps no list of sessions.',
});

export const SessionLogoutSpec = Type.Object(
  {
    ...logoutTriggers('log out'),
    everywhere: Type.Optional(SessionLogoutEverywhereSpec),
    methods: Type.Array(HttpMethod, { minItems: 1, maxItems: 9, default: ['POST', 'DELETE'], description: 'Methods a logout request may use.' }),
    redirectTo: Type.Optional(
      Type.String({ minLength: 1, maxLength: 2048, pattern: '^[^\\x00-\\x20]+$', description: 'Answer logout with a 302 here; default 200 with a JSON body.' }),
    ),
  },
  {
    additionalProperties: false,
    description:
      'How a user ends the session (set at least one of path, queryArg, postArg, everywhere). Logout needs no ' +
      'valid session: it always expires the cookie, and ends the session it names when there is one.',
  },
);

export const SessionSpec = Type.Object(
  {
    storage: StringEnum(['cookie', 'redis', 'memory'] as const, {
      default: 'cookie',
      description: '`cookie`: the whole session sealed in the cookie. `redis`: shared store (needs --redis-url). `memory`: this replica only.',
    }),
    secretRef: Type.Object(SecretRef.properties, {
      additionalProperties: false,
      description: 'Secret whose data entries (sorted by key) are the session keys: the first seals, all open, so keys rotate without logging anyone out.',
    }),
    cookie: SessionCookieSpec,
    absoluteTimeout: Duration('Lifetime from login, however active.', '24h'),
    idleTimeout: Duration('Lifetime without requests.', '30m'),
    renewBefore: Duration('Renew once this little is left before idle expiry.', '5m'),
    createdBy: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: 63 }), {
        minItems: 1,
        maxItems: 16,
        description: 'Methods whose success creates a session; default every method of the policy.',
      }),
    ),
    logout: Type.Optional(SessionLogoutSpec),
  },
  {
    additionalProperties: false,
    description: 'Browser session. Every data entry of the Secret is a key, ordered by entry name: the first seals, all open.',
  },
);
export type SessionSpec = Static<typeof SessionSpec>;
export type SessionLogoutSpec = Static<typeof SessionLogoutSpec>;
export type SessionLogoutEverywhereSpec = Static<typeof SessionLogoutEverywhereSpec>;
