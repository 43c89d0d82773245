// A private CA in a temporary directory, made with the openssl CLI, issuing server certificates for
// 127.0.0.1 and localhost and client certificates; P-256 keys, so a test makes a dozen in a second.
// `install` puts an issued pair where the server reads its files the way the kubelet updates a
// mounted Secret, so a rotation in a test is the rotation a pod sees.
import { execFileSync } from 'node:child_process';
import { randomBytes, X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureDebianPackage } from './debian.js';

export interface Issued {
  readonly cert: string;
  readonly key: string;
  /** As node reports it (getPeerCertificate().serialNumber): upper-case hex. */
  readonly serial: string;
}

const EXTENSIONS = {
  server: 'basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n',
  client: 'basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n',
} as const;

export class TestPki {
  readonly dir: string;
  /** The CA certificate (PEM) and its file: what clients trust, or what a server verifies clients with. */
  readonly ca: string;
  readonly caFile: string;
  #issued = 0;

  private constructor(dir: string, name: string) {
    this.dir = dir;
    this.caFile = this.#at('ca.crt');
    openssl('req', '-x509', ...newKey(this.#at('ca.key')), '-out', this.caFile, '-days', '2', '-subj', `/CN=${name}`);
    this.ca = readFileSync(this.caFile, 'utf8');
  }

  static async create(name = 'gatehouse test CA'): Promise<TestPki> {
    await ensureDebianPackage('openssl', 'openssl');
    return new TestPki(mkdtempSync(join(tmpdir(), 'gatehouse-pki-')), name);
  }

  /** A certificate for 127.0.0.1 and localhost, each with a new random serial; `days` 0 is expired at once. */
  server(commonName = 'gatehouse', days = 2): Issued {
    return this.#issue(commonName, 'server', days);
  }

  client(commonName: string): Issued {
    return this.#issue(commonName, 'client', 2);
  }

  /**
   * Puts a certificate and key where the server reads them, as the kubelet updates a Secret volume:
   * both in a new directory, then one rename of the `..data` link switches them together. Returns the
   * paths to serve (`tls.crt`, `tls.key`, links through `..data`).
   */
  install(pair: { readonly cert: string; readonly key: string }): { certFile: string; keyFile: string } {
    const volume = this.#at('volume');
    const version = `..${++this.#issued}`;
    mkdirSync(join(volume, version), { recursive: true });
    writeFileSync(join(volume, version, 'tls.crt'), pair.cert);
    writeFileSync(join(volume, version, 'tls.key'), pair.key);
    symlinkSync(version, join(volume, '..data_tmp'));
    renameSync(join(volume, '..data_tmp'), join(volume, '..data'));
    const paths = { certFile: join(volume, 'tls.crt'), keyFile: join(volume, 'tls.key') };
    if (!existsSync(paths.certFile)) {
      symlinkSync('..data/tls.crt', paths.certFile);
      symlinkSync('..data/tls.key', paths.keyFile);
    }
    return paths;
  }

  /** Writes `text` to a file in the PKI's directory; returns its path. */
  file(name: string, text: string): string {
    writeFileSync(this.#at(name), text);
    return this.#at(name);
  }

  close(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }

  #issue(commonName: string, use: keyof typeof EXTENSIONS, days: number): Issued {
    const n = ++this.#issued;
    const [key, csr, cert, ext] = ['key', 'csr', 'crt', 'cnf'].map((x) => this.#at(`issued-${n}.${x}`)) as [string, string, string, string];
    writeFileSync(ext, EXTENSIONS[use]);
    openssl('req', ...newKey(key), '-out', csr, '-subj', `/CN=${commonName}`);
    const serial = `0x${randomBytes(12).toString('hex')}`;
    openssl('x509', '-req', '-in', csr, '-CA', this.caFile, '-CAkey', this.#at('ca.key'), '-set_serial', serial, '-days', String(days), '-extfile', ext, '-out', cert);
    const pem = readFileSync(cert, 'utf8');
    return { cert: pem, key: readFileSync(key, 'utf8'), serial: new X509Certificate(pem).serialNumber };
  }

  #at(name: string): string {
    return join(this.dir, name);
  }
}

function newKey(keyFile: string): string[] {
  return ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyFile];
}

function openssl(...args: string[]): void {
  execFileSync('openssl', args, { stdio: 'pipe', timeout: 30_000 });
}

