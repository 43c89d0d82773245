// TLS files an operator gets wrong: each is refused before anything is served, with one line naming the
// flag and the file (exact messages: never the files' contents); flags that make no sense alone are
// usage errors.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadSettings } from '../src/service/settings.js';
import { startGatehouse } from '../src/service/main.js';
import { createLogger } from '../src/telemetry/log.js';
import { keyPolicy, yamlOf } from './support/fixtures.js';
import { servedSerial } from './support/tls-clients.js';
import { type Issued, TestPki } from './support/tls-pki.js';
import { usageProblems } from './support/usage.js';

const CLI = join(import.meta.dirname, '..', 'src', 'cli.js');
const CERT = '--tls-cert-file (GATEHOUSE_TLS_CERT_FILE)';
const KEY = '--tls-key-file (GATEHOUSE_TLS_KEY_FILE)';
const CLIENT_CA = '--tls-client-ca-file (GATEHOUSE_TLS_CLIENT_CA_FILE)';

describe('TLS files that cannot be served stop the start', { timeout: 60_000 }, () => {
  let pki: TestPki;
  let good: Issued;
  let policies: string;
  let files: { certFile: string; keyFile: string };

  before(async () => {
    pki = await TestPki.create();
    good = pki.server();
    files = pki.install(good);
    policies = pki.file('policies.yaml', yamlOf(keyPolicy('shop', 'api', 'api.example.com')));
  });
  after(() => pki.close());

  /** Starts gatehouse with `tls` flags; resolves with what it logged once started and stopped again. */
  const start = async (tls: readonly string[]): Promise<string[]> => {
    const logs: string[] = [];
    const { settings } = loadSettings(['--policies', policies, '--grpc-address', '127.0.0.1:0', '--admin-address', '127.0.0.1:0', '--http-address', '', '--shutdown-delay', '0s', ...tls], {});
    const g = await startGatehouse(settings, { logger: createLogger('info', (l) => void logs.push(l)) });
    await g.stop();
    return logs;
  };
  const refused = async (tls: readonly string[], message: string): Promise<void> => {
    await assert.rejects(start(tls), (e: unknown) => {
      assert.deepEqual([(e as { code?: string }).code, (e as Error).message], ['listen_failed', message]);
      return true;
    });
  };

  it('a certificate file that is not there', async () => {
    const missing = join(pki.dir, 'missing.crt');
    await refused(['--tls-cert-file', missing, '--tls-key-file', files.keyFile], `${CERT} ${missing}: no such file`);
  });

  it('a directory given as the certificate', async () => {
    await refused(['--tls-cert-file', pki.dir, '--tls-key-file', files.keyFile], `${CERT} ${pki.dir}: is a directory, not a file`);
  });

  it('certificate and key swapped', async () => {
    await refused(['--tls-cert-file', files.keyFile, '--tls-key-file', files.certFile], `${CERT} ${files.keyFile}: holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  });

  it('a key file that holds no key', async () => {
    const junk = pki.file('junk.key', 'replace-with-the-key\n');
    await refused(['--tls-cert-file', files.certFile, '--tls-key-file', junk], `${KEY} ${junk}: is not a PEM private key (unencrypted PKCS#8, PKCS#1 or SEC1)`);
  });

  it('the key of another certificate', async () => {
    const other = pki.file('other.key', pki.server().key);
    await refused(['--tls-cert-file', files.certFile, '--tls-key-file', other], `${KEY} ${other}: is not the key of the certificate in ${CERT} ${files.certFile}`);
  });

  it('a client CA file without a certificate in it (it would otherwise be ignored and every client refused)', async () => {
    const notPem = pki.file('clients.pem', 'MIIBkTCB+wIJAKHHIG...\n');
    await refused(['--tls-cert-file', files.certFile, '--tls-key-file', files.keyFile, '--tls-client-ca-file', notPem], `${CLIENT_CA} ${notPem}: holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  });

  it('an expired certificate is served (a renewal may be on its way) and the log says clients will refuse it', async () => {
    const expired = pki.server('gatehouse', 0);
    const paths = { cert: pki.file('expired.crt', expired.cert), key: pki.file('expired.key', expired.key) };
    const logs = await start(['--tls-cert-file', paths.cert, '--tls-key-file', paths.key]);
    const warned = logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l['msg'] === 'tls certificate has expired; clients will refuse it');
    assert.deepEqual(warned.map((l) => [l['level'], l['serial'], l['certFile']]), [['warn', expired.serial, paths.cert]]);
  });

  it('through the command: exit 1 with one line naming the flag, its variable and the file; nothing served', () => {
    const other = pki.file('another.key', pki.server().key);
    const r = spawnSync(process.execPath, [CLI, 'serve', '--policies', policies, '--grpc-address', '127.0.0.1:0', '--admin-address', '127.0.0.1:0', '--http-address', ''], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH ?? '', GATEHOUSE_TLS_CERT_FILE: files.certFile, GATEHOUSE_TLS_KEY_FILE: other },
      timeout: 20_000,
    });
    assert.deepEqual([r.status, r.stderr], [1, `gatehouse: ${KEY} ${other}: is not the key of the certificate in ${CERT} ${files.certFile}\n`]);
    assert.doesNotMatch(r.stdout, /gatehouse started/);
  });

  it('a good pair starts, and the certificate served is theirs', async () => {
    const logs: string[] = [];
    const { settings } = loadSettings(['--policies', policies, '--grpc-address', '127.0.0.1:0', '--admin-address', '127.0.0.1:0', '--http-address', '', '--shutdown-delay', '0s'], {
      GATEHOUSE_TLS_CERT_FILE: files.certFile,
      GATEHOUSE_TLS_KEY_FILE: files.keyFile,
    });
    const g = await startGatehouse(settings, { logger: createLogger('info', (l) => void logs.push(l)) });
    try {
      assert.equal(await servedSerial(g.grpcPort, pki), good.serial);
      const loaded = logs.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l['msg'] === 'tls certificate loaded');
      assert.deepEqual([loaded?.['serial'], loaded?.['clientCertificates']], [good.serial, 'not asked']);
    } finally {
      await g.stop();
    }
  });
});

describe('TLS flags that do not go alone', () => {
  const problems = (argv: readonly string[], env: Record<string, string> = {}): readonly string[] =>
    usageProblems(() => loadSettings(['--policies', '/p', ...argv], env), argv.join(' '));

  it('a certificate without its key, or a key without its certificate', () => {
    assert.deepEqual(problems(['--tls-cert-file', '/tls/tls.crt']), [`${CERT} is given without ${KEY}: TLS needs the certificate and its key`]);
    assert.deepEqual(problems([], { GATEHOUSE_TLS_KEY_FILE: '/tls/tls.key' }), [
      `GATEHOUSE_TLS_KEY_FILE (--tls-key-file) is given without ${CERT}: TLS needs the certificate and its key`,
    ]);
  });

  it('client CAs without TLS', () => {
    assert.deepEqual(problems(['--tls-client-ca-file', '/tls/ca.crt']), [`${CLIENT_CA} needs ${CERT} and ${KEY}: client certificates are asked for over TLS only`]);
  });

  it('an empty value turns a file off, as for every optional setting', () => {
    const { settings } = loadSettings(['--policies', '/p', '--tls-cert-file', '', '--tls-key-file='], { GATEHOUSE_TLS_CLIENT_CA_FILE: '' });
    assert.deepEqual([settings.tlsCertFile, settings.tlsKeyFile, settings.tlsClientCaFile], [undefined, undefined, undefined]);
  });
});
