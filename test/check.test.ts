// `gatehouse check` as a user tries a policy without Envoy: the command, as a child process, asks a
// running gatehouse (the shipped examples) about one request and prints the decision exactly.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { closedPort, ROOT, runAsync } from './support/cli.js';
import { startTestGatehouse, type TestGatehouse } from './support/gatehouse.js';

const EXAMPLES = ['api-keys.yaml', 'session.yaml'];
const ACME = 'apikey: acme-demo-key-7c1f0e';

describe('gatehouse check against a running gatehouse', { timeout: 120_000 }, () => {
  let gh: TestGatehouse;
  let check: (...args: string[]) => ReturnType<typeof runAsync>;
  before(async () => {
    gh = await startTestGatehouse(Object.fromEntries(EXAMPLES.map((f) => [f, readFileSync(join(ROOT, 'deploy', 'examples', f), 'utf8')])));
    check = (...args) => runAsync(['check', '--grpc-address', `127.0.0.1:${gh.gatehouse.grpcPort}`, ...args]);
  });
  after(() => gh.stop());

  const ACME_HEADERS = [
    'set header     x-consumer-id: acme',
    'set header     x-consumer-username: acme-corp',
    'set header     x-consumer-custom-id: crm-1001',
    'set header     x-credential-identifier: shop/partner-acme',
    'set header     x-authenticated-groups: partners, beta',
    'remove header  x-anonymous-consumer',
  ];

  it("an allowed request: exit 0, the identity headers set, the forgeable ones and the key (hideCredentials) removed", async () => {
    assert.deepEqual(await check('--host', 'api.shop.example.com', '--path', '/orders', '-H', ACME), {
      status: 0,
      stderr: '',
      stdout: lines(['decision       allow', ...ACME_HEADERS, 'remove header  apikey']),
    });
  });

  it('the key in the query string instead: the parameter is removed from the upstream request', async () => {
    assert.deepEqual(await check('--host', 'api.shop.example.com', '--path', '/orders?apikey=acme-demo-key-7c1f0e&page=2'), {
      status: 0,
      stderr: '',
      stdout: lines(['decision       allow', ...ACME_HEADERS, 'remove query   apikey']),
    });
  });

  it('no key: exit 1 with the 401, its challenge and body', async () => {
    assert.deepEqual(await check('--host', 'api.shop.example.com', '--path', '/orders'), {
      status: 1,
      stderr: '',
      stdout: lines([
        'decision  deny',
        'status    401',
        'header    www-authenticate: Key realm="shop"',
        'header    content-type: application/json',
        'body      {"code":"credential_missing","message":"No credentials found in request"}',
      ]),
    });
  });

  it('the method counts: /healthz is skipped for GET, not for POST', async () => {
    assert.equal((await check('--host', 'api.shop.example.com', '--path', '/healthz')).status, 0);
    const post = await check('--host', 'api.shop.example.com', '--path', '/healthz', '--method', 'post');
    assert.equal(post.status, 1);
    assert.match(post.stdout, /^status {4}401$/m);
  });

  it('--json: the deny of a key whose consumer is in no allowed group (403)', async () => {
    const r = await check('--host', 'api.shop.example.com', '--path', '/orders', '-H', 'apikey: bob-demo-key-55d0a1', '--json');
    assert.deepEqual({ status: r.status, stderr: r.stderr, json: JSON.parse(r.stdout) as unknown }, {
      status: 1,
      stderr: '',
      json: { decision: 'deny', status: 403, headers: [{ name: 'content-type', value: 'application/json' }], body: '{"code":"group_forbidden","message":"Forbidden"}' },
    });
  });

  it('--json: an allow with every list, empty ones included', async () => {
    const r = await check('--host', 'api.shop.example.com', '--path', '/orders', '--header=APIKEY:acme-demo-key-7c1f0e', '--json');
    assert.equal(r.status, 0);
    assert.deepEqual(JSON.parse(r.stdout), {
      decision: 'allow',
      setHeaders: [
        { name: 'x-consumer-id', value: 'acme' },
        { name: 'x-consumer-username', value: 'acme-corp' },
        { name: 'x-consumer-custom-id', value: 'crm-1001' },
        { name: 'x-credential-identifier', value: 'shop/partner-acme' },
        { name: 'x-authenticated-groups', value: 'partners, beta' },
      ],
      removeHeaders: ['x-anonymous-consumer', 'apikey'],
      responseHeaders: [],
      setQuery: [],
      removeQuery: [],
    });
  });

  it('a sign-in on the session example: the session cookie is a response header', async () => {
    const r = await check('--host', 'shop.example.com', '-H', ACME);
    assert.equal(r.status, 0);
    assert.match(r.stdout, /^response header {2}set-cookie: gh_session=[\w-]+; Path=\/; Secure; HttpOnly; SameSite=Strict$/m);
  });
});

describe('gatehouse check without an answer, or with a command line it cannot send', () => {
  it('no server on the port: exit 3 naming the address and what to check', async () => {
    const port = await closedPort();
    const r = await runAsync(['check', '--host', 'api.shop.example.com', '--grpc-address', `127.0.0.1:${port}`]);
    assert.equal(r.status, 3);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, new RegExp(`^gatehouse check: no decision from 127\\.0\\.0\\.1:${port}: UNAVAILABLE: .*ECONNREFUSED.* \\(is gatehouse serve listening there\\? see its --grpc-address\\)\\n$`));
  });

  it('every problem of the command line at once: exit 2', async () => {
    assert.deepEqual(await runAsync(['check', '--path', 'orders', '--method', 'GE T', '-H', 'no colon', '--scheme', 'ftp']), {
      status: 2,
      stdout: '',
      stderr: lines([
        'gatehouse check: --host is required',
        'gatehouse check: invalid --path: "orders" does not start with /',
        'gatehouse check: invalid --method: "GE T" is not an HTTP method',
        'gatehouse check: invalid --header: "no colon" is not "name: value"',
        'gatehouse check: invalid --scheme: "ftp" is not one of https, http',
      ]),
    });
    assert.deepEqual(await runAsync(['check', '--host', 'a', '-H', 'Host: b']), { status: 2, stdout: '', stderr: 'gatehouse check: invalid --header: give the host with --host\n' });
    assert.deepEqual(await runAsync(['check', '--host', 'a', '--hedaer', 'x: y']), { status: 2, stdout: '', stderr: 'gatehouse check: unknown flag --hedaer; did you mean --header?\n' });
  });
});

function lines(list: readonly string[]): string {
  return list.map((l) => `${l}\n`).join('');
}
