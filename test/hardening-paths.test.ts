// No way around a policy by spelling a path differently or using a method it does not list. Spellings
// are generated (dot segments, repeated slashes, percent-encoded letters and dots, in random case),
// sent through the real gRPC path as Envoy sends them, and must reach exactly the policy the normal
// form names; what cannot be read without guessing is refused with 400 and a stable code.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { validatePaths } from '../src/commands/validate.js';
import type { DecodedCheckResponse } from './support/envoy-client.js';
import { eventually, startTestGatehouse, type TestGatehouse } from './support/gatehouse.js';
import { seeded, type Random } from './support/random.js';

const KEY = `methods: [{name: key, apiKey: {from: [{header: x-api-key}], selector: {matchLabels: {gatehouse.dev/credential: path-keys}}}}]`;

function policy(name: string, host: string, body: string): string {
  return `apiVersion: gatehouse.dev/v1alpha1
kind: AuthPolicy
metadata: {name: ${name}, namespace: paths}
spec:
  hosts: [${host}]
${body}
---
`;
}

const FILES: Record<string, string> = {
  'policies.yaml':
    policy('site-public', 'site.paths.test', `  authentication: {${KEY}}\n  anonymous: {id: guest}`) +
    policy('site-admin', 'site.paths.test', `  paths: [/admin]\n  authentication: {${KEY}}`) +
    policy('api', 'api.paths.test', `  skip: [{paths: [/public], methods: [GET]}]\n  authentication: {${KEY}}`) +
    policy('m-public', 'm.paths.test', `  authentication: {${KEY}}\n  anonymous: {id: guest}`) +
    policy('m-admin', 'm.paths.test', `  paths: [/admin]\n  methods: [GET, POST]\n  authentication: {${KEY}}`) +
    policy('f-public', 'f.paths.test', `  authentication: {${KEY}}\n  anonymous: {id: guest}`) +
    policy('f-admin', 'f.paths.test', `  paths: [/admin]\n  methods: [GET]\n  otherMethods: fallThrough\n  authentication: {${KEY}}`) +
    policy('ci-public', 'ci.paths.test', `  authentication: {${KEY}}\n  anonymous: {id: guest}`) +
    policy('ci-admin', 'ci.paths.test', `  paths: [/Admin]\n  pathMatching: {caseInsensitive: true}\n  authentication: {${KEY}}`) +
    policy('tc-public', 'tc.paths.test', `  authentication: {${KEY}}\n  anonymous: {id: guest}`) +
    policy('tc-admin', 'tc.paths.test', `  paths: [/admin]\n  pathMatching: {stripParameters: true}\n  authentication: {${KEY}}`) +
    policy('enc', 'enc.paths.test', `  paths: [/files]\n  pathMatching: {allowEncodedSlashes: true}\n  authentication: {${KEY}}\n  anonymous: {id: guest}`) +
    `apiVersion: v1
kind: Secret
metadata: {name: path-key, namespace: paths, labels: {gatehouse.dev/credential: path-keys}, annotations: {gatehouse.dev/consumer-id: admin}}
stringData: {api_key: path-key-0001}
`,
};

/** What a Check came to, in one word: `guest` (anonymous allow), `skipped`, `401`, `405`, `400 <code>`... */
function outcome(res: DecodedCheckResponse): string {
  if (res.kind === 'ok') {
    if (res.ok.headers.some((h) => h.key === 'x-anonymous-consumer' && h.value === 'true')) return 'guest';
    return res.ok.headers.length === 0 ? 'skipped' : 'consumer';
  }
  if (res.kind === 'denied') {
    const status = String(res.denied.status);
    return status === '400' ? `400 ${(JSON.parse(res.denied.body) as { code: string }).code}` : status;
  }
  return 'none';
}

const hex = (c: string, r: Random): string => {
  const h = c.charCodeAt(0).toString(16).padStart(2, '0');
  return `%${r.chance(0.5) ? h.toUpperCase() : h}`;
};
const encodeSome = (s: string, r: Random): string => [...s].map((c) => (r.chance(0.35) ? hex(c, r) : c)).join('');
const DOT = ['.', '%2e', '%2E'];
const DOTDOT = ['..', '%2e%2e', '.%2E', '%2E.', '%2e.'];
const NOISE = ['public', 'x', 'static', 'admin-old', 'p%75blic'];

