// TLS on the Check listeners as an operator runs it outside a mesh: certificates from a private CA
// made in the test, gRPC Checks and HTTPS forward-auth over them, and a certificate rotated in place
// (as cert-manager and the kubelet do) served to new connections without a restart, while open
// connections and in-flight Checks carry on.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { allow as allowDecision, FakeEngine } from './support/fake-engine.js';
import { type DecodedCheckResponse, createEnvoyClient, okOf } from './support/envoy-client.js';
import { keyPolicy, keySecret, yamlOf } from './support/fixtures.js';
import { eventually, startTestGatehouse, type TestGatehouse } from './support/gatehouse.js';
import { httpsGet, servedSerial, tlsEnvoyClient } from './support/tls-clients.js';
import { type Issued, TestPki } from './support/tls-pki.js';
import { httpRequest } from './support/http-client.js';
import { startGrpcServer } from '../src/transport/grpc.js';
import { TlsCertificates } from '../src/transport/tls.js';
import type { Decision } from '../src/core/decision.js';

const HOST = 'api.example.com';
const KEY = 'k-7f3a9c0d2e4b';
const POLICIES = { 'api.yaml': yamlOf(keyPolicy('shop', 'api', HOST), keySecret('shop', 'partner-keys', KEY, 'acme')) };
const CHECK = { host: HOST, path: '/orders/7', headers: { apikey: KEY } };
const ALLOWED_HEADERS = [{ key: 'x-consumer-id', value: 'acme', append: false }];

/** The identity headers an allowed Check sets, which prove the policy really ran. */
function consumerOf(res: DecodedCheckResponse): unknown {
  return okOf(res).headers.filter((h) => h.key.startsWith('x-consumer-'));
}

/** The log lines (parsed) whose message is `msg`. */
function logged(g: TestGatehouse, msg: string): Record<string, unknown>[] {
  return g.logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l['msg'] === msg);
}

