// What the Redis load tests share (test/redis-fault.test.ts, test/redis-topologies.test.ts): the six
// kinds of Check they send to REDIS_POLICIES, the exact answer each kind gets while Redis answers
// and while it cannot, and the checks every run makes of what came back.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import type { DecodedCheckResponse, DecodedHeader, EnvoyClient, SimpleHttpRequest } from './envoy-client.js';
import { API_KEY, JWT_HOST, SESSION_HOST } from './redis-policies.js';

const REMOVED = ['x-consumer-username', 'x-consumer-custom-id', 'x-authenticated-groups', 'x-anonymous-consumer'];
const allowed = (consumer: string, credential: string, hidden: string): DecodedCheckResponse => ({
  grpcCode: 0,
  message: '',
  kind: 'ok',
  ok: {
    headers: [
      { key: 'x-consumer-id', value: consumer, append: false },
      { key: 'x-credential-identifier', value: credential, append: false },
    ],
    headersToRemove: [...REMOVED, hidden],
    responseHeadersToAdd: [],
    queryParametersToSet: [],
    queryParametersToRemove: [],
  },
});
const json: DecodedHeader = { key: 'content-type', value: 'application/json', append: false };
const denied = (grpcCode: number, code: string, status: number, headers: DecodedHeader[], message: string): DecodedCheckResponse => ({
  grpcCode,
  message: code,
  kind: 'denied',
  denied: { status, headers: [...headers, json], body: JSON.stringify({ code, message }) },
});

/** Every answer the service may give in a load test whose valid JWT is `sub`'s token `jti`, by name. */
export function answersFor(sub: string, jti: string) {
  return {
    'allowed: session': allowed('acme', 'shop/acme', 'cookie'),
    'allowed: jwt': allowed(sub, jti, 'authorization'),
    '401 no API key': denied(16, 'credential_missing', 401, [{ key: 'www-authenticate', value: `Key realm="${SESSION_HOST}"`, append: false }], 'No credentials found in request'),
    '401 no bearer': denied(16, 'credential_missing', 401, [{ key: 'www-authenticate', value: `Bearer realm="${JWT_HOST}"`, append: false }], 'No credentials found in request'),
    '401 revoked': denied(
      16,
      'jwt_revoked',
      401,
      [{ key: 'www-authenticate', value: `Bearer realm="${JWT_HOST}", error="invalid_token", error_description="The token has been revoked"`, append: false }],
      'The token has been revoked',
    ),
    '503 session store': denied(14, 'session_store_unavailable', 503, [], 'Service unavailable'),
    '503 revocation': denied(14, 'revocation_unavailable', 503, [], 'Token revocation list is unavailable'),
  } as const satisfies Record<string, DecodedCheckResponse>;
}
export type Answers = ReturnType<typeof answersFor>;
export type Answer = keyof Answers;

export type Kind = 'valid session' | 'logged-out session' | 'no credential (web)' | 'valid jwt' | 'revoked jwt' | 'no credential (api)';
export const KINDS: readonly Kind[] = ['valid session', 'logged-out session', 'no credential (web)', 'valid jwt', 'revoked jwt', 'no credential (api)'];
const VALID: ReadonlySet<Kind> = new Set(['valid session', 'valid jwt']);

/** What each kind may be answered while Redis is up, and while it is down. */
export const EXPECTED: Readonly<Record<Kind, { readonly up: Answer; readonly down: Answer }>> = {
  'valid session': { up: 'allowed: session', down: '503 session store' },
  'logged-out session': { up: '401 no API key', down: '503 session store' },
  'no credential (web)': { up: '401 no API key', down: '401 no API key' },
  'valid jwt': { up: 'allowed: jwt', down: '503 revocation' },
  'revoked jwt': { up: '401 revoked', down: '503 revocation' },
  'no credential (api)': { up: '401 no bearer', down: '401 no bearer' },
};

/** The credentials a run sends: session cookie pairs (`gh_session=...`) and bearer tokens. */
export interface Credentials {
  readonly session: string;
  readonly loggedOut: string;
  readonly goodJwt: string;
  readonly revokedJwt: string;
}

export function requestsFor(c: Credentials): Readonly<Record<Kind, SimpleHttpRequest>> {
  return {
    'valid session': { host: SESSION_HOST, path: '/orders', headers: { cookie: c.session } },
    'logged-out session': { host: SESSION_HOST, path: '/orders', headers: { cookie: c.loggedOut } },
    'no credential (web)': { host: SESSION_HOST, path: '/orders', headers: {} },
    'valid jwt': { host: JWT_HOST, path: '/orders', headers: { authorization: `Bearer ${c.goodJwt}` } },
    'revoked jwt': { host: JWT_HOST, path: '/orders', headers: { authorization: `Bearer ${c.revokedJwt}` } },
    'no credential (api)': { host: JWT_HOST, path: '/orders', headers: {} },
  };
}

