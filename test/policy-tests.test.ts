// `gatehouse test`: the shipped examples' tests pass through the real CLI (so `npm test` runs them), and
// a file with a pass, two mismatches, a credential that cannot be made and a typo is reported as a
// table, as JSON and as JUnit XML, exiting 1; usage errors exit 2.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { CommandIo } from '../src/commands/io.js';
import { runTest } from '../src/commands/test.js';

const ROOT = join(import.meta.dirname, '..', '..');
const CLI = join(import.meta.dirname, '..', 'src', 'cli.js');
const BOUNDED = { timeout: 60_000 };

async function run(argv: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io: CommandIo = { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), env: {} };
  return { code: await runTest(argv, io), stdout, stderr };
}

const MIXED = `apiVersion: gatehouse.dev/v1alpha1
kind: AuthPolicyTest
metadata: {name: mixed}
tests:
  - name: acme passes
    request: {host: api.shop.example.com, headers: {apikey: acme-demo-key-7c1f0e}}
    expect: {allow: {consumer: acme}}
  - name: bob is expected through but is refused
    request: {host: api.shop.example.com, headers: {apikey: bob-demo-key-55d0a1}}
    expect: {allow: {consumer: bob}}
  - name: headers that differ
    request: {host: api.shop.example.com, headers: {apikey: acme-demo-key-7c1f0e}}
    expect: {allow: {headers: {x-consumer-username: acme, x-anonymous-consumer: "true"}}}
  - name: a Secret that does not exist
    request: {host: api.shop.example.com, headers: {apikey: {secret: shop/nobody}}}
    expect: {deny: {status: 401}}
  - name: typo
    request: {host: api.shop.example.com}
    expcet: {deny: {}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: not-a-test}
`;

