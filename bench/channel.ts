// How the load generator sends one Check: a connection that takes pre-encoded request bytes and
// hands back response bytes. Two implementations: grpc-js with identity serializers, and a bare
// HTTP/2 gRPC framing for when grpc-js's per-call work on the client side would be the limit.

/** Called once per call: an error text (`CODE: details`), or the response message bytes. */
export type Done = (error: string | undefined, response: Buffer | undefined) => void;

export interface Channel {
  call(request: Buffer, done: Done): void;
  close(): void;
}

export type ClientKind = 'grpc-js' | 'http2';
export const CLIENT_KINDS: readonly ClientKind[] = ['grpc-js', 'http2'];

export interface ChannelOptions {
  readonly address: string;
  /** gRPC method path. */
  readonly method: string;
  /** grpc-timeout sent with every call. */
  readonly deadlineMs: number;
  readonly connectTimeoutMs: number;
}
