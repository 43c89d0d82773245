// Minting: tokens signed with a method's own key and shaped by its own rules are accepted by that
// method; `gatehouse token mint|revoke` from policy files (revocation in a real Redis).
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { decodeProtectedHeader } from 'jose';
import { createJwtServices } from '../src/authn/jwt/services.js';
import { MintError, mintToken } from '../src/authn/jwt/mint.js';
import { runTokenCommand, type CommandIo } from '../src/commands/token.js';
import { authPolicy, hmacJwtMethod, hmacSecret, yamlOf } from './support/fixtures.js';
import { authenticate, bearer, mustCompile, outcome, secret, T0 } from './support/jwt-policy.js';
import { startRedis, type RedisServer } from './support/redis.js';

const HMAC = 'hs256-shared-secret-0123456789abcdef';
const services = createJwtServices();
after(() => services.close());

const payloadOf = (token: string): Record<string, unknown> => JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as Record<string, unknown>;

describe('mintToken', { timeout: 30_000 }, () => {
  test('an HMAC method mints tokens it accepts, with its issuer, audience, required claims and consumer claims', async () => {
    const m = mustCompile(
      {
        algorithms: ['HS256'],
        secretRef: { name: 'jwt-hmac', key: 'secret' },
        issuer: 'https://gatehouse.example.com',
        audiences: ['shop', 'admin'],
        requiredClaims: { tier: ['gold', 'silver'] },
        consumer: { username: 'preferred_username', customId: 'cid', groups: 'realm_access.roles' },
        maxLifetime: '2h',
      },
      { services, secrets: [secret('jwt-hmac', { secret: HMAC })] },
    );
    const minted = await mintToken(m, { consumer: { id: 'alice', username: 'Alice', customId: 'crm-1', groups: ['staff', 'beta'] }, ttlMs: 3_600_000, now: T0, claims: { plan: 'pro' } });
    assert.deepEqual(payloadOf(minted.token), {
      tier: 'gold',
      plan: 'pro',
      sub: 'alice',
      preferred_username: 'Alice',
      cid: 'crm-1',
      realm_access: { roles: ['staff', 'beta'] },
      iss: 'https://gatehouse.example.com',
      aud: 'shop',
      iat: T0 / 1000,
      exp: T0 / 1000 + 3600,
      jti: minted.jti,
    });
    assert.deepEqual(decodeProtectedHeader(minted.token), { alg: 'HS256', typ: 'JWT' });
    assert.equal(minted.expiresAt, T0 + 3_600_000);
    const r = await authenticate(m, bearer(minted.token));
    assert.equal(r.kind, 'success');
    if (r.kind !== 'success') return;
    assert.deepEqual([r.identity.consumerId, r.identity.username, r.identity.customId, r.identity.credential, r.identity.groups], ['alice', 'Alice', 'crm-1', minted.jti, ['staff', 'beta']]);
    await assert.rejects(mintToken(m, { consumer: { id: 'alice' }, ttlMs: 3 * 3_600_000, now: T0 }), (e: unknown) => e instanceof MintError && e.code === 'mint_ttl_invalid');
    await assert.rejects(mintToken(m, { consumer: { id: 'alice' }, ttlMs: 60_000, claims: { exp: 1 } }), (e: unknown) => e instanceof MintError && e.code === 'mint_claim_invalid');
    await assert.rejects(mintToken(m, { consumer: { id: 'a\nb' }, ttlMs: 60_000, now: T0 }), (e: unknown) => e instanceof MintError && e.code === 'mint_rejected');
  });

  test('minted ids are 128-bit hex: none of 3000 looks like a flag to `token revoke --jti <id>`', async () => {
    const m = mustCompile({ algorithms: ['HS256'], secretRef: { name: 'jwt-hmac', key: 'secret' } }, { services, secrets: [secret('jwt-hmac', { secret: HMAC })] });
    const ids = new Set<string>();
    for (let i = 0; i < 3000; i++) {
      const { jti, token } = await mintToken(m, { consumer: { id: 'c' }, ttlMs: 60_000, now: T0 });
      assert.match(jti, /^[0-9a-f]{32}$/);
      assert.equal(payloadOf(token)['jti'], jti);
      ids.add(jti);
    }
    assert.equal(ids.size, 3000);
  });

  test('a private key in signingKeyRef signs (RS256 from PEM, ES256 from a JWK with kid) and its public half verifies', async () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const ec = { ...generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' }), kid: 'mint-2025' };
    const keys = secret('signing', { 'rsa.pem': rsa, 'ec.json': JSON.stringify(ec) });
    const rs = mustCompile({ algorithms: ['PS256', 'RS256'], signingKeyRef: { name: 'signing', key: 'rsa.pem' } }, { services, secrets: [keys] });
    const es = mustCompile({ algorithms: ['ES256'], signingKeyRef: { name: 'signing', key: 'ec.json' } }, { services, secrets: [keys] });
    const t1 = await mintToken(rs, { consumer: { id: 'svc-1' }, ttlMs: 60_000, now: T0 });
    assert.deepEqual(decodeProtectedHeader(t1.token), { alg: 'PS256', typ: 'JWT' });
    assert.equal(outcome(await authenticate(rs, bearer(t1.token))), 'success');
    const t2 = await mintToken(es, { consumer: { id: 'svc-2' }, ttlMs: 60_000, now: T0 });
    assert.deepEqual(decodeProtectedHeader(t2.token), { alg: 'ES256', typ: 'JWT', kid: 'mint-2025' });
    assert.equal(outcome(await authenticate(es, bearer(t2.token))), 'success');
    assert.equal(outcome(await authenticate(rs, bearer(t2.token))), 'jwt_alg_not_allowed');
  });

  test('a method without a private or HMAC key cannot mint', async () => {
    const offline = createJwtServices({ jwks: { offline: true } });
    after(() => offline.close());
    const m = mustCompile({ algorithms: ['RS256'], jwksUri: 'https://id.example.com/jwks' }, { services: offline });
    await assert.rejects(mintToken(m, { consumer: { id: 'x' }, ttlMs: 60_000 }), (e: unknown) => e instanceof MintError && e.code === 'mint_no_key');
  });
});

