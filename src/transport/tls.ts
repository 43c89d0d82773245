// TLS for the Check listeners (gRPC and HTTP forward-auth): a certificate, its key and optionally the
// CAs client certificates must chain to, read from files, checked, and read again on an interval so
// that a certificate cert-manager rotates reaches new connections without a restart. Open connections
// keep the certificate they were made with. A change that does not check out (a half-written rotation,
// a key that belongs to another certificate) is refused and the last good certificate served on.
import { createHash, createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createSecureContext, type SecureContextOptions } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { GatehouseError } from '../core/errors.js';

export interface TlsFile {
  readonly path: string;
  /** How messages name the file: the flag that gave it. */
  readonly name: string;
}

export interface TlsLogger {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
}

export interface TlsOptions {
  /** PEM certificate, optionally followed by its intermediates. */
  readonly cert: TlsFile;
  /** PEM private key of `cert`, unencrypted. */
  readonly key: TlsFile;
  /** PEM CA certificates; when given, every client must present a certificate one of them signed. */
  readonly clientCa: TlsFile | undefined;
  readonly reloadIntervalMs: number;
  readonly logger: TlsLogger;
}

/** One checked set of files as served. */
export interface TlsMaterial {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly clientCa: Buffer | undefined;
  /** Of the serving certificate, for logs: which one is live and until when. */
  readonly serial: string;
  readonly notAfter: string;
}

type Listener = (material: TlsMaterial) => void;

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;
const READ_FAILURES: Readonly<Record<string, string>> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  EISDIR: 'is a directory, not a file',
};

export class TlsCertificates {
  readonly requireClientCertificate: boolean;
  readonly #o: TlsOptions;
  readonly #listeners = new Set<Listener>();
  #current: TlsMaterial;
  #timer: NodeJS.Timeout | undefined;
  /** The last refusal logged, so a bad set of files is reported once, not on every read. */
  #refused: string | undefined;

  private constructor(o: TlsOptions, first: TlsMaterial) {
    this.#o = o;
    this.#current = first;
    this.requireClientCertificate = o.clientCa !== undefined;
  }

  /**
   * Reads and checks the files and starts watching them. Rejects with `listen_failed` naming the flag
   * and file at fault: a listener without a usable certificate does not start.
   */
  static async load(o: TlsOptions): Promise<TlsCertificates> {
    if (!Number.isFinite(o.reloadIntervalMs) || o.reloadIntervalMs <= 0) {
      throw new TypeError(`tls.reloadIntervalMs must be a positive number, got ${String(o.reloadIntervalMs)}`);
    }
    const material = check(o, await readAll(o));
    const certs = new TlsCertificates(o, material);
    o.logger.info('tls certificate loaded', { ...describe(material), certFile: o.cert.path, clientCertificates: certs.requireClientCertificate ? 'required' : 'not asked' });
    warnIfExpired(o, material);
    certs.#schedule();
    return certs;
  }

  get current(): TlsMaterial {
    return this.#current;
  }

