// A partial or bad credential never passes, and never becomes the anonymous consumer. Every
// combination of methods (two API keys in different places, two issuers' JWTs sharing the
// Authorization header) x every credential state (absent, valid, invalid) x mode x anonymous on/off,
// sent through the real gRPC path as Envoy sends it, against a plain reference written here.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SignJWT } from 'jose';
import type { DecodedCheckResponse } from './support/envoy-client.js';
import { eventually, startTestGatehouse, type TestGatehouse } from './support/gatehouse.js';

type MethodName = 'key' | 'key2' | 'jwta' | 'jwtb';
const METHODS: readonly MethodName[] = ['key', 'key2', 'jwta', 'jwtb'];
const CONSUMER: Readonly<Record<MethodName, string>> = { key: 'header-consumer', key2: 'query-consumer', jwta: 'alice', jwtb: 'bob' };
/** Where each method reads its credential; the two JWT methods read the same place. */
const LOCATION: Readonly<Record<MethodName, 'header' | 'query' | 'authorization'>> = { key: 'header', key2: 'query', jwta: 'authorization', jwtb: 'authorization' };

const SECRET_A = 'issuer-a-shared-secret-0123456789abcdef';
const SECRET_B = 'issuer-b-shared-secret-0123456789abcdef';

const METHOD_YAML: Readonly<Record<MethodName, string>> = {
  key: `- name: key
        apiKey: {from: [{header: x-api-key}], selector: {matchLabels: {gatehouse.dev/credential: header-keys}}, hideCredentials: true}`,
  key2: `- name: key2
        apiKey: {from: [{query: apikey}], selector: {matchLabels: {gatehouse.dev/credential: query-keys}}, hideCredentials: true}`,
  jwta: `- name: jwta
        jwt: {algorithms: [HS256], secretRef: {name: issuer-a, key: secret}, issuer: 'https://a.example', hideCredentials: true}`,
  jwtb: `- name: jwtb
        jwt: {algorithms: [HS256], secretRef: {name: issuer-b, key: secret}, issuer: 'https://b.example', hideCredentials: true}`,
};

interface PolicyCase {
  readonly host: string;
  readonly methods: readonly MethodName[];
  readonly mode: 'any' | 'all';
  readonly anonymous: boolean;
}

function subsets(): MethodName[][] {
  const out: MethodName[][] = [];
  for (let mask = 1; mask < 1 << METHODS.length; mask++) out.push(METHODS.filter((_, i) => (mask & (1 << i)) !== 0));
  return out;
}

const POLICIES: PolicyCase[] = [];
for (const methods of subsets()) {
  for (const mode of ['any', 'all'] as const) {
    for (const anonymous of [false, true]) POLICIES.push({ host: `p${POLICIES.length}.creds.test`, methods, mode, anonymous });
  }
}

function policyYaml(p: PolicyCase, i: number): string {
  return `apiVersion: gatehouse.dev/v1alpha1
kind: AuthPolicy
metadata: {name: p${i}, namespace: creds}
spec:
  hosts: [${p.host}]
  authentication:
    mode: ${p.mode}
    methods:
      ${p.methods.map((m) => METHOD_YAML[m]).join('\n      ')}
${p.anonymous ? '  anonymous: {id: guest}\n' : ''}`;
}

const SECRETS = `apiVersion: v1
kind: Secret
metadata: {name: header-key, namespace: creds, labels: {gatehouse.dev/credential: header-keys}, annotations: {gatehouse.dev/consumer-id: header-consumer}}
stringData: {api_key: header-key-valid-0001}
---
apiVersion: v1
kind: Secret
metadata: {name: query-key, namespace: creds, labels: {gatehouse.dev/credential: query-keys}, annotations: {gatehouse.dev/consumer-id: query-consumer}}
stringData: {api_key: query-key-valid-0002}
---
apiVersion: v1
kind: Secret
metadata: {name: issuer-a, namespace: creds}
stringData: {secret: ${SECRET_A}}
---
apiVersion: v1
kind: Secret
metadata: {name: issuer-b, namespace: creds}
stringData: {secret: ${SECRET_B}}
`;

type KeyState = 'absent' | 'valid' | 'invalid';
type TokenState = 'absent' | 'a' | 'b' | 'forged';
interface Credentials {
  readonly header: KeyState;
  readonly query: KeyState;
  readonly authorization: TokenState;
}

/** What one method makes of the request, by the rules the docs state. */
function stateOf(m: MethodName, c: Credentials): KeyState {
  switch (m) {
    case 'key':
      return c.header;
    case 'key2':
      return c.query;
    case 'jwta':
      return c.authorization === 'absent' ? 'absent' : c.authorization === 'a' ? 'valid' : 'invalid';
    case 'jwtb':
      return c.authorization === 'absent' ? 'absent' : c.authorization === 'b' ? 'valid' : 'invalid';
    default: {
      const never: never = m;
      throw new Error(String(never));
    }
  }
}

type Expected = { readonly allow: 'consumer'; readonly consumer: string } | { readonly allow: 'anonymous' } | { readonly allow: 'no' };

/** The reference: a presented credential must be accepted; anonymous only when nothing was presented. */
function expected(p: PolicyCase, c: Credentials): Expected {
  const states = p.methods.map((m) => stateOf(m, c));
  const presented = new Set(p.methods.filter((_, i) => states[i] !== 'absent').map((m) => LOCATION[m]));
  if (presented.size === 0) return p.anonymous ? { allow: 'anonymous' } : { allow: 'no' };
  if (p.mode === 'all') {
    return states.every((s) => s === 'valid') ? { allow: 'consumer', consumer: CONSUMER[p.methods[0] as MethodName] } : { allow: 'no' };
  }
  const accepted = new Set(p.methods.filter((_, i) => states[i] === 'valid').map((m) => LOCATION[m]));
  for (const at of presented) if (!accepted.has(at)) return { allow: 'no' };
  const first = p.methods.find((_, i) => states[i] === 'valid') as MethodName;
  return { allow: 'consumer', consumer: CONSUMER[first] };
}

