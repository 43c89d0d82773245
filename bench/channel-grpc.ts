// Checks through a grpc-js Client, bytes in and bytes out (identity serializers): the client does
// framing and call bookkeeping only, never protobuf work.
import * as grpc from '@grpc/grpc-js';
import type { Channel, ChannelOptions, Done } from './channel.js';

const identity = (b: Buffer): Buffer => b;

export async function connectGrpc(o: ChannelOptions): Promise<Channel> {
  // A local subchannel pool: without it every Client to the same address shares one connection.
  const client = new grpc.Client(o.address, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 });
  try {
    await new Promise<void>((resolve, reject) => {
      client.waitForReady(Date.now() + o.connectTimeoutMs, (err) => (err === undefined || err === null ? resolve() : reject(err)));
    });
  } catch (e) {
    client.close();
    throw e;
  }
  return {
    call(request: Buffer, done: Done): void {
      client.makeUnaryRequest<Buffer, Buffer>(o.method, identity, identity, request, new grpc.Metadata(), { deadline: Date.now() + o.deadlineMs }, (err, response) => {
        if (err !== null) done(`${grpc.status[err.code] ?? err.code}: ${err.details}`, undefined);
        else done(undefined, response);
      });
    },
    close: () => client.close(),
  };
}
