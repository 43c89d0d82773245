// A private CA and a server certificate for 127.0.0.1 it signed, made with the openssl CLI in a
// temporary directory: a provider behind a CA no system trusts.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCa {
  /** The CA certificate (PEM): what a client must trust. */
  readonly ca: string;
  /** The server's key and certificate (PEM), for 127.0.0.1. */
  readonly key: string;
  readonly cert: string;
}

export function makeTestCa(): TestCa {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-ca-'));
  const at = (f: string): string => join(dir, f);
  const openssl = (...args: string[]): void => {
    execFileSync('openssl', args, { stdio: 'pipe', timeout: 30_000 });
  };
  try {
    openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', at('ca.key'), '-out', at('ca.crt'), '-days', '2', '-subj', '/CN=gatehouse test CA');
    openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', at('srv.key'), '-out', at('srv.csr'), '-subj', '/CN=127.0.0.1');
    writeFileSync(at('ext.cnf'), 'subjectAltName=IP:127.0.0.1\n');
    openssl('x509', '-req', '-in', at('srv.csr'), '-CA', at('ca.crt'), '-CAkey', at('ca.key'), '-CAcreateserial', '-out', at('srv.crt'), '-days', '2', '-extfile', at('ext.cnf'));
    return { ca: readFileSync(at('ca.crt'), 'utf8'), key: readFileSync(at('srv.key'), 'utf8'), cert: readFileSync(at('srv.crt'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
