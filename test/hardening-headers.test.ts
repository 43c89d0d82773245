// Look-alike identity headers: `x_consumer_id` reaches CGI, WSGI, PHP and Rack applications as
// X-Consumer-Id. On every allow (authenticated, anonymous, skipped), every request header that folds
// onto a name gatehouse can set is removed: the defaults, renamed ones, claim and payload headers.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SignJWT } from 'jose';
import type { DecodedCheckResponse } from './support/envoy-client.js';
import { eventually, startTestGatehouse, type TestGatehouse } from './support/gatehouse.js';
import { seeded } from './support/random.js';

const SECRET = 'look-alike-shared-secret-0123456789abcdef';

const FILES = {
  'policy.yaml': `apiVersion: gatehouse.dev/v1alpha1
kind: AuthPolicy
metadata: {name: app, namespace: la}
spec:
  hosts: [app.headers.test]
  skip: [{paths: [/public]}]
  authentication:
    methods:
      - name: tokens
        jwt:
          algorithms: [HS256]
          secretRef: {name: jwt, key: secret}
          claimsToHeaders: {x-user-email: email}
          forwardPayloadHeader: x-jwt-payload
  anonymous: {id: guest}
  response:
    identityHeaders: {consumerId: x-user-id, groups: x-user-roles}
---
apiVersion: v1
kind: Secret
metadata: {name: jwt, namespace: la}
stringData: {secret: ${SECRET}}
`,
};

/** Every name gatehouse can set for that policy, default names included (another policy may use them). */
const NAMES = [
  'x-consumer-id',
  'x-consumer-username',
  'x-consumer-custom-id',
  'x-credential-identifier',
  'x-authenticated-groups',
  'x-anonymous-consumer',
  'x-user-id',
  'x-user-roles',
  'x-user-email',
  'x-jwt-payload',
];

describe('look-alike identity headers are stripped on every allow', { timeout: 60_000 }, () => {
  let gh: TestGatehouse;
  let token = '';

  before(async () => {
    gh = await startTestGatehouse(FILES);
    await eventually(() => gh.gatehouse.store.index?.size === 1, 5000, 'policy loaded');
    const now = Math.floor(Date.now() / 1000);
    token = await new SignJWT({ sub: 'alice', email: 'alice@example.com', iat: now, exp: now + 600 }).setProtectedHeader({ alg: 'HS256' }).sign(Buffer.from(SECRET));
  });
  after(() => gh.stop());

  test('1,000 generated spellings (_ . ~ for -, any case) are removed; names that only resemble them are kept', async () => {
    const r = seeded(31);
    const wrong: string[] = [];
    for (let round = 0; round < 100; round++) {
      const lookAlikes = new Set<string>();
      for (let i = 0; i < 10; i++) {
        const name = r.pick(NAMES);
        const spelled = [...name].map((c) => (c === '-' ? r.pick(['_', '.', '-', '~']) : r.chance(0.5) ? c.toUpperCase() : c)).join('');
        // Spelled exactly like the real name it is removed anyway; look-alikes are what is tested.
        if (spelled.toLowerCase() !== name) lookAlikes.add(spelled.toLowerCase());
      }
      const bystanders = ['x_consumer_idx', 'x_consumer', 'x-user_email_2', 'user_agent_x', 'x__consumer__id'];
      const headers: Record<string, string> = {};
      for (const n of [...lookAlikes, ...bystanders]) headers[n] = 'forged';
      const kind = r.pick(['token', 'anonymous', 'skipped'] as const);
      if (kind === 'token') headers['authorization'] = `Bearer ${token}`;
      const res: DecodedCheckResponse = await gh.envoy.check({ host: 'app.headers.test', path: kind === 'skipped' ? '/public/x' : '/orders', headers });
      if (res.kind !== 'ok') {
        wrong.push(`${kind}: not allowed`);
        continue;
      }
      const removed = new Set(res.ok.headersToRemove);
      for (const n of lookAlikes) if (!removed.has(n)) wrong.push(`${kind}: ${n} kept`);
      for (const n of bystanders) if (removed.has(n)) wrong.push(`${kind}: ${n} removed`);
    }
    assert.deepEqual(wrong.slice(0, 20), [], `${wrong.length} wrong`);
  });

  test('x_consumer_id next to a real token: the upstream gets only the verified identity', async () => {
    const res = await gh.envoy.check({
      host: 'app.headers.test',
      path: '/orders',
      headers: { authorization: `Bearer ${token}`, x_consumer_id: 'admin', 'x_user.id': 'admin', x_authenticated_groups: 'admins' },
    });
    assert.equal(res.kind, 'ok');
    if (res.kind !== 'ok') return;
    assert.deepEqual(res.ok.headers.find((h) => h.key === 'x-user-id'), { key: 'x-user-id', value: 'alice', append: false });
    for (const n of ['x_consumer_id', 'x_user.id', 'x_authenticated_groups']) assert.ok(res.ok.headersToRemove.includes(n), `${n} removed`);
  });
});
