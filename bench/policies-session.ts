// Browser-session policy sets: an API key signs the user in, then the session cookie alone is
// accepted. The cookies are made offline with the session codec and the Secret's key, the way the
// policy would have issued them at login: sealed records for `storage: cookie`, signed ids whose
// records the server's own redis-server holds for `storage: redis`.
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SID_CLAIM } from '../src/session/authenticator.js';
import { SessionCodec, SessionIdSigner, SessionKeys } from '../src/session/codec.js';
import { SESSION_RECORD_VERSION, type SessionRecord } from '../src/session/record.js';
import { policyHead, type PolicySet } from './policies.js';
import { writeServerExtras } from './server-extras.js';

export type SessionStorage = 'cookie' | 'redis';

const NAMESPACE = 'bench';
export const SESSION_COOKIE = 'gh_session';
const HOUR = 3_600_000;
/** Generous timeouts: a session made before the run stays valid and is never due for renewal in it. */
const ABSOLUTE_MS = 24 * HOUR;
const IDLE_MS = 8 * HOUR;

/** One session-protected site and the user signed in to it. */
export interface SessionTenant {
  readonly policyId: string;
  readonly host: string;
  readonly consumerId: string;
  readonly username: string;
  readonly groups: readonly string[];
}

export function sessionTenant(storage: SessionStorage): SessionTenant {
  return {
    policyId: `${NAMESPACE}/web-${storage}`,
    host: `${storage}.session.bench.test`,
    consumerId: `${storage}-user`,
    username: `${storage}-user-name`,
    groups: ['browsers'],
  };
}

/** 64 hex characters, above the 32-byte minimum. Deterministic so the writer and the cookie maker agree. */
const sessionSecret = (storage: SessionStorage): string => createHash('sha256').update(`bench-session-${storage}`).digest('hex');
const loginKey = (storage: SessionStorage): string => createHash('sha256').update(`bench-login-${storage}`).digest('hex').slice(0, 32);

function keysFor(storage: SessionStorage): SessionKeys {
  return SessionKeys.derive({ audience: sessionTenant(storage).policyId, secrets: [sessionSecret(storage)] });
}

/** The record a login through the policy's API key would have created at `now`. */
function loginRecord(storage: SessionStorage, now: number): SessionRecord {
  const t = sessionTenant(storage);
  return {
    v: SESSION_RECORD_VERSION,
    aud: t.policyId,
    sub: t.consumerId,
    username: t.username,
    credential: `${NAMESPACE}/web-${storage}-login`,
    groups: [...t.groups],
    method: 'keys',
    // Cookie sessions carry a random id that logout revokes, as the create hook seals them.
    claims: storage === 'cookie' ? { [SID_CLAIM]: randomBytes(16).toString('base64url') } : undefined,
    ...sessionTimes(now),
  };
}

interface StoredSession {
  readonly id: string;
  readonly cookieValue: string;
  readonly record: SessionRecord;
}

// One Redis session per process: the request carries its cookie, the policy set seeds its record.
let stored: StoredSession | undefined;

function redisSession(): StoredSession {
  if (stored !== undefined) return stored;
  const { id, cookieValue } = new SessionIdSigner(keysFor('redis')).mint();
  stored = { id, cookieValue, record: loginRecord('redis', Date.now()) };
  return stored;
}

/** The `Cookie` header of a signed-in browser of the site for `storage`. */
export function sessionCookie(storage: SessionStorage): string {
  switch (storage) {
    case 'cookie':
      return `${SESSION_COOKIE}=${new SessionCodec(keysFor('cookie')).seal(loginRecord('cookie', Date.now()))}`;
    case 'redis':
      return `${SESSION_COOKIE}=${redisSession().cookieValue}`;
    default: {
      const never: never = storage;
      throw new Error(`unknown storage ${String(never)}`);
    }
  }
}

/**
 * A policy's `session` block, `response` and its session-key Secret, for a policy named `name`: long
 * timeouts, so no renewal falls due during a run.
 */
export function sessionYaml(name: string, storage: SessionStorage, secret: string, sameSite: 'Strict' | 'Lax' = 'Strict'): string {
  return `  session:
    storage: ${storage}
    secretRef: {name: ${name}-session}
    cookie: {name: ${SESSION_COOKIE}, path: /, sameSite: ${sameSite}, secure: true, httpOnly: true}
    absoluteTimeout: ${ABSOLUTE_MS / HOUR}h
    idleTimeout: ${IDLE_MS / HOUR}h
    renewBefore: 5m
    logout: {path: /logout}
  response: {realm: bench}
---
apiVersion: v1
kind: Secret
metadata:
  name: ${name}-session
  namespace: ${NAMESPACE}
  labels: {gatehouse.dev/credential: session-keys}
stringData: {k1: "${secret}"}`;
}

/** Session validity of a record made at `now`: `exp` and `idleExp` as the policy's timeouts set them. */
export function sessionTimes(now: number): { iat: number; lat: number; exp: number; idleExp: number } {
  return { iat: now, lat: now, exp: now + ABSOLUTE_MS, idleExp: now + IDLE_MS };
}

function yaml(storage: SessionStorage): string {
  const t = sessionTenant(storage);
  const name = `web-${storage}`;
  return `${policyHead(name, t.host)}      - name: keys
        apiKey:
          from: [{header: apikey}]
          selector: {matchLabels: {bench.gatehouse.dev/login: ${name}}}
${sessionYaml(name, storage, sessionSecret(storage))}
---
apiVersion: v1
kind: Secret
metadata:
  name: ${name}-login
  namespace: ${NAMESPACE}
  labels: {bench.gatehouse.dev/login: ${name}}
  annotations:
    gatehouse.dev/consumer-id: ${t.consumerId}
    gatehouse.dev/consumer-username: ${t.username}
    gatehouse.dev/groups: ${t.groups.join(',')}
stringData: {api_key: "${loginKey(storage)}"}
`;
}

/** The session policy for `storage`; with redis, its server gets a redis-server holding the session. */
export function sessionPolicies(storage: SessionStorage): PolicySet {
  return {
    id: `session-${storage}`,
    write(dir) {
      writeFileSync(join(dir, `web-${storage}.yaml`), yaml(storage));
      if (storage === 'redis') {
        const { id, record } = redisSession();
        writeServerExtras(dir, { redisSessions: [{ id, record }] });
      }
      return 1;
    },
  };
}
