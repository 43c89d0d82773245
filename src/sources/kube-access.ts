// How requests reach the API server once the cluster is known: its URL, and for each request the
// node:http(s) options carrying the TLS material (in a keep-alive agent) and the Authorization header.
// A token file is read again for every request, so a rotated service-account token is used at once.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { RequestOptions } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';

// node:http by require: an ESM import reads all its exports, and on Node 26 its WebSocket getter loads
// node's bundled undici, 2-5 MB of RSS that serving does not use (test/architecture.test.ts holds it).
const { Agent: HttpAgent } = createRequire(import.meta.url)('node:http') as typeof import('node:http');

/** The API server and how to authenticate to it: what the Kubernetes source's requests need. */
export interface ClusterAccess {
  /** Base URL of the API server, without a trailing slash. */
  readonly server: string;
  /** Where the configuration came from and how it authenticates, for the startup log (never a secret). */
  readonly description: string;
  /** Options of one request: `agent` (TLS material) and `headers` (Authorization). */
  requestOptions(): Promise<RequestOptions>;
}

export type TokenSource =
  | { readonly kind: 'none' }
  | { readonly kind: 'value'; readonly value: string }
  /** `first`: the token read when the configuration was loaded, used until a later read succeeds. */
  | { readonly kind: 'file'; readonly path: string; readonly first: string };

/** What gatehouse handles itself: a bearer token and/or a client certificate, over TLS or plain HTTP. */
export interface NativeCluster {
  readonly server: string;
  readonly ca: Buffer | undefined;
  readonly cert: Buffer | undefined;
  readonly key: Buffer | undefined;
  readonly insecureSkipTlsVerify: boolean;
  readonly tlsServerName: string | undefined;
  readonly token: TokenSource;
  readonly description: string;
}

export function nativeAccess(cluster: NativeCluster): ClusterAccess {
  const agent = cluster.server.startsWith('https:')
    ? new HttpsAgent({
        keepAlive: true,
        ca: cluster.ca,
        cert: cluster.cert,
        key: cluster.key,
        rejectUnauthorized: !cluster.insecureSkipTlsVerify,
        servername: cluster.tlsServerName,
      })
    : new HttpAgent({ keepAlive: true });
  const token = tokenReader(cluster.token);
  return {
    server: cluster.server,
    description: cluster.description,
    async requestOptions(): Promise<RequestOptions> {
      const value = await token();
      return { agent, headers: value === undefined ? {} : { authorization: `Bearer ${value}` } };
    },
  };
}

function tokenReader(source: TokenSource): () => Promise<string | undefined> {
  switch (source.kind) {
    case 'none':
      return () => Promise.resolve(undefined);
    case 'value':
      return () => Promise.resolve(source.value);
    case 'file': {
      // The kubelet replaces the file atomically; a read that fails or finds it empty keeps the last
      // good token (the request then fails on its own if that one has expired).
      let last = source.first;
      return async () => {
        try {
          const read = (await readFile(source.path, 'utf8')).trim();
          if (read !== '') last = read;
        } catch {
          // keep the last token
        }
        return last;
      };
    }
    default: {
      const never: never = source;
      throw new Error(`unknown token source ${JSON.stringify(never)}`);
    }
  }
}