const POLICY = yamlOf(
  authPolicy('shop', 'api', {
    hosts: ['api.example.com'],
    authentication: {
      methods: [
        hmacJwtMethod({
          issuer: 'https://gatehouse.example.com',
          audiences: ['shop'],
          maxLifetime: '24h',
          revocation: true,
          consumer: { username: 'preferred_username', groups: 'groups' },
        }),
        hmacJwtMethod({}, 'plain'),
      ],
    },
  }),
  hmacSecret('shop', HMAC),
);

function capture(env: Record<string, string | undefined> = {}): CommandIo & { out: () => string; err: () => string } {
  let out = '';
  let err = '';
  return { stdout: (t) => void (out += t), stderr: (t) => void (err += t), env, out: () => out, err: () => err };
}

describe('gatehouse token', { timeout: 30_000 }, () => {
  let dir: string;
  let redis: RedisServer;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-token-'));
    writeFileSync(join(dir, 'policy.yaml'), POLICY);
    redis = await startRedis();
  });
  after(async () => {
    rmSync(dir, { recursive: true, force: true });
    await redis.stop();
  });

  test('mint prints a token the policy method accepts', async () => {
    const io = capture();
    const code = await runTokenCommand(['mint', '--policies', dir, '--policy', 'shop/api', '--method', 'tokens', '--consumer', 'acme', '--username', 'Acme Corp', '--groups', 'partners, beta', '--ttl', '30m'], io);
    assert.equal(code, 0, io.err());
    assert.equal(io.err(), '');
    const token = io.out().trim();
    assert.match(token, /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    const p = payloadOf(token);
    assert.deepEqual([p['sub'], p['preferred_username'], p['groups'], p['iss'], p['aud'], Number(p['exp']) - Number(p['iat'])], ['acme', 'Acme Corp', ['partners', 'beta'], 'https://gatehouse.example.com', 'shop', 1800]);
    const m = mustCompile(
      { algorithms: ['HS256'], secretRef: { name: 'jwt-hmac', key: 'secret' }, issuer: 'https://gatehouse.example.com', audiences: ['shop'] },
      { services, secrets: [secret('jwt-hmac', { secret: HMAC })] },
    );
    assert.equal(outcome(await authenticate(m, bearer(token), Date.now())), 'success');

    const json = capture();
    assert.equal(await runTokenCommand(['mint', '--policies', dir, '--policy', 'shop/api', '--method', 'tokens', '--consumer', 'acme', '--json'], json), 0);
    const parsed = JSON.parse(json.out()) as { token: string; jti: string; expiresAt: string };
    assert.equal(payloadOf(parsed.token)['jti'], parsed.jti);
  });

  test('bad invocations answer with a reason and exit 1 or 2', async () => {
    const cases: [string[], number, RegExp][] = [
      [['mint', '--policies', dir, '--policy', 'shop/api', '--method', 'tokens'], 2, /--consumer is required/],
      [['mint', '--policies', dir, '--policy', 'shop/nope', '--method', 'tokens', '--consumer', 'x'], 1, /no AuthPolicy shop\/nope/],
      [['mint', '--policies', dir, '--policy', 'shop/api', '--method', 'nope', '--consumer', 'x'], 1, /has no method named nope/],
      [['mint', '--policies', dir, '--policy', 'shop/api', '--method', 'tokens', '--consumer', 'x', '--ttl', '48h'], 1, /maxLifetime/],
      [['mint', '--policies', dir, '--policy', 'shop/api', '--method', 'tokens', '--consumer', 'x', '--ttl', 'soon'], 2, /not a duration/],
      [['mint', '--bogus'], 2, /unknown flag --bogus/],
      [['revoke', '--policies', dir, '--policy', 'shop/api', '--method', 'tokens', '--jti', 'j'], 2, /--redis-url/],
      [['revoke', '--policies', dir, '--policy', 'shop/api', '--method', 'plain', '--jti', 'j', '--redis-url', 'redis://127.0.0.1:1'], 1, /revocation: false/],
      [['frobnicate'], 2, /unknown token command/],
    ];
    for (const [argv, expected, message] of cases) {
      const io = capture();
      assert.equal(await runTokenCommand(argv, io), expected, argv.join(' '));
      assert.match(io.err(), message);
      assert.equal(io.out(), '');
    }
  });

  test('revoke writes to Redis; a serving replica then denies the token and the consumer', async () => {
    const replica = createJwtServices({ redisUrl: redis.url, revocationCacheMs: 0 });
    after(() => replica.close());
    await replica.revocation.ready(5000);
    const m = mustCompile(
      { algorithms: ['HS256'], secretRef: { name: 'jwt-hmac', key: 'secret' }, issuer: 'https://gatehouse.example.com', audiences: ['shop'], revocation: true },
      { services: replica, secrets: [secret('jwt-hmac', { secret: HMAC })] },
    );
    const mint = async (consumer: string): Promise<string> => {
      const io = capture();
      assert.equal(await runTokenCommand(['mint', '--policies', dir, '--policy', 'shop/api', '--method', 'tokens', '--consumer', consumer], io), 0);
      return io.out().trim();
    };
    const t1 = await mint('acme');
    // Issued a minute ago (iat has whole seconds): revoking globex "now" must cover it, while a token
    // the CLI mints after the revocation, in the same second, must stay valid.
    const t2 = (await mintToken(m, { consumer: { id: 'globex' }, ttlMs: 3_600_000, now: Date.now() - 60_000 })).token;
    assert.equal(outcome(await authenticate(m, bearer(t1), Date.now())), 'success');
    const io = capture({ GATEHOUSE_REDIS_URL: redis.url });
    const jti = String(payloadOf(t1)['jti']);
    assert.equal(await runTokenCommand(['revoke', '--policies', dir, '--policy', 'shop/api', '--method', 'tokens', '--jti', jti], io), 0, io.err());
    assert.equal(io.out(), `revoked token ${jti} of shop/api tokens for 86430s\n`);
    assert.equal(outcome(await authenticate(m, bearer(t1), Date.now())), 'jwt_revoked');
    assert.equal(outcome(await authenticate(m, bearer(t2), Date.now())), 'success');
    const io2 = capture();
    assert.equal(await runTokenCommand(['revoke', '--policies', dir, '--policy', 'shop/api', '--method', 'tokens', '--consumer', 'globex', '--redis-url', redis.url], io2), 0, io2.err());
    assert.match(io2.out(), /^revoked tokens of consumer globex issued before \d{4}-\d{2}-\d{2}T/);
    assert.equal(outcome(await authenticate(m, bearer(t2), Date.now())), 'jwt_revoked');
    const t3 = await mint('globex');
    assert.equal(outcome(await authenticate(m, bearer(t3), Date.now())), 'success', 'a token minted after the revocation works');
  });
});