  /** Calls `listener` with every certificate that replaces the current one; returns the unsubscribe. */
  subscribe(listener: Listener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  close(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#listeners.clear();
  }

  /** Reads the files now; resolves once a change has been served or refused. */
  async reload(): Promise<void> {
    let files: Files;
    try {
      files = await readAll(this.#o);
    } catch (e) {
      this.#refuse(e, '');
      return;
    }
    const now = this.#current;
    if (files.cert.equals(now.cert) && files.key.equals(now.key) && sameOptional(files.clientCa, now.clientCa)) {
      this.#refused = undefined;
      return;
    }
    let next: TlsMaterial;
    try {
      next = check(this.#o, files);
    } catch (e) {
      this.#refuse(e, fingerprint(files));
      return;
    }
    this.#current = next;
    this.#refused = undefined;
    this.#o.logger.info('tls certificate reloaded', { ...describe(next), previousSerial: now.serial });
    warnIfExpired(this.#o, next);
    for (const listener of this.#listeners) {
      try {
        listener(next);
      } catch (e) {
        this.#o.logger.warn('tls certificate not applied to a listener', { error: e });
      }
    }
  }

  #refuse(e: unknown, print: string): void {
    const reason = e instanceof Error ? e.message : String(e);
    if (this.#refused === reason + print) return;
    this.#refused = reason + print;
    this.#o.logger.warn('tls files changed but are not usable; serving the previous certificate', { reason, serial: this.#current.serial });
  }

  #schedule(): void {
    // One read at a time: the next is timed from the end of the last.
    this.#timer = setTimeout(() => {
      void this.reload().finally(() => {
        if (this.#timer !== undefined) this.#schedule();
      });
    }, this.#o.reloadIntervalMs);
    this.#timer.unref();
  }
}

/** What node:tls takes (https.Server, setSecureContext) for `material`. */
export function secureContextOf(material: TlsMaterial): SecureContextOptions {
  return material.clientCa === undefined ? { cert: material.cert, key: material.key } : { cert: material.cert, key: material.key, ca: material.clientCa };
}

/**
 * gRPC server credentials that follow `certs`. grpc-js (1.14) calls `setSecureContext` on its bound
 * HTTP/2 server when a certificate provider reports a change: the listener and its open connections
 * stay; new handshakes get the new certificate.
 */
export function grpcServerCredentials(certs: TlsCertificates): grpc.ServerCredentials {
  const provider = new Provider(certs);
  // Declared (ca, identity, ...) in grpc-js's typings but passed on as (identity, ca, ...): the
  // identity provider goes first, the nullable CA provider second.
  return grpc.experimental.createCertificateProviderServerCredentials(provider, certs.requireClientCertificate ? provider : null, certs.requireClientCertificate);
}

/** A grpc-js certificate provider fed by TlsCertificates instead of its own file polling. */
class Provider implements grpc.experimental.CertificateProvider {
  readonly #certs: TlsCertificates;
  readonly #ca = new Map<grpc.experimental.CaCertificateUpdateListener, () => void>();
  readonly #identity = new Map<grpc.experimental.IdentityCertificateUpdateListener, () => void>();

  constructor(certs: TlsCertificates) {
    this.#certs = certs;
  }

  addCaCertificateListener(listener: grpc.experimental.CaCertificateUpdateListener): void {
    this.#add(this.#ca, listener, (m) => listener(m.clientCa === undefined ? null : { caCertificate: m.clientCa }));
  }

  removeCaCertificateListener(listener: grpc.experimental.CaCertificateUpdateListener): void {
    this.#ca.get(listener)?.();
    this.#ca.delete(listener);
  }

  addIdentityCertificateListener(listener: grpc.experimental.IdentityCertificateUpdateListener): void {
    this.#add(this.#identity, listener, (m) => listener({ certificate: m.cert, privateKey: m.key }));
  }

  removeIdentityCertificateListener(listener: grpc.experimental.IdentityCertificateUpdateListener): void {
    this.#identity.get(listener)?.();
    this.#identity.delete(listener);
  }

  #add<L>(into: Map<L, () => void>, listener: L, forward: Listener): void {
    into.set(listener, this.#certs.subscribe(forward));
    // grpc-js registers the server's watcher only after adding its provider listeners: the current
    // certificate is delivered on the next tick, still before the server accepts a connection.
    process.nextTick(() => {
      if (into.has(listener)) forward(this.#certs.current);
    });
  }
}

interface Files {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly clientCa: Buffer | undefined;
}

async function readAll(o: TlsOptions): Promise<Files> {
  const [cert, key, clientCa] = await Promise.all([read(o.cert), read(o.key), o.clientCa === undefined ? undefined : read(o.clientCa)]);
  return { cert, key, clientCa };
}

async function read(file: TlsFile): Promise<Buffer> {
  try {
    return await readFile(file.path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? '';
    throw fault(file, READ_FAILURES[code] ?? (e instanceof Error ? e.message : String(e)), e);
  }
}

/** The files as one servable set, or `listen_failed` naming the file at fault. Never echoes their contents. */
function check(o: TlsOptions, files: Files): TlsMaterial {
  const certs = certificates(o.cert, files.cert);
  const leaf = certs[0] as X509Certificate;
  let key: KeyObject;
  try {
    key = createPrivateKey(files.key);
  } catch (e) {
    throw fault(o.key, 'is not a PEM private key (unencrypted PKCS#8, PKCS#1 or SEC1)', e);
  }
  if (key.type !== 'private' || !leaf.checkPrivateKey(key)) {
    throw fault(o.key, `is not the key of the certificate in ${o.cert.name} ${o.cert.path}`);
  }
  if (o.clientCa !== undefined) certificates(o.clientCa, files.clientCa ?? Buffer.alloc(0));
  const material: TlsMaterial = { cert: files.cert, key: files.key, clientCa: files.clientCa, serial: leaf.serialNumber, notAfter: new Date(leaf.validTo).toISOString() };
  try {
    createSecureContext(secureContextOf(material));
  } catch (e) {
    throw fault(o.cert, `cannot be served: ${e instanceof Error ? e.message : String(e)}`, e);
  }
  return material;
}

/** Every PEM certificate in `pem`, at least one. */
function certificates(file: TlsFile, pem: Buffer): X509Certificate[] {
  const blocks = pem.toString('latin1').match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) throw fault(file, 'holds no PEM certificate (-----BEGIN CERTIFICATE-----)');
  return blocks.map((block, i) => {
    try {
      return new X509Certificate(block);
    } catch (e) {
      throw fault(file, `certificate ${i + 1} cannot be parsed`, e);
    }
  });
}

function fault(file: TlsFile, reason: string, cause?: unknown): GatehouseError {
  return new GatehouseError('listen_failed', `${file.name} ${file.path}: ${reason}`, cause === undefined ? {} : { cause });
}

function describe(m: TlsMaterial): Record<string, string> {
  return { serial: m.serial, notAfter: m.notAfter };
}

function warnIfExpired(o: TlsOptions, m: TlsMaterial): void {
  if (Date.parse(m.notAfter) <= Date.now()) o.logger.warn('tls certificate has expired; clients will refuse it', { ...describe(m), certFile: o.cert.path });
}

function sameOptional(a: Buffer | undefined, b: Buffer | undefined): boolean {
  return a === undefined || b === undefined ? a === b : a.equals(b);
}

/** Tells one refused set of files from another without keeping (or logging) the key itself. */
function fingerprint(files: Files): string {
  const h = createHash('sha256').update(files.cert).update(files.key);
  if (files.clientCa !== undefined) h.update(files.clientCa);
  return h.digest('hex');
}