/** A spelling of `target` (normal form) that normalizes back to it. */
function spell(target: string, r: Random): string {
  let out = '';
  for (const seg of target.split('/').slice(1)) {
    if (r.chance(0.3)) out += `/${r.pick(NOISE)}/${r.pick(DOTDOT)}`;
    if (r.chance(0.2)) out += `/${r.pick(DOT)}`;
    if (r.chance(0.25)) out += '/'.repeat(1 + r.int(3));
    out += `/${encodeSome(seg, r)}`;
  }
  return out;
}

/** A spelling with one thing in it that cannot be normalized without guessing, and its code. */
function poisoned(target: string, r: Random): [string, string] {
  const path = spell(target, r);
  // Never inside an escape (`%2|e`): that would be a bad escape, not what is injected.
  const points: number[] = [];
  for (let i = 1; i <= path.length; i++) if (path[i - 1] !== '%' && path[i - 2] !== '%') points.push(i);
  const at = r.pick(points);
  const [inject, code] = r.pick([
    ['%2F', 'path_encoded_slash'],
    ['%2f', 'path_encoded_slash'],
    ['%5C', 'path_encoded_slash'],
    ['\\', 'path_backslash'],
    ['#', 'path_fragment'],
    ['%00', 'path_control_char'],
    ['%0a', 'path_control_char'],
    ['\u0001', 'path_control_char'],
    ['%zz', 'path_bad_escape'],
    ['%4x', 'path_bad_escape'],
    ['/..;x/', 'path_dot_parameters'],
    ['/.;/', 'path_dot_parameters'],
  ] as const);
  return [path.slice(0, at) + inject + path.slice(at), code];
}

