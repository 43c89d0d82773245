// `gatehouse explain` as an operator runs it on the shipped examples: the table, --json, curl-style
// -H headers, and usage errors named by flag. Offline, so no identity provider is asked.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { runExplain } from '../src/commands/explain.js';
import type { CommandIo } from '../src/commands/io.js';
import type { Explanation } from '../src/core/trace.js';

const ROOT = join(import.meta.dirname, '..', '..');
const EXAMPLES = join(ROOT, 'deploy', 'examples');
const BOB = ['--offline', '--policies', EXAMPLES, '--host', 'api.shop.example.com', '--path', '/v1/orders?apikey=bob-demo-key-55d0a1', '-H', 'X-Request-Id: r-1'];

async function run(argv: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io: CommandIo = { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), env: {} };
  const code = await runExplain(argv, io);
  return { code, stdout, stderr };
}

describe('gatehouse explain', { timeout: 60_000 }, () => {
  it('prints the phases as a table: a key in the query redacted, the group rule that refused it', async () => {
    assert.deepEqual(await run(BOB), {
      code: 0,
      stderr: '',
      stdout: [
        'REQUEST  GET api.shop.example.com/v1/orders?apikey=[redacted]',
        '         path /v1/orders',
        '         x-request-id: r-1',
        '',
        'ROUTE    policy shop/shop-api',
        '         CANDIDATE      HOST                  PREFIX  METHODS  CREATED  MODE     RESULT',
        '         shop/shop-api  api.shop.example.com  /       all      -        enforce  chosen',
        'POLICY   shop/shop-api generation 1, enforce, mode any, compared path /v1/orders',
        'SKIP     RULE  PATHS              METHODS   MATCHED',
        '         0     /healthz,/public/  GET,HEAD  no',
        'AUTHN    METHOD        TYPE    PRESENTED     RESULT   CODE/CONSUMER  DETAIL',
        '         partner-keys  apiKey  query:apikey  success  bob (interns)',
        'AUTHZ    RULE          RESULT  CODE             DETAIL',
        '         groups.anyOf  fail    group_forbidden  no required group',
        'ANSWER   deny 403 group_forbidden (shop/shop-api, partner-keys)',
        '         detail: no required group',
        '         response content-type: application/json',
        '         body {"code":"group_forbidden","message":"Forbidden"}',
        '',
      ].join('\n'),
    });
  });

  it('--json prints the same explanation for machines, never the key', async () => {
    const out = await run([...BOB, '--json']);
    assert.deepEqual([out.code, out.stderr], [0, '']);
    assert.doesNotMatch(out.stdout, /bob-demo-key/);
    const e = JSON.parse(out.stdout) as Explanation;
    assert.deepEqual(e.request, { method: 'GET', host: 'api.shop.example.com', rawPath: '/v1/orders', path: '/v1/orders', query: 'apikey=[redacted]', headers: [{ name: 'x-request-id', value: 'r-1' }] });
    assert.deepEqual([e.answer.decision, e.answer.status, e.answer.code, e.answer.policy], ['deny', 403, 'group_forbidden', 'shop/shop-api']);
    assert.deepEqual(e.authorization, [{ rule: 'groups.anyOf', passed: false, code: 'group_forbidden', detail: 'no required group' }]);
  });

  it('usage errors name the flag and exit 2; a policy path that does not exist exits 1', async () => {
    assert.deepEqual(await run(['--policies', EXAMPLES, '-H', 'nocolon']), {
      code: 2,
      stdout: '',
      stderr: 'gatehouse explain: --host is required\ngatehouse explain: invalid --header: "nocolon" is not name: value\n',
    });
    assert.deepEqual(await run(['--policies', EXAMPLES, '--host', 'a.example.com', '--method', 'GE T']), { code: 2, stdout: '', stderr: 'gatehouse explain: method: "GE T" is not an HTTP method\n' });
    const missing = await run(['--offline', '--policies', join(ROOT, 'no-such-dir'), '--host', 'a.example.com']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^gatehouse explain: --policies: ENOENT: no such file or directory/);
  });

  it('is a command of the gatehouse CLI', () => {
    const r = spawnSync(process.execPath, [join(import.meta.dirname, '..', 'src', 'cli.js'), 'help', 'explain'], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^usage: gatehouse explain --policies <file\|dir> --host <host>/);
    assert.match(r.stdout, /\n {2}-H, --header '<name>: <value>'\n/);
  });
});
