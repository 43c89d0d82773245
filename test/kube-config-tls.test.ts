// gatehouse reading an API server over HTTPS, configured by kubeconfig files as a user writes them:
// the cluster's CA, tls-server-name, insecure-skip-tls-verify, client certificates and bearer tokens,
// each accepted or refused as a real API server accepts or refuses them.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it, type TestContext } from 'node:test';
import type { ClusterAccess } from '../src/sources/kube-access.js';
import { loadKubeConfig } from '../src/sources/kube-config.js';
import { collectionPath, KubernetesApi, KubernetesApiError } from '../src/sources/kubernetes-api.js';
import { eventually } from './support/eventually.js';
import type { FakeApiServer } from './support/fake-apiserver/index.js';
import { keyPolicy } from './support/fixtures.js';
import { kubeconfig } from './support/kubeconfig.js';
import { readyOf, startFakeServer, startSource } from './support/kubernetes-kit.js';
import { TestPki } from './support/tls-pki.js';

const TIMEOUT = { timeout: 30_000 };
const POLICIES = collectionPath('authpolicies', undefined);

let pki: TestPki;
/** A second CA: its certificates are someone else's. */
let stranger: TestPki;
before(async () => {
  pki = await TestPki.create('cluster CA');
  stranger = await TestPki.create('stranger CA');
});

async function httpsServer(t: TestContext, clientCa?: string): Promise<FakeApiServer> {
  const pair = pki.server('kube-apiserver');
  return startFakeServer(t, { tls: { cert: pair.cert, key: pair.key, ca: pki.ca, clientCa } });
}

/** Loads a kubeconfig written with these cluster and user bodies; `files` are written beside it. */
function access(cluster: string, user: string, files: Record<string, string> = {}): Promise<ClusterAccess> {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-kube-tls-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  writeFileSync(join(dir, 'config'), kubeconfig(cluster, user));
  return loadKubeConfig({ env: { KUBECONFIG: join(dir, 'config') }, home: dir, serviceAccountDir: join(dir, 'sa') });
}

/** Lists AuthPolicies; answers the number listed, or the error's code and message. */
async function list(a: ClusterAccess): Promise<{ items: number } | { code: string; message: string }> {
  try {
    const page = await new KubernetesApi(a).listPage(POLICIES, { labelSelector: '', limit: 10, continueToken: undefined }, new AbortController().signal);
    return { items: page.items.length };
  } catch (e) {
    assert.ok(e instanceof KubernetesApiError, String(e));
    return { code: e.code, message: e.message };
  }
}