describe('paths and methods cannot walk around a policy', { timeout: 120_000 }, () => {
  let gh: TestGatehouse;
  const check = (host: string, path: string, method = 'GET'): Promise<string> => gh.envoy.check({ host, path, method }).then(outcome);

  before(async () => {
    gh = await startTestGatehouse(FILES);
    await eventually(() => gh.gatehouse.store.index?.size === 12, 5000, 'policies loaded');
  });
  after(() => gh.stop());

  test('2,000 spellings of protected and public paths reach the policy their normal form names', async () => {
    const r = seeded(11);
    const wrong: string[] = [];
    const targets: [string, string, string][] = [
      ['site.paths.test', '/admin', '401'],
      ['site.paths.test', '/admin/users/7', '401'],
      ['site.paths.test', '/shop/items', 'guest'],
      ['site.paths.test', '/admin-panel', 'guest'],
      ['api.paths.test', '/admin', '401'],
      ['api.paths.test', '/public/logo.png', 'skipped'],
      ['api.paths.test', '/publicity', '401'],
      ['tc.paths.test', '/admin/x', '401'],
      ['ci.paths.test', '/admin', '401'],
    ];
    for (let i = 0; i < 2000; i += 50) {
      await Promise.all(
        Array.from({ length: 50 }, async () => {
          const [host, target, want] = r.pick(targets);
          const path = spell(target, r) + (r.chance(0.3) ? '?next=/public/../x' : '');
          const got = await check(host, path);
          if (got !== want) wrong.push(`${host} ${JSON.stringify(path)} (= ${target}): got ${got}, want ${want}`);
        }),
      );
    }
    assert.deepEqual(wrong.slice(0, 20), [], `${wrong.length} wrong`);
  });

  test('1,000 spellings with something that needs guessing are refused with 400 and the code that names it', async () => {
    const r = seeded(12);
    const wrong: string[] = [];
    for (let i = 0; i < 1000; i += 50) {
      await Promise.all(
        Array.from({ length: 50 }, async () => {
          const [path, code] = poisoned(r.pick(['/admin', '/public/x', '/shop/items']), r);
          const got = await check(r.pick(['site.paths.test', 'api.paths.test']), path);
          if (got !== `400 ${code}`) wrong.push(`${JSON.stringify(path)}: got ${got}, want 400 ${code}`);
        }),
      );
    }
    assert.deepEqual(wrong.slice(0, 20), [], `${wrong.length} wrong`);
  });

  test('the issue\'s examples: each is the protected policy or a 400, never the public one', async () => {
    const answers = await Promise.all(['//admin', '/./admin', '/public/../admin', '/%61dmin', '/%2Fadmin', '/#/../admin'].map((p) => check('site.paths.test', p)));
    assert.deepEqual(answers, ['401', '401', '401', '401', '400 path_encoded_slash', '400 path_fragment']);
    const res = await gh.envoy.check({ host: 'site.paths.test', path: '/%2Fadmin' });
    assert.deepEqual(res.kind === 'denied' && res.denied, {
      status: 400,
      headers: [{ key: 'content-type', value: 'application/json', append: false }],
      body: JSON.stringify({ code: 'path_encoded_slash', message: 'Malformed request path' }),
    });
  });

  test('prefixes match at segment boundaries, for routes and skip rules alike', async () => {
    assert.deepEqual(
      await Promise.all([
        check('site.paths.test', '/admin'),
        check('site.paths.test', '/admin/'),
        check('site.paths.test', '/admin/x'),
        check('site.paths.test', '/admin-x'),
        check('site.paths.test', '/adminx'),
        check('api.paths.test', '/public'),
        check('api.paths.test', '/public/a'),
        check('api.paths.test', '/public-admin'),
        check('api.paths.test', '/public', 'POST'),
      ]),
      ['401', '401', '401', 'guest', 'guest', 'skipped', 'skipped', '401', '401'],
    );
  });

  test('case-insensitive and ;parameter-stripping policies catch the spellings their upstreams read as theirs', async () => {
    assert.deepEqual(
      await Promise.all([
        check('ci.paths.test', '/ADMIN/x'),
        check('ci.paths.test', '/aDmIn'),
        check('ci.paths.test', '/administrator'),
        check('tc.paths.test', '/admin;jsessionid=0123/x'),
        check('tc.paths.test', '/admin;x'),
        check('tc.paths.test', '/public/..;/admin'),
        check('tc.paths.test', '/ADMIN'),
      ]),
      ['401', '401', 'guest', '401', '401', '400 path_dot_parameters', 'guest'],
    );
  });

  test('encoded slashes pass only where a policy allows them', async () => {
    assert.deepEqual(
      await Promise.all([check('enc.paths.test', '/files/group%2Fproject'), check('enc.paths.test', '/other/a%2Fb'), check('site.paths.test', '/shop/a%2fb')]),
      ['guest', '400 path_encoded_slash', '400 path_encoded_slash'],
    );
  });

  test('a method the most specific path does not list is refused with 405 and Allow, never handed to the public policy', async () => {
    const methods = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS', 'TRACE', 'CONNECT', 'PROPFIND', 'MKCOL', 'FOO', 'get'];
    const answers = await Promise.all(methods.map((m) => check('m.paths.test', '/admin/x', m)));
    assert.deepEqual(answers, ['401', '401', '405', '405', '405', '405', '405', '405', '405', '405', '405', '405', '401']);
    const res = await gh.envoy.check({ host: 'm.paths.test', path: '/admin', method: 'PROPFIND' });
    assert.deepEqual(res.kind === 'denied' && res.denied, {
      status: 405,
      headers: [
        { key: 'content-type', value: 'application/json', append: false },
        { key: 'allow', value: 'GET, POST', append: false },
      ],
      body: JSON.stringify({ code: 'method_not_allowed', message: 'Method not allowed' }),
    });
    assert.equal(await check('m.paths.test', '/other', 'PROPFIND'), 'guest');
  });

  test('otherMethods: fallThrough hands unlisted methods to the next policy, and validate warns about it', async () => {
    assert.deepEqual(await Promise.all([check('f.paths.test', '/admin', 'GET'), check('f.paths.test', '/admin', 'DELETE')]), ['401', 'guest']);
    const report = await validatePaths([gh.dir]);
    const warnings = report.lines.filter((l) => l.includes('warning'));
    assert.deepEqual(warnings.map((l) => l.slice(l.indexOf(': ') + 2)), [
      'spec.otherMethods: warning: HEAD f.paths.test/admin falls through to paths/f-public, which admits requests without credentials',
    ]);
    const status = gh.gatehouse.store.status('paths', 'f-admin');
    assert.equal(status?.ready, true);
    assert.equal(status?.message, 'spec.otherMethods: HEAD f.paths.test/admin falls through to paths/f-public, which admits requests without credentials');
  });
});
