// How the verifying client sends one Check: a connection that takes pre-encoded request bytes and
// hands back response bytes (bare HTTP/2 gRPC framing, channel-http2.ts).

/** Called once per call: an error text (`CODE: details`), or the response message bytes. */
export type Done = (error: string | undefined, response: Buffer | undefined) => void;

export interface Channel {
  call(request: Buffer, done: Done): void;
  close(): void;
}

export interface ChannelOptions {
  readonly address: string;
  /** gRPC method path. */
  readonly method: string;
  /** grpc-timeout sent with every call. */
  readonly deadlineMs: number;
  readonly connectTimeoutMs: number;
}