describe('HTTPS to the API server from a kubeconfig', () => {
  it('with the cluster CA file and a token, a source lists, watches and writes status', TIMEOUT, async (t) => {
    const server = await httpsServer(t);
    server.create(keyPolicy('shop', 'api', 'api.example.com'));
    const kubeConfig = await access(`{server: "${server.url}", certificate-authority: ca.crt}`, `{token: "${server.token}"}`, { 'ca.crt': pki.ca });
    const { source } = startSource(t, server, { kubeConfig });
    await source.whenSynced();
    server.create(keyPolicy('shop', 'later', 'later.example.com'));
    await eventually(() => readyOf(server, 'shop', 'later')?.status === 'True', 10_000, 'the status of a policy seen through the watch');
    assert.equal(readyOf(server, 'shop', 'api')?.status, 'True');
  });

  it('a server certificate the configured CA did not sign is refused; insecure-skip-tls-verify accepts it', TIMEOUT, async (t) => {
    const server = await httpsServer(t);
    assert.deepEqual(await list(await access(`{server: "${server.url}", certificate-authority-data: ${Buffer.from(stranger.ca).toString('base64')}}`, `{token: "${server.token}"}`)), {
      code: 'network',
      // The same on every Node: Node 22+ appends advice about the system CA store, which is dropped.
      message: `GET ${POLICIES}?limit=10: unable to verify the first certificate`,
    });
    assert.ok(server.url.startsWith('https://127.0.0.1:'), server.url);
    assert.deepEqual(await list(await access(`{server: "${server.url}", insecure-skip-tls-verify: true}`, `{token: "${server.token}"}`)), { items: 0 });
  });

  it('tls-server-name is the name the certificate is checked against', TIMEOUT, async (t) => {
    const server = await httpsServer(t);
    const ca = Buffer.from(pki.ca).toString('base64');
    const user = `{token: "${server.token}"}`;
    assert.deepEqual(await list(await access(`{server: "${server.url}", certificate-authority-data: ${ca}, tls-server-name: localhost}`, user)), { items: 0 });
    assert.deepEqual(await list(await access(`{server: "${server.url}", certificate-authority-data: ${ca}, tls-server-name: api.other.example}`, user)), {
      code: 'network',
      message: `GET ${POLICIES}?limit=10: Hostname/IP does not match certificate's altnames: Host: api.other.example. is not in the cert's altnames: IP Address:127.0.0.1, DNS:localhost`,
    });
  });

  it('a client certificate signed by the client CA authenticates without a token; one from another CA gets 401', TIMEOUT, async (t) => {
    const server = await httpsServer(t, pki.ca);
    const cluster = `{server: "${server.url}", certificate-authority: ca.crt}`;
    const mine = pki.client('gatehouse');
    const theirs = stranger.client('gatehouse');
    const signed = await access(cluster, '{client-certificate: tls.crt, client-key: tls.key}', { 'ca.crt': pki.ca, 'tls.crt': mine.cert, 'tls.key': mine.key });
    assert.deepEqual(await list(signed), { items: 0 });
    const foreign = await access(cluster, '{client-certificate: tls.crt, client-key: tls.key}', { 'ca.crt': pki.ca, 'tls.crt': theirs.cert, 'tls.key': theirs.key });
    assert.deepEqual(await list(foreign), { code: 'http_401', message: `GET ${POLICIES}?limit=10: Unauthorized` });
    assert.deepEqual(await list(await access(cluster, '{token: wrong}', { 'ca.crt': pki.ca })), { code: 'http_401', message: `GET ${POLICIES}?limit=10: Unauthorized` });
    assert.deepEqual(await list(await access(cluster, '{}', { 'ca.crt': pki.ca })), { code: 'http_401', message: `GET ${POLICIES}?limit=10: Unauthorized` });

    // A watch authenticated by certificate alone sees events.
    const seen: string[] = [];
    const controller = new AbortController();
    t.after(() => controller.abort());
    await new KubernetesApi(signed).watch(POLICIES, {}, (type) => seen.push(type), controller.signal);
    server.create(keyPolicy('shop', 'api', 'api.example.com'));
    await eventually(() => seen.length === 1, 5000, 'the ADDED event');
    assert.deepEqual(seen, ['ADDED']);
  });

  it('a refused token file is read again: once it holds the right token, the next request passes', TIMEOUT, async (t) => {
    const server = await httpsServer(t);
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-kube-token-'));
    const tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, 'expired-token\n');
    const a = await access(`{server: "${server.url}", insecure-skip-tls-verify: true}`, `{tokenFile: "${tokenFile}"}`);
    assert.deepEqual(await list(a), { code: 'http_401', message: `GET ${POLICIES}?limit=10: Unauthorized` });
    writeFileSync(tokenFile, `${server.token}\n`);
    assert.deepEqual(await list(a), { items: 0 });
  });
  it('an exec plugin (through @kubernetes/client-node): its token lists, watches and writes status; a plugin giving a wrong token gets 401', TIMEOUT, async (t) => {
    const server = await httpsServer(t);
    server.create(keyPolicy('shop', 'api', 'api.example.com'));
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-kube-exec-'));
    /** A credential plugin as kubectl runs them: an ExecCredential with this token on stdout. */
    const plugin = (name: string, token: string): string => {
      const file = join(dir, name);
      const credential = { apiVersion: 'client.authentication.k8s.io/v1', kind: 'ExecCredential', status: { token } };
      writeFileSync(file, `process.stdout.write(${JSON.stringify(JSON.stringify(credential))});\n`);
      return `{exec: {apiVersion: client.authentication.k8s.io/v1, command: "${process.execPath}", args: ["${file}"], interactiveMode: Never}}`;
    };
    const cluster = `{server: "${server.url}", certificate-authority: ca.crt}`;
    const kubeConfig = await access(cluster, plugin('good.mjs', server.token), { 'ca.crt': pki.ca });
    assert.equal(kubeConfig.description.endsWith('through @kubernetes/client-node for user.exec'), true, kubeConfig.description);
    assert.deepEqual(await list(await access(cluster, plugin('bad.mjs', 'not-the-token'), { 'ca.crt': pki.ca })), { code: 'http_401', message: `GET ${POLICIES}?limit=10: Unauthorized` });
    const { source } = startSource(t, server, { kubeConfig });
    await source.whenSynced();
    server.create(keyPolicy('shop', 'later', 'later.example.com'));
    await eventually(() => readyOf(server, 'shop', 'later')?.status === 'True', 10_000, 'the status of a policy seen through the watch');
    assert.equal(readyOf(server, 'shop', 'api')?.status, 'True');
  });
});
