// 100,000 random and mutated CheckRequests (hosts, paths, methods, headers, bodies, raw header bytes)
// through the real gRPC path, held to a reference written plainly in test/support/reference-router.ts:
// no unexpected allow, no crash, every answer a well-formed CheckResponse whose status agrees.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { CheckOptions, DecodedCheckResponse, SimpleHttpRequest } from './support/envoy-client.js';
import { eventually, startTestGatehouse, type TestGatehouse } from './support/gatehouse.js';
import { seeded, type Random } from './support/random.js';
import { refDecide, type RefPolicy, type RefRequest } from './support/reference-router.js';

const KEY = 'fuzz-key-0123456789';
const TOTAL = 100_000;
const IN_FLIGHT = 64;

const POLICIES: readonly RefPolicy[] = [
  { name: 'a-root', host: 'a.fuzz.test', path: '/', anonymous: true, skip: { path: '/public', methods: ['GET', 'HEAD'] } },
  { name: 'a-admin', host: 'a.fuzz.test', path: '/admin' },
  { name: 'a-admin-api', host: 'a.fuzz.test', path: '/admin/api', methods: ['GET', 'POST'] },
  { name: 'wild', host: '*.fuzz.test', path: '/' },
  { name: 'b-files', host: 'b.fuzz.test', path: '/files', anonymous: true, allowEncodedSlashes: true },
  { name: 'b-secret', host: 'b.fuzz.test', path: '/secret', caseInsensitive: true },
  { name: 'c-app', host: 'c.fuzz.test', path: '/app', stripParameters: true },
  { name: 'c-root', host: 'c.fuzz.test', path: '/', anonymous: true },
  { name: 'any', host: '*', path: '/', anonymous: true, methods: ['GET', 'HEAD'] },
];

function yamlOf(p: RefPolicy): string {
  const lines = [
    'apiVersion: gatehouse.dev/v1alpha1',
    'kind: AuthPolicy',
    `metadata: {name: ${p.name}, namespace: fuzz}`,
    'spec:',
    `  hosts: ['${p.host}']`,
    `  paths: ['${p.path}']`,
    `  authentication: {methods: [{name: key, apiKey: {from: [{header: x-api-key}], selector: {matchLabels: {gatehouse.dev/credential: fuzz}}}}]}`,
    `  pathMatching: {caseInsensitive: ${p.caseInsensitive === true}, stripParameters: ${p.stripParameters === true}, allowEncodedSlashes: ${p.allowEncodedSlashes === true}}`,
  ];
  if (p.methods !== undefined) lines.push(`  methods: [${p.methods.join(', ')}]`);
  if (p.anonymous === true) lines.push('  anonymous: {id: guest}');
  if (p.skip !== undefined) lines.push(`  skip: [{paths: ['${p.skip.path}'], methods: [${p.skip.methods.join(', ')}]}]`);
  return lines.join('\n');
}

const SECRET = `apiVersion: v1
kind: Secret
metadata: {name: fuzz-key, namespace: fuzz, labels: {gatehouse.dev/credential: fuzz}}
stringData: {api_key: ${KEY}}`;

const HOSTS = ['a.fuzz.test', 'A.Fuzz.Test', 'a.fuzz.test:8443', 'a.fuzz.test.', 'x.fuzz.test', 'deep.x.fuzz.test', 'b.fuzz.test', 'c.fuzz.test', 'other.example', 'fuzz.test', 'a.fuzz.test:abc'];
const SEGMENTS = ['admin', 'api', 'public', 'files', 'secret', 'SECRET', 'Admin', 'app', 'app;jsessionid=1', 'x', '.', '..', '', '%2e%2e', '%2E', 'a%2Fb', '%61dmin', 'publicity', 'admin-x', 'caf\u00e9', '..;', 'p%75blic'];
const NASTY = ['/', '.', '%', ';', '\\', '#', '?', '%2f', '%5C', '%00', '%zz', '%4', '\u0001', '\u00e9', ' ', '~', '%7e', '//', '/..', '/./'];
const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH', 'PROPFIND', 'get', 'FOO'];
const HEADER_NAMES = ['x-api-key', 'x_consumer_id', 'x-consumer-id', 'accept', 'cookie', 'x-anonymous-consumer', 'authorization', 'x-forwarded-for'];

function randomPath(r: Random): string {
  let path = '';
  const n = 1 + r.int(4);
  for (let i = 0; i < n; i++) path += `/${r.pick(SEGMENTS)}`;
  // Mutate: insert, delete or replace a few characters.
  for (let m = r.int(3); m > 0; m--) {
    const at = r.int(path.length + 1);
    const op = r.int(3);
    if (op === 0) path = path.slice(0, at) + r.pick(NASTY) + path.slice(at);
    else if (op === 1 && path.length > 1) path = path.slice(0, at) + path.slice(at + 1);
    else path = path.slice(0, at) + r.pick(NASTY) + path.slice(at + 1);
  }
  if (!path.startsWith('/') && !r.chance(0.05)) path = `/${path}`;
  if (r.chance(0.2)) path += `?q=${r.pick(['1', '/../admin', '%2F', 'a#b'])}`;
  return path;
}

