// How gatehouse reaches and proves itself to a provider: over https to a provider behind a private CA
// (trusted through `tls.caRef`, never by turning checks off), and as a client authenticating with
// `private_key_jwt` instead of a secret. Real provider, real gRPC Checks.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { JWK } from 'jose';
import { fetchTrusting } from '../src/authn/oidc/tls-fetch.js';
import { deniedOf, okOf } from './support/envoy-client.js';
import { eventually, startTestGatehouse, type TestGatehouse } from './support/gatehouse.js';
import { Browser, headerOf, oidcBlock, shopFiles } from './support/oidc-browser.js';
import { startLoginOp, type LoginOp } from './support/oidc-login-op.js';
import { makeTestCa } from './support/oidc-tls.js';

const BOUNDED = { timeout: 60_000 };

/** The files of a policy at `op` with `extra` in its oidc block and one more Secret. */
function files(op: LoginOp, extra: Record<string, unknown>, secret: Record<string, string>): Record<string, string> {
  const f = shopFiles([op], { methods: [{ name: 'corp', oidc: oidcBlock(op, extra) }], session: { storage: 'memory', secretRef: { name: 'shop-session' } } });
  const more = JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'extra', namespace: 'shop' }, stringData: secret });
  return { ...f, 'secrets.yaml': `${f['secrets.yaml'] ?? ''}\n---\n${more}` };
}

describe('a provider behind a private CA', () => {
  let op: LoginOp;
  let trusted: TestGatehouse;
  let untrusted: TestGatehouse;

  before(async () => {
    const ca = makeTestCa();
    op = await startLoginOp({ tls: { key: ca.key, cert: ca.cert, fetch: fetchTrusting(ca.ca) } });
    // https: no allowInsecureHttp.
    trusted = await startTestGatehouse(files(op, { allowInsecureHttp: false, tls: { caRef: { name: 'extra', key: 'ca.crt' } } }, { 'ca.crt': ca.ca }));
    untrusted = await startTestGatehouse(files(op, { allowInsecureHttp: false }, {}));
  });
  after(async () => {
    await trusted?.stop();
    await untrusted?.stop();
    await op?.close();
  });

  it('is trusted through tls.caRef: discovery, keys, code exchange and userinfo all go over https', BOUNDED, async () => {
    assert.ok(op.issuer.startsWith('https://'));
    await eventually(() => trusted.gatehouse.store.status('shop', 'shop')?.ready === true, 10_000, 'Ready');
    const browser = new Browser(trusted);
    assert.equal(deniedOf(await browser.login(op, 'alice')).status, 302);
    const ok = okOf(await browser.check('/'));
    assert.equal(headerOf(ok.headers, 'x-consumer-id'), 'alice');
    assert.equal(JSON.parse(Buffer.from(headerOf(ok.headers, 'x-userinfo'), 'base64').toString()).email, 'alice@example.com');
  });

  it('is never trusted without it: the policy stays not Ready, naming the certificate problem', BOUNDED, async () => {
    await eventually(() => untrusted.gatehouse.store.status('shop', 'shop')?.message.includes('has not answered') === true, 10_000, 'ProviderUnavailable');
    const status = untrusted.gatehouse.store.status('shop', 'shop');
    assert.equal(status?.reason, 'ProviderUnavailable');
    assert.match(status?.message ?? '', /certificate/i);
    assert.equal(deniedOf(await new Browser(untrusted).check('/')).status, 503);
  });
});

describe('a client authenticating with private_key_jwt', () => {
  let op: LoginOp;
  let g: TestGatehouse;
  let now = Date.now();

  before(async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const clientJwk = { ...(publicKey.export({ format: 'jwk' }) as JWK), kid: 'shop-web-1', use: 'sig', alg: 'ES256' };
    op = await startLoginOp({ clientJwk });
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const jwk = JSON.stringify({ ...(privateKey.export({ format: 'jwk' }) as JWK), kid: 'shop-web-1' });
    g = await startTestGatehouse(files(op, { clientSecretRef: undefined, privateKeyRef: { name: 'extra', key: 'key.jwk' } }, { 'key.jwk': jwk, 'key.pem': pem }), { clock: () => now });
    await eventually(() => g.gatehouse.store.status('shop', 'shop')?.ready === true, 10_000, 'Ready');
  });
  after(async () => {
    await g?.stop();
    await op?.close();
  });

  it('signs in, refreshes and introspects with signed client assertions, no secret', BOUNDED, async () => {
    now = Date.now();
    const browser = new Browser(g);
    assert.equal(deniedOf(await browser.login(op, 'bob')).status, 302, 'the code exchange accepted the assertion');
    const first = headerOf(okOf(await browser.check('/')).headers, 'x-access-token');
    const tokenCalls = op.requests('/token');
    now += 290_000;
    const refreshed = headerOf(okOf(await browser.check('/')).headers, 'x-access-token');
    assert.notEqual(refreshed, first);
    assert.equal(op.requests('/token') - tokenCalls, 1, 'refreshed with an assertion');
    const bearer = await g.envoy.check({ host: 'shop.example.com', path: '/api', headers: { authorization: `Bearer ${refreshed}` } });
    assert.equal(headerOf(okOf(bearer).headers, 'x-consumer-id'), 'bob', 'introspected with an assertion');
  });
});