// Envoy's ext_authz timeout is 200 ms by default; a Check slower than this fails the test.
const CHECK_DEADLINE_MS = 2_000;

/** Sends `request` and names the exact answer, or says what arrived instead (a gRPC error too). */
export async function askNamed(envoy: EnvoyClient, request: SimpleHttpRequest, answers: Answers): Promise<Answer | string> {
  try {
    const res = await envoy.check(request, { deadlineMs: CHECK_DEADLINE_MS });
    for (const [name, expected] of Object.entries(answers)) if (isDeepStrictEqual(res, expected)) return name;
    return `unexpected ${JSON.stringify(res).slice(0, 300)}`;
  } catch (e) {
    return `grpc error ${(e as Error).message}`;
  }
}

/** Signs in to SESSION_HOST with acme's API key; the session cookie as a Cookie header pair. */
export async function login(envoy: EnvoyClient): Promise<string> {
  const res = await envoy.check({ host: SESSION_HOST, path: '/', headers: { apikey: API_KEY } });
  const setCookie = res.kind === 'ok' ? res.ok.responseHeadersToAdd[0]?.value ?? '' : '';
  assert.match(setCookie, /^gh_session=[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{22}; /, JSON.stringify(res));
  return setCookie.slice(0, setCookie.indexOf(';'));
}

/** Logs the session out at SESSION_HOST's POST /logout and checks the answer says so. */
export async function logout(envoy: EnvoyClient, cookie: string): Promise<void> {
  const res = await envoy.check({ host: SESSION_HOST, path: '/logout', method: 'POST', headers: { cookie } });
  assert.equal(res.kind === 'denied' ? res.denied.body : '', '{"message":"Logged out"}', JSON.stringify(res));
}

export interface Sample {
  readonly kind: Kind;
  readonly start: number;
  readonly end: number;
  /** The name of the exact answer, or what arrived instead. */
  readonly answer: Answer | string;
}

/** The samples of `kind` sent at or after `from` and answered by `to`. */
export function between<S extends Sample>(samples: readonly S[], kind: Kind, from: number, to: number): S[] {
  return samples.filter((s) => s.kind === kind && s.start >= from && s.end <= to);
}

/** No wrong allow and no unexpected answer at any time: each kind got only its up or its down answer. */
export function assertOnlyExpected(samples: readonly Sample[]): void {
  for (const kind of KINDS) {
    const answers = new Set(samples.filter((s) => s.kind === kind).map((s) => s.answer));
    const permitted = new Set<string>([EXPECTED[kind].up, EXPECTED[kind].down]);
    assert.deepEqual([...answers].filter((a) => !permitted.has(a)), [], `${kind}: answers beyond ${[...permitted].join(' / ')}`);
  }
}

/** Between `from` and `to`, every kind got its up answer only, at least `atLeast` times. */
export function assertUp(samples: readonly Sample[], from: number, to: number, when: string, atLeast: number): void {
  for (const kind of KINDS) {
    const seen = between(samples, kind, from, to);
    assert.ok(seen.length >= atLeast, `${kind}: only ${seen.length} Checks ${when}`);
    assert.deepEqual(new Set(seen.map((s) => s.answer)), new Set([EXPECTED[kind].up]), `${kind} ${when}`);
  }
}

/** When the last Check of a valid credential sent after `from` that was not allowed was answered. */
export function lastRefusal(samples: readonly Sample[], from: number): number | undefined {
  const refused = samples.filter((s) => VALID.has(s.kind) && s.start >= from && !s.answer.startsWith('allowed'));
  return refused.length === 0 ? undefined : Math.max(...refused.map((s) => s.end));
}

const LOAD_LOCK = join(tmpdir(), 'gatehouse-redis-load.lock');

/**
 * Runs `run` once no other Redis load run holds the machine (in any test process): two runs of 16
 * Checks in flight side by side on 2 cores starve each other, and their timings then measure nothing.
 * The turn is a kernel lock (flock) held by a child process, so it ends with this process even if
 * it is killed. Waits at most `waitMs` for the turn.
 */
export async function inTurn<T>(run: () => Promise<T>, waitMs = 120_000): Promise<T> {
  const holder = spawn('flock', ['-w', String(Math.ceil(waitMs / 1000)), LOAD_LOCK, 'sh', '-c', 'echo taken; exec cat'], {
    stdio: ['pipe', 'pipe', 'ignore'],
  });
  const gone = new Promise<void>((resolve) => holder.once('close', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    holder.stdout.once('data', () => resolve());
    holder.once('error', reject);
    holder.once('exit', (code) => reject(new Error(`no turn for a Redis load run within ${waitMs} ms (flock exited ${code})`)));
  });
  try {
    return await run();
  } finally {
    // cat ends with its input, and the lock with it.
    holder.stdin.end();
    await gone;
  }
}