describe('TLS on the gRPC and HTTP listeners', { timeout: 60_000 }, () => {
  let pki: TestPki;
  let first: Issued;
  let files: { certFile: string; keyFile: string };
  let g: TestGatehouse;

  before(async () => {
    pki = await TestPki.create();
    first = pki.server();
    files = pki.install(first);
    g = await startTestGatehouse(POLICIES, {
      flags: ['--tls-cert-file', files.certFile, '--tls-key-file', files.keyFile, '--tls-reload-interval', '100ms', '--http-address', '127.0.0.1:0'],
    });
  });
  after(async () => {
    await g.stop();
    pki.close();
  });

  it('a Check over TLS is answered as over plaintext; the certificate served is the one in --tls-cert-file', async () => {
    const seen: string[] = [];
    const envoy = tlsEnvoyClient(g.gatehouse.grpcPort, pki, seen);
    try {
      assert.deepEqual(consumerOf(await envoy.check(CHECK)), ALLOWED_HEADERS);
      const denied = await envoy.check({ host: HOST, path: '/orders/7' });
      assert.equal(denied.kind === 'denied' ? denied.denied.status : denied.kind, 401);
      assert.deepEqual(seen, [first.serial]);
    } finally {
      envoy.close();
    }
  });

  it('a plaintext gRPC client is refused (UNAVAILABLE), never answered in clear', async () => {
    const plain = createEnvoyClient(`127.0.0.1:${g.gatehouse.grpcPort}`);
    try {
      await assert.rejects(plain.check(CHECK, { deadlineMs: 3000 }), { code: 14 });
    } finally {
      plain.close();
    }
  });

  it('a client that trusts another CA refuses the server', async () => {
    const other = await TestPki.create('another CA');
    const envoy = tlsEnvoyClient(g.gatehouse.grpcPort, pki, [], { ca: other.ca });
    try {
      await assert.rejects(envoy.check(CHECK, { deadlineMs: 3000 }), { code: 14 });
    } finally {
      envoy.close();
      other.close();
    }
  });

  it('the HTTP forward-auth port speaks HTTPS with the same certificate; plain HTTP there gets no answer', async () => {
    const port = g.gatehouse.httpPort ?? assert.fail('no HTTP port');
    const res = await httpsGet(port, pki, '/envoy/orders/7', { host: HOST, apikey: KEY });
    assert.deepEqual({ status: res.status, consumer: res.headers['x-consumer-id'], serial: res.serial }, { status: 200, consumer: 'acme', serial: first.serial });
    const denied = await httpsGet(port, pki, '/envoy/orders/7', { host: HOST });
    assert.equal(denied.status, 401);
    await assert.rejects(httpRequest(port, { path: '/envoy/orders/7', headers: { host: HOST, apikey: KEY } }), { code: 'ECONNRESET' });
  });

  it('the admin port stays plain HTTP, for kubelet probes and Prometheus', async () => {
    const res = await fetch(`${g.admin}/healthz`);
    assert.deepEqual([res.status, await res.text()], [200, 'ok\n']);
  });

  it('a certificate rotated in place reaches new gRPC and HTTPS connections without a restart; an open connection carries on', async () => {
    const seenEarly: string[] = [];
    const early = tlsEnvoyClient(g.gatehouse.grpcPort, pki, seenEarly);
    const seenLate: string[] = [];
    const late = tlsEnvoyClient(g.gatehouse.grpcPort, pki, seenLate);
    try {
      assert.deepEqual(consumerOf(await early.check(CHECK)), ALLOWED_HEADERS);
      const second = pki.server();
      pki.install(second);
      await eventually(async () => (await servedSerial(g.gatehouse.grpcPort, pki)) === second.serial, 10_000, 'the rotated certificate on a new connection');

      assert.deepEqual(consumerOf(await late.check(CHECK)), ALLOWED_HEADERS);
      assert.deepEqual(seenLate, [second.serial]);
      // The connection made before the rotation is still the one in use: no new handshake.
      assert.deepEqual(consumerOf(await early.check(CHECK)), ALLOWED_HEADERS);
      assert.deepEqual(seenEarly, [first.serial]);
      const https = await httpsGet(g.gatehouse.httpPort ?? 0, pki, '/envoy/orders/7', { host: HOST, apikey: KEY });
      assert.deepEqual([https.status, https.serial], [200, second.serial]);
      const reloaded = logged(g, 'tls certificate reloaded').map((l) => [l['serial'], l['previousSerial']]);
      assert.deepEqual(reloaded, [[second.serial, first.serial]]);
    } finally {
      early.close();
      late.close();
    }
  });

  it('a rotation that does not check out (a certificate with the key of another) is refused once; the last good certificate is served on', async () => {
    const serving = await servedSerial(g.gatehouse.grpcPort, pki);
    const refused = 'tls files changed but are not usable; serving the previous certificate';
    const earlier = logged(g, refused).length;
    const third = pki.server();
    pki.install({ cert: third.cert, key: pki.server().key });
    await eventually(() => logged(g, refused).length > earlier, 10_000, 'the refusal in the log');
    assert.equal(await servedSerial(g.gatehouse.grpcPort, pki), serving);
    const line = logged(g, refused)[earlier] ?? {};
    assert.deepEqual([line['level'], line['reason'], line['serial']], [
      'warn',
      `--tls-key-file (GATEHOUSE_TLS_KEY_FILE) ${files.keyFile}: is not the key of the certificate in --tls-cert-file (GATEHOUSE_TLS_CERT_FILE) ${files.certFile}`,
      serving,
    ]);

    // Fixed: the new pair is served, and the refusal was logged once over the many reads in between.
    pki.install(third);
    await eventually(async () => (await servedSerial(g.gatehouse.grpcPort, pki)) === third.serial, 10_000, 'the fixed rotation');
    assert.equal(logged(g, refused).length, earlier + 1);
    assert.doesNotMatch(g.logs.join('\n'), /PRIVATE KEY|BEGIN CERTIFICATE/);
  });
});

describe('a Check in flight while the certificate rotates', { timeout: 30_000 }, () => {
  it('is answered on its connection; the next connection is served the new certificate', async () => {
    const pki = await TestPki.create();
    const first = pki.server();
    const files = pki.install(first);
    const logger = { info: () => undefined, warn: () => undefined };
    // A long interval: the test reads the files again itself, at the moment it chooses.
    const certs = await TlsCertificates.load({ cert: { path: files.certFile, name: 'cert' }, key: { path: files.keyFile, name: 'key' }, clientCa: undefined, reloadIntervalMs: 60_000, logger });
    const engine = new FakeEngine();
    const server = await startGrpcServer({ address: '127.0.0.1:0', engine, maxRequestBytes: 1 << 20, maxHeaderBytes: 8192, deadlineMarginMs: 20, tls: certs });
    const seen: string[] = [];
    const envoy = tlsEnvoyClient(server.port, pki, seen);
    try {
      let release: (d: Decision) => void = () => undefined;
      engine.script = () => new Promise<Decision>((resolve) => (release = resolve));
      const pending = envoy.check(CHECK, { deadlineMs: 10_000 });
      await eventually(() => engine.inputs.length === 1, 5000, 'the Check to reach the engine');

      const second = pki.server();
      pki.install(second);
      await certs.reload();
      assert.equal(await servedSerial(server.port, pki), second.serial);

      release(allowDecision({ setHeaders: [{ name: 'x-consumer-id', value: 'acme' }] }));
      assert.deepEqual(okOf(await pending).headers, [{ key: 'x-consumer-id', value: 'acme', append: false }]);
      assert.deepEqual(seen, [first.serial]);
    } finally {
      envoy.close();
      await server.close(1000);
      certs.close();
      pki.close();
    }
  });
});