describe('gatehouse test', BOUNDED, () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-policy-tests-'));
  const mixed = join(dir, 'mixed.yaml');
  writeFileSync(mixed, MIXED);
  after(() => rmSync(dir, { recursive: true, force: true }));
  const policies = join(ROOT, 'deploy', 'examples');

  it('the tests beside the shipped examples all pass through the real CLI', () => {
    const r = spawnSync(process.execPath, [CLI, 'test', 'deploy/examples/tests', '--policies', 'deploy/examples'], { cwd: ROOT, encoding: 'utf8', timeout: 30_000, env: { PATH: process.env.PATH ?? '' } });
    assert.equal(r.stderr, '');
    assert.equal(r.status, 0, r.stdout);
    const lines = r.stdout.trimEnd().split('\n');
    assert.match(lines[0] ?? '', /^RESULT {2}TEST +EXPECTED +GOT$/);
    assert.deepEqual(lines.slice(1, -1).filter((l) => !l.startsWith('pass    deploy/examples/tests/shop.yaml#')), []);
    assert.equal(lines.at(-1), '17 tests, 17 passed, 0 failed');
    assert.match(r.stdout, /\npass {4}deploy\/examples\/tests\/shop\.yaml#2 an expired token is refused with 401 +deny 401 jwt_expired +deny 401 jwt_expired\n/);
  });

  it('a mismatch fails with what differed and the phases; exit 1; other kinds in the file are skipped', () => {
    const r = spawnSync(process.execPath, [CLI, 'test', 'mixed.yaml', '--policies', policies], { cwd: dir, encoding: 'utf8', timeout: 30_000, env: { PATH: process.env.PATH ?? '' } });
    assert.deepEqual([r.status, r.stderr], [1, '']);
    assert.equal(
      r.stdout,
      [
        'RESULT  TEST                                                 EXPECTED    GOT',
        'ERROR   mixed.yaml#1 test file',
        '    tests[4].expcet: unknown field (one of name, request, expect)',
        'ERROR   mixed.yaml#1 test file',
        '    tests[4].expect: must hold exactly one of allow, deny',
        'pass    mixed.yaml#1 acme passes                             allow acme  allow authenticated acme',
        'FAIL    mixed.yaml#1 bob is expected through but is refused  allow bob   deny 403 group_forbidden',
        '    decision: expected allow, got deny 403 group_forbidden',
        '    phases: route=shop/shop-api authn=partner-keys:success authz=groups.anyOf:group_forbidden answer=deny:403:group_forbidden',
        'FAIL    mixed.yaml#1 headers that differ                     allow       allow authenticated acme',
        '    header x-consumer-username: expected "acme", got "acme-corp"',
        '    header x-anonymous-consumer: expected "true", got none',
        '    phases: route=shop/shop-api authn=partner-keys:success authz=groups.anyOf:pass answer=allow:authenticated',
        'ERROR   mixed.yaml#1 a Secret that does not exist            deny 401',
        `    request.headers.apikey.secret: no Secret shop/nobody in ${policies}`,
        '6 tests, 1 passed, 2 failed, 3 errors',
        '',
      ].join('\n'),
    );
  });

  it('--json for machines and --junit for CI say the same', async () => {
    const junit = join(dir, 'junit.xml');
    const r = await run([mixed, '--policies', policies, '--json', '--junit', junit]);
    assert.equal(r.code, 1);
    const json = JSON.parse(r.stdout) as { tests: { name: string; status: string; mismatches: string[] }[]; passed: number; failed: number; errors: number };
    assert.deepEqual([json.passed, json.failed, json.errors], [1, 2, 3]);
    assert.deepEqual(json.tests.map((t) => [t.name, t.status]), [
      ['test file', 'error'],
      ['test file', 'error'],
      ['acme passes', 'pass'],
      ['bob is expected through but is refused', 'fail'],
      ['headers that differ', 'fail'],
      ['a Secret that does not exist', 'error'],
    ]);
    const xml = readFileSync(junit, 'utf8').replaceAll(mixed, 'mixed.yaml').replaceAll(policies, 'POLICIES').replace(/time="[0-9.]+"/g, 'time="T"');
    assert.equal(
      xml,
      `<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="gatehouse test" tests="6" failures="2" errors="3" time="T">
  <testsuite name="mixed.yaml#1" tests="2" failures="0" errors="2" time="T">
    <testcase classname="mixed.yaml#1" name="test file" time="T">
      <error message="tests[4].expcet: unknown field (one of name, request, expect)" type="test_error">tests[4].expcet: unknown field (one of name, request, expect)</error>
    </testcase>
    <testcase classname="mixed.yaml#1" name="test file" time="T">
      <error message="tests[4].expect: must hold exactly one of allow, deny" type="test_error">tests[4].expect: must hold exactly one of allow, deny</error>
    </testcase>
  </testsuite>
  <testsuite name="mixed.yaml#1 mixed" tests="4" failures="2" errors="1" time="T">
    <testcase classname="mixed" name="acme passes" time="T"/>
    <testcase classname="mixed" name="bob is expected through but is refused" time="T">
      <failure message="expected allow bob, got deny 403 group_forbidden" type="mismatch">decision: expected allow, got deny 403 group_forbidden
phases: route=shop/shop-api authn=partner-keys:success authz=groups.anyOf:group_forbidden answer=deny:403:group_forbidden</failure>
    </testcase>
    <testcase classname="mixed" name="headers that differ" time="T">
      <failure message="expected allow, got allow authenticated acme" type="mismatch">header x-consumer-username: expected &quot;acme&quot;, got &quot;acme-corp&quot;
header x-anonymous-consumer: expected &quot;true&quot;, got none
phases: route=shop/shop-api authn=partner-keys:success authz=groups.anyOf:pass answer=allow:authenticated</failure>
    </testcase>
    <testcase classname="mixed" name="a Secret that does not exist" time="T">
      <error message="request.headers.apikey.secret: no Secret shop/nobody in POLICIES" type="test_error">request.headers.apikey.secret: no Secret shop/nobody in POLICIES</error>
    </testcase>
  </testsuite>
</testsuites>
`,
    );
  });

  it('a file without tests is an error; usage errors exit 2', async () => {
    const empty = join(dir, 'empty.yaml');
    writeFileSync(empty, 'kind: ConfigMap\n');
    const none = await run([empty, '--policies', policies]);
    assert.equal(none.code, 1);
    assert.match(none.stdout.replaceAll(empty, 'empty.yaml'), /\nERROR   empty\.yaml test file\n {4}no AuthPolicyTest document\n1 tests, 0 passed, 0 failed, 1 errors\n$/);
    assert.deepEqual(await run(['--policies', policies]), { code: 2, stdout: '', stderr: 'gatehouse test: give at least one tests file or directory\n' });
    assert.deepEqual(await run([mixed]), { code: 2, stdout: '', stderr: 'gatehouse test: --policies (GATEHOUSE_POLICIES) is required\n' });
  });
});
