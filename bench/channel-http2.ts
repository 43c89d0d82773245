// Checks as bare gRPC-over-HTTP/2 (the wire format of the gRPC spec's PROTOCOL-HTTP2): one POST stream
// per call, a length-prefixed message, grpc-status in the trailers. The verifying client: it hands back
// the server's own response bytes, decoded with the canonical protos, independent of h2load.
import * as http2 from 'node:http2';
import type { Channel, ChannelOptions, Done } from './channel.js';

const STATUS_NAMES = ['OK', 'CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED', 'NOT_FOUND', 'ALREADY_EXISTS', 'PERMISSION_DENIED', 'RESOURCE_EXHAUSTED', 'FAILED_PRECONDITION', 'ABORTED', 'OUT_OF_RANGE', 'UNIMPLEMENTED', 'INTERNAL', 'UNAVAILABLE', 'DATA_LOSS', 'UNAUTHENTICATED'];

/** The 5-byte gRPC message prefix (uncompressed flag, big-endian length) and the message. */
export function frame(message: Buffer): Buffer {
  const out = Buffer.allocUnsafe(5 + message.length);
  out[0] = 0;
  out.writeUInt32BE(message.length, 1);
  message.copy(out, 5);
  return out;
}

function unescape(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

function header(h: http2.IncomingHttpHeaders, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}

export async function connectHttp2(o: ChannelOptions): Promise<Channel> {
  const session = http2.connect(`http://${o.address}`);
  session.on('error', () => undefined); // each stream reports its own failure
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no HTTP/2 connection to ${o.address} within ${o.connectTimeoutMs} ms`)), o.connectTimeoutMs);
    session.once('connect', () => {
      clearTimeout(timer);
      resolve();
    });
    session.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  }).catch((e: unknown) => {
    session.destroy();
    throw e;
  });
  const timeout = `${o.deadlineMs}m`;
  // Framed requests are cached by identity: the generator replays the same few buffers.
  const framed = new WeakMap<Buffer, Buffer>();

  return {
    call(request: Buffer, done: Done): void {
      let body = framed.get(request);
      if (body === undefined) {
        body = frame(request);
        framed.set(request, body);
      }
      let stream: http2.ClientHttp2Stream;
      try {
        stream = session.request({
          ':method': 'POST',
          ':path': o.method,
          'content-type': 'application/grpc',
          te: 'trailers',
          'grpc-timeout': timeout,
        });
      } catch (e) {
        // A closed session throws; answering later keeps the caller's loop from recursing.
        const text = `UNAVAILABLE: ${e instanceof Error ? e.message : String(e)}`;
        setImmediate(() => done(text, undefined));
        return;
      }
      const chunks: Buffer[] = [];
      let status: string | undefined;
      let message = '';
      let failure: string | undefined;
      stream.on('response', (h) => {
        status = header(h, 'grpc-status'); // trailers-only responses carry it here
        message = header(h, 'grpc-message') ?? '';
      });
      stream.on('trailers', (t) => {
        status = header(t, 'grpc-status');
        message = header(t, 'grpc-message') ?? '';
      });
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('error', (e) => {
        failure = `UNAVAILABLE: ${e.message}`;
      });
      stream.on('close', () => {
        if (failure !== undefined) return done(failure, undefined);
        if (status !== '0') {
          const code = Number(status);
          return done(`${STATUS_NAMES[code] ?? `status ${String(status)}`}: ${unescape(message)}`, undefined);
        }
        const data = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
        if (data === undefined || data.length < 5 || data[0] !== 0 || data.readUInt32BE(1) !== data.length - 5) {
          return done('INTERNAL: response is not one uncompressed gRPC message', undefined);
        }
        done(undefined, data.subarray(5));
      });
      stream.end(body);
    },
    close: () => session.close(),
  };
}