function header(res: DecodedCheckResponse, name: string): string | undefined {
  return res.kind === 'ok' ? res.ok.headers.find((h) => h.key === name)?.value : undefined;
}

describe('partial and bad credentials, every combination, through the gRPC wire path', { timeout: 120_000 }, () => {
  let gh: TestGatehouse;
  const tokens = { a: '', b: '', forged: '' };

  before(async () => {
    const files: Record<string, string> = { 'secrets.yaml': SECRETS };
    POLICIES.forEach((p, i) => (files[`p${i}.yaml`] = policyYaml(p, i)));
    gh = await startTestGatehouse(files);
    await eventually(() => gh.gatehouse.store.index?.size === POLICIES.length, 5000, 'every policy loaded');
    const now = Math.floor(Date.now() / 1000);
    const sign = (iss: string, sub: string, secret: string): Promise<string> =>
      new SignJWT({ iss, sub, iat: now, exp: now + 600 }).setProtectedHeader({ alg: 'HS256' }).sign(Buffer.from(secret));
    tokens.a = await sign('https://a.example', 'alice', SECRET_A);
    tokens.b = await sign('https://b.example', 'bob', SECRET_B);
    // Claims of issuer A, signed with a key nobody trusts.
    tokens.forged = await sign('https://a.example', 'alice', 'not-the-issuer-secret-0123456789abcdef');
  });
  after(() => gh.stop());

  test('every method set x credential state x mode x anonymous: allowed exactly when the reference allows', async () => {
    const cases: { p: PolicyCase; c: Credentials }[] = [];
    for (const p of POLICIES) {
      for (const h of ['absent', 'valid', 'invalid'] as const) {
        for (const q of ['absent', 'valid', 'invalid'] as const) {
          for (const a of ['absent', 'a', 'b', 'forged'] as const) cases.push({ p, c: { header: h, query: q, authorization: a } });
        }
      }
    }
    assert.equal(cases.length, 60 * 36);
    const wrong: string[] = [];
    let allowed = 0;
    for (let i = 0; i < cases.length; i += 48) {
      await Promise.all(
        cases.slice(i, i + 48).map(async ({ p, c }) => {
          const headers: Record<string, string> = {};
          if (c.header !== 'absent') headers['x-api-key'] = c.header === 'valid' ? 'header-key-valid-0001' : 'header-key-wrong';
          if (c.authorization !== 'absent') headers['authorization'] = `Bearer ${tokens[c.authorization]}`;
          const query = c.query === 'absent' ? '' : `?apikey=${c.query === 'valid' ? 'query-key-valid-0002' : 'query-key-wrong'}`;
          const res = await gh.envoy.check({ host: p.host, path: `/orders${query}`, headers });
          const want = expected(p, c);
          let got: string;
          if (res.kind === 'ok') {
            allowed++;
            got = header(res, 'x-anonymous-consumer') === 'true' ? 'anonymous' : `consumer ${header(res, 'x-consumer-id') ?? '?'}`;
            // Every credential the request carried was verified; the policy hides each of them.
            const hidden = [...res.ok.headersToRemove, ...res.ok.queryParametersToRemove];
            if (c.header !== 'absent' && p.methods.includes('key') && !hidden.includes('x-api-key')) got += ' (x-api-key not hidden)';
            if (c.query !== 'absent' && p.methods.includes('key2') && !hidden.includes('apikey')) got += ' (apikey not hidden)';
            const readsToken = p.methods.includes('jwta') || p.methods.includes('jwtb');
            if (c.authorization !== 'absent' && readsToken && !hidden.includes('authorization')) got += ' (authorization not hidden)';
          } else if (res.kind === 'denied') {
            const www = res.denied.headers.find((h) => h.key === 'www-authenticate');
            got = res.denied.status === 401 && www !== undefined ? 'no' : `denied ${String(res.denied.status)}`;
          } else {
            got = 'no answer';
          }
          const wanted = want.allow === 'consumer' ? `consumer ${want.consumer}` : want.allow;
          if (got !== wanted) wrong.push(`${p.host} [${p.methods.join('+')} mode=${p.mode} anon=${p.anonymous}] ${JSON.stringify(c)}: got ${got}, want ${wanted}`);
        }),
      );
    }
    assert.deepEqual(wrong.slice(0, 20), [], `${wrong.length} of ${cases.length} combinations answered wrongly`);
    // The space is not degenerate: both answers occur many times.
    assert.ok(allowed > 300 && allowed < cases.length - 300, `allowed ${allowed} of ${cases.length}`);
  });

  test('mode all with only the JWT presented: 401 credential_missing naming the missing method, not anonymous', async () => {
    const i = POLICIES.findIndex((p) => p.mode === 'all' && p.anonymous && p.methods.join() === 'key,jwta');
    const res = await gh.envoy.check({ host: (POLICIES[i] as PolicyCase).host, path: '/orders', headers: { authorization: `Bearer ${tokens.a}` } });
    assert.equal(res.kind, 'denied');
    assert.deepEqual(res.kind === 'denied' && { status: res.denied.status, body: JSON.parse(res.denied.body) as unknown }, {
      status: 401,
      body: { code: 'credential_missing', message: 'No credentials found in request' },
    });
  });
});
