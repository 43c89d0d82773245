// The Envoy ext_authz gRPC server: envoy.service.auth.v3.Authorization/Check and grpc.health.v1.
// Envoy keeps a few long-lived HTTP/2 connections open and multiplexes every Check over them.
import * as grpc from '@grpc/grpc-js';
import type { CheckEngine } from '../core/engine-port.js';
import { CheckHandler, type GrpcLogger } from './grpc-check.js';
import { HealthService } from './grpc-health.js';
import { releaseCallOnClose } from './grpc-release.js';
import { AUTHORIZATION_DEFINITION, HEALTH_DEFINITION } from './grpc-services.js';
import { listenFailed } from './listen-error.js';
import { grpcServerCredentials, type TlsCertificates } from './tls.js';

export type { GrpcLogger } from './grpc-check.js';

export interface GrpcServerOptions {
  /** `host:port` to listen on; port 0 picks a free one. */
  readonly address: string;
  readonly engine: CheckEngine;
  /** Largest CheckRequest accepted (grpc max receive length); Envoy's with_request_body can exceed 4 MiB. */
  readonly maxRequestBytes: number;
  /**
   * Limit for one header value and for all headers together (names and pseudo-headers included);
   * beyond it the request is denied 431 header_too_large.
   */
  readonly maxHeaderBytes: number;
  /** Answer this long before the caller's deadline so the deny reaches Envoy in time. */
  readonly deadlineMarginMs: number;
  readonly logger?: GrpcLogger;
  /** Serve TLS with these (rotating) certificates; plaintext when undefined. */
  readonly tls?: TlsCertificates | undefined;
}

export interface GrpcServer {
  readonly port: number;
  /** grpc.health.v1 status of '' and envoy.service.auth.v3.Authorization; NOT_SERVING at start. */
  setServing(serving: boolean): void;
  /** Stops accepting calls, lets in-flight ones finish for up to `graceMs`, then cancels the rest. */
  close(graceMs: number): Promise<void>;
}

// Envoy's HTTP/2 pool opens another connection when one reaches this many streams.
const MAX_CONCURRENT_STREAMS = 1000;
// Server pings find connections whose Envoy went away without a FIN. grpc-js enforces no minimum
// interval on client pings, so Envoy's connection_keepalive (any interval) never draws a GOAWAY.
const KEEPALIVE_TIME_MS = 60_000;
const KEEPALIVE_TIMEOUT_MS = 20_000;
// gRPC message lengths are signed 32-bit.
const MAX_GRPC_MESSAGE = 2 ** 31 - 1;
/** The server's interceptors, in order: the release reads grpc-js's base call, so it comes first. */
export const SERVER_INTERCEPTORS: readonly grpc.ServerInterceptor[] = Object.freeze([releaseCallOnClose]);

export async function startGrpcServer(opts: GrpcServerOptions): Promise<GrpcServer> {
  checkOptions(opts);
  const server = new grpc.Server({
    'grpc.max_receive_message_length': opts.maxRequestBytes,
    'grpc.max_concurrent_streams': MAX_CONCURRENT_STREAMS,
    'grpc.keepalive_time_ms': KEEPALIVE_TIME_MS,
    'grpc.keepalive_timeout_ms': KEEPALIVE_TIMEOUT_MS,
    interceptors: [...SERVER_INTERCEPTORS],
  });
  const check = new CheckHandler(opts.engine, opts.maxHeaderBytes, opts.deadlineMarginMs, opts.logger);
  const health = new HealthService();
  server.addService(AUTHORIZATION_DEFINITION, { Check: check.handle });
  server.addService(HEALTH_DEFINITION, health.implementation);

  const port = await new Promise<number>((resolve, reject) => {
    const credentials = opts.tls === undefined ? grpc.ServerCredentials.createInsecure() : grpcServerCredentials(opts.tls);
    server.bindAsync(opts.address, credentials, (err, bound) => {
      if (err === null) return resolve(bound);
      server.forceShutdown();
      reject(listenFailed(err));
    });
  });

  let closing: Promise<void> | undefined;
  return {
    port,
    setServing: (serving) => health.setServing(serving),
    close: (graceMs) => {
      closing ??= shutdown(server, health, graceMs);
      return closing;
    },
  };
}

/**
 * grpc-js writes its own errors to stderr ("E No address added ..."); they go to the service log as
 * JSON lines instead, so stderr carries only the CLI's own one-line messages. Process-wide.
 */
export function logGrpcLibraryTo(logger: GrpcLogger): void {
  const line = (...parts: unknown[]): void => logger.warn('grpc-js', { message: parts.map(String).join(' ') });
  grpc.setLogger({ error: line, info: line, debug: line });
}

function shutdown(server: grpc.Server, health: HealthService, graceMs: number): Promise<void> {
  health.close();
  return new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, Math.max(0, graceMs));
    // tryShutdown closes the listeners and sends GOAWAY; it calls back once every stream is done.
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

function checkOptions(opts: GrpcServerOptions): void {
  if (typeof opts.address !== 'string' || opts.address === '') {
    throw new TypeError('grpc.address must be a non-empty host:port');
  }
  positiveInteger('grpc.maxRequestBytes', opts.maxRequestBytes);
  if (opts.maxRequestBytes > MAX_GRPC_MESSAGE) {
    throw new TypeError(`grpc.maxRequestBytes must be at most ${MAX_GRPC_MESSAGE}, got ${opts.maxRequestBytes}`);
  }
  positiveInteger('grpc.maxHeaderBytes', opts.maxHeaderBytes);
  if (!Number.isFinite(opts.deadlineMarginMs) || opts.deadlineMarginMs < 0) {
    throw new TypeError(`grpc.deadlineMarginMs must be a number >= 0, got ${String(opts.deadlineMarginMs)}`);
  }
}

function positiveInteger(field: string, value: number): void {
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new TypeError(`${field} must be a positive integer, got ${String(value)}`);
  }
}