interface Generated {
  readonly req: SimpleHttpRequest;
  readonly opts: CheckOptions;
  readonly ref: RefRequest | undefined;
}

function generate(r: Random): Generated {
  const host = r.pick(HOSTS);
  const method = r.pick(METHODS);
  const path = randomPath(r);
  const headers: Record<string, string | string[]> = {};
  let key: string | undefined;
  const keyKind = r.int(5);
  if (keyKind === 1) key = KEY;
  else if (keyKind === 2) key = `${KEY}x`;
  else if (keyKind === 3) key = ` ${KEY} `;
  if (key !== undefined) headers['x-api-key'] = key;
  for (let i = r.int(4); i > 0; i--) {
    const name = r.pick(HEADER_NAMES);
    if (name === 'x-api-key') continue;
    headers[name] = r.pick(['admin', 'true', 'a=b; c=d', '', '\u00e9t\u00e9', 'x'.repeat(r.int(300))]);
  }
  const raw = r.chance(0.3);
  const opts: CheckOptions = { rawHeaders: raw, ...(r.chance(0.1) ? { body: r.chance(0.5) ? 'a=1&session_logout=1' : Buffer.from([0xff, 0x00, 0x41]) } : {}) };
  return { req: { host, method, path, headers }, opts, ref: { host, method, path, key } };
}

function wellFormed(res: DecodedCheckResponse): string | undefined {
  if (res.kind === 'ok') return res.grpcCode === 0 ? undefined : `ok with grpc code ${res.grpcCode}`;
  if (res.kind === 'denied') {
    const s = res.denied.status;
    if (s === undefined || s < 400 || s > 599) return `denied with status ${String(s)}`;
    if (res.grpcCode === 0) return 'denied with grpc code 0';
    try {
      const body = JSON.parse(res.denied.body) as { code?: unknown };
      return typeof body.code === 'string' ? undefined : 'deny body without code';
    } catch {
      return `deny body not JSON: ${res.denied.body.slice(0, 40)}`;
    }
  }
  return 'response with neither ok_response nor denied_response';
}

describe('fuzz: random and mutated CheckRequests against a plain reference', { timeout: 900_000 }, () => {
  let gh: TestGatehouse;

  before(async () => {
    gh = await startTestGatehouse({ 'policies.yaml': [...POLICIES.map(yamlOf), SECRET].join('\n---\n') }, { logger: undefined, flags: ['--log-level', 'error'] });
    await eventually(() => gh.gatehouse.store.index?.size === POLICIES.length, 5000, 'policies loaded');
  });
  after(() => gh.stop());

  test(`${TOTAL.toLocaleString('en')} requests: zero unexpected allows, zero crashes, every answer agrees with the reference`, async () => {
    const r = seeded(20261202);
    const problems: string[] = [];
    const counts = { allow: 0, deny: 0, errors: 0 };
    const statuses = new Map<string, number>();
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < TOTAL) {
        next++;
        const g = generate(r);
        let res: DecodedCheckResponse;
        try {
          res = await gh.envoy.check(g.req, g.opts);
        } catch (e) {
          counts.errors++;
          problems.push(`${JSON.stringify(g.req)}: call failed: ${(e as Error).message}`);
          continue;
        }
        const malformed = wellFormed(res);
        if (malformed !== undefined) problems.push(`${JSON.stringify(g.req)}: ${malformed}`);
        const want = refDecide(POLICIES, g.ref as RefRequest, KEY);
        const got = res.kind === 'ok' ? 'allow' : `deny ${String(res.kind === 'denied' ? res.denied.status : '?')}`;
        const wanted = want.allow ? 'allow' : `deny ${want.status}`;
        statuses.set(got, (statuses.get(got) ?? 0) + 1);
        if (res.kind === 'ok') counts.allow++;
        else counts.deny++;
        if (got !== wanted) problems.push(`${JSON.stringify(g.req)}: got ${got}, want ${wanted}`);
      }
    };
    await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
    assert.deepEqual(problems.slice(0, 15), [], `${problems.length} problems in ${TOTAL} requests`);
    assert.equal(counts.allow + counts.deny, TOTAL);
    // The generator reaches every kind of answer, so the agreement above means something.
    for (const s of ['allow', 'deny 400', 'deny 401', 'deny 405']) assert.ok((statuses.get(s) ?? 0) > 500, `${s}: ${statuses.get(s) ?? 0}`);
  });
});
