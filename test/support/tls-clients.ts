// Clients for the TLS tests, trusting a test CA: the Envoy Check client over TLS (optionally with a
// client certificate), an HTTPS forward-auth request, and a bare handshake that reports which
// certificate a new connection is served.
import { request } from 'node:https';
import { checkServerIdentity, connect, type PeerCertificate, type TLSSocket } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { createEnvoyClient, type EnvoyClient } from './envoy-client.js';
import type { Issued, TestPki } from './tls-pki.js';

export interface TlsClientOptions {
  /** Presented to a server that asks for client certificates. */
  readonly client?: Issued;
  /** Trust this CA instead of the server's (to prove a foreign server is refused). */
  readonly ca?: string;
}

/** An Envoy Check client over TLS; `seen` collects the serial of the certificate of each handshake. */
export function tlsEnvoyClient(port: number, pki: TestPki, seen: string[] = [], o: TlsClientOptions = {}): EnvoyClient {
  const credentials = grpc.credentials.createSsl(Buffer.from(o.ca ?? pki.ca), o.client === undefined ? null : Buffer.from(o.client.key), o.client === undefined ? null : Buffer.from(o.client.cert), {
    checkServerIdentity: (host: string, cert: PeerCertificate) => {
      seen.push(cert.serialNumber);
      return checkServerIdentity(host, cert);
    },
  });
  // SNI carries a name (RFC 6066 allows no address); the certificate names localhost too.
  return createEnvoyClient(`127.0.0.1:${port}`, credentials, { 'grpc.ssl_target_name_override': 'localhost' });
}

/** The serial of the certificate a new TLS connection (ALPN h2, as gRPC) to 127.0.0.1:`port` is served. */
export function servedSerial(port: number, pki: TestPki): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, servername: 'localhost', ca: pki.ca, ALPNProtocols: ['h2'], timeout: 5000 }, () => {
      resolve(socket.getPeerCertificate().serialNumber);
      socket.end();
    });
    socket.on('timeout', () => socket.destroy(new Error('TLS handshake timed out')));
    socket.on('error', reject);
  });
}

export interface HttpsAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: string;
  /** The certificate this connection was served. */
  readonly serial: string;
}

/** GET `path` on 127.0.0.1:`port` over a new HTTPS connection, trusting the test CA (the Host header names the proxied site, SNI the server). */
export function httpsGet(port: number, pki: TestPki, path: string, headers: Readonly<Record<string, string>>, o: TlsClientOptions = {}): Promise<HttpsAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, headers, servername: 'localhost', ca: o.ca ?? pki.ca, key: o.client?.key, cert: o.client?.cert, agent: false, timeout: 5000 },
      (res) => {
        const serial = (res.socket as TLSSocket).getPeerCertificate().serialNumber;
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8'), serial }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('HTTPS request timed out')));
    req.on('error', reject);
    req.end();
  });
}
