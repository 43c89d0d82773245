// Mutual TLS (--tls-client-ca-file): only a client holding a certificate the operator's CA signed gets
// an answer, on the gRPC port and on the HTTPS forward-auth port alike.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { DecodedCheckResponse } from './support/envoy-client.js';
import { keyPolicy, keySecret, yamlOf } from './support/fixtures.js';
import { startTestGatehouse, type TestGatehouse } from './support/gatehouse.js';
import { httpsGet, tlsEnvoyClient } from './support/tls-clients.js';
import { type Issued, TestPki } from './support/tls-pki.js';

const HOST = 'api.example.com';
const KEY = 'k-51c0ffee2d9a';
const POLICIES = { 'api.yaml': yamlOf(keyPolicy('shop', 'api', HOST), keySecret('shop', 'partner-keys', KEY, 'acme')) };
const CHECK = { host: HOST, path: '/orders/7', headers: { apikey: KEY } };
// Under TLS 1.3 the client has sent its request when the server's alert comes: it reads the alert,
// or a reset when the server has closed first. Either way no answer.
const REFUSED_NO_CERT = { code: /^(ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED|ECONNRESET)$/ };
const REFUSED_UNKNOWN_CA = { code: /^(ERR_SSL_TLSV1_ALERT_UNKNOWN_CA|ECONNRESET)$/ };

describe('mutual TLS: --tls-client-ca-file', { timeout: 60_000 }, () => {
  let servers: TestPki;
  let clients: TestPki;
  let stranger: TestPki;
  let g: TestGatehouse;
  let envoyCert: Issued;

  before(async () => {
    servers = await TestPki.create('server CA');
    // The CA that signs the proxies' certificates is not the one that signs the server's.
    clients = await TestPki.create('proxy CA');
    stranger = await TestPki.create('someone else');
    envoyCert = clients.client('envoy');
    const files = servers.install(servers.server());
    g = await startTestGatehouse(POLICIES, {
      flags: ['--tls-cert-file', files.certFile, '--tls-key-file', files.keyFile, '--tls-client-ca-file', clients.caFile, '--http-address', '127.0.0.1:0'],
    });
  });
  after(async () => {
    await g.stop();
    for (const pki of [servers, clients, stranger]) pki.close();
  });

  const grpcCheck = async (client: Issued | undefined): Promise<DecodedCheckResponse> => {
    const envoy = tlsEnvoyClient(g.gatehouse.grpcPort, servers, [], client === undefined ? {} : { client });
    try {
      return await envoy.check(CHECK, { deadlineMs: 3000 });
    } finally {
      envoy.close();
    }
  };
  const httpsStatus = async (client: Issued | undefined): Promise<number> =>
    (await httpsGet(g.gatehouse.httpPort ?? 0, servers, '/envoy/orders/7', { host: HOST, apikey: KEY }, client === undefined ? {} : { client })).status;

  it('a proxy with a certificate the client CA signed is answered', async () => {
    const res = await grpcCheck(envoyCert);
    assert.deepEqual(res.kind === 'ok' ? res.ok.headers : res, [
      { key: 'x-consumer-id', value: 'acme', append: false },
      { key: 'x-credential-identifier', value: 'shop/partner-keys', append: false },
      { key: 'x-authenticated-groups', value: 'partners', append: false },
    ]);
    assert.equal(await httpsStatus(envoyCert), 200);
  });

  it('a client without a certificate is refused before any Check is read', async () => {
    await assert.rejects(grpcCheck(undefined), { code: 14 });
    await assert.rejects(httpsStatus(undefined), REFUSED_NO_CERT);
  });

  it('a client certificate another CA signed is refused', async () => {
    const foreign = stranger.client('envoy');
    await assert.rejects(grpcCheck(foreign), { code: 14 });
    await assert.rejects(httpsStatus(foreign), REFUSED_UNKNOWN_CA);
  });

  it("the server's own CA is no client CA: a certificate it signed is refused", async () => {
    const sameAsServer = servers.client('envoy');
    await assert.rejects(grpcCheck(sameAsServer), { code: 14 });
    await assert.rejects(httpsStatus(sameAsServer), REFUSED_UNKNOWN_CA);
  });

  it('the start is logged with TLS mutual', () => {
    const started = g.logs.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l['msg'] === 'gatehouse started');
    assert.equal(started?.['tls'], 'mutual');
  });
});
