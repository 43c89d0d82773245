// A Kubernetes API server for tests, serving AuthPolicy (gatehouse.dev/v1alpha1) and core v1 Secret
// the way the real one does for list, watch, get and writes, with faults a test can inject and, when
// given grants, RBAC's refusals. Over HTTPS when given a certificate, and then, given a client CA,
// authenticating clients by certificate as well as by token, as the real one does.
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type RequestListener, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { type ClusterAccess, nativeAccess } from '../../../src/sources/kube-access.js';
import { handleRequest, ServerState, type FaultVerb, type StatusWrite } from './handler.js';
import { isJsonObject, type JsonObject, type JsonValue } from './json.js';
import { resourceByKind, type ResourceDef, type ResourceKind, type ResourcePlural } from './resources.js';
import { LabelSelector } from './selectors.js';
import { ApiError } from './status.js';
import { ObjectStore } from './store.js';
import type { ExpiredWatchMode } from './watch.js';

export interface FakeApiServerOptions {
  /** Bearer token clients must present (random when omitted). */
  readonly token?: string;
  /** Events kept per resource for watches that resume from a resourceVersion. */
  readonly historyLimit?: number;
  /** Interval of BOOKMARK events on watches that ask for them (the real server: about a minute). */
  readonly bookmarkIntervalMs?: number;
  readonly expiredWatchMode?: ExpiredWatchMode;
  readonly listItemTypeMeta?: 'faithful' | 'always';
  /** RBAC: the `group|resource|verb` grants the client holds (default: everything is allowed). */
  readonly grants?: readonly string[];
  /** Serve HTTPS with this certificate (PEM); `clientCa` also accepts client certificates it signed. */
  readonly tls?: FakeApiServerTls;
}

export interface FakeApiServerTls {
  readonly cert: string;
  readonly key: string;
  /** The CA that signed `cert`: what `kubeConfig()` trusts. */
  readonly ca: string;
  readonly clientCa?: string;
}

export interface FakeApiStats {
  readonly lists: number;
  readonly watches: number;
  readonly listsByResource: Readonly<Record<ResourcePlural, number>>;
  readonly watchesByResource: Readonly<Record<ResourcePlural, number>>;
  readonly openWatches: number;
  readonly resourceVersion: string;
}

export class FakeApiServer {
  readonly token: string;
  private readonly store: ObjectStore;
  private readonly state: ServerState;
  private server: Server | undefined;
  private port = 0;
  private readonly sockets = new Set<Socket>();
  private paused = false;
  private readonly tls: FakeApiServerTls | undefined;

  constructor(options: FakeApiServerOptions = {}) {
    this.tls = options.tls;
    this.token = options.token ?? randomBytes(24).toString('base64url');
    this.store = new ObjectStore(options.historyLimit ?? 10_000);
    this.state = new ServerState(
      this.store,
      {
        expiredWatchMode: options.expiredWatchMode ?? 'event',
        bookmarkIntervalMs: options.bookmarkIntervalMs ?? 60_000,
        listItemTypeMeta: options.listItemTypeMeta ?? 'faithful',
      },
      this.token,
    );
    this.state.grants = options.grants === undefined ? undefined : new Set(options.grants);
  }

  async start(): Promise<void> {
    if (this.server !== undefined) throw new Error('the fake API server is already started');
    await this.listen(0);
  }

  get url(): string {
    if (this.port === 0) throw new Error('the fake API server is not started');
    return `${this.tls === undefined ? 'http' : 'https'}://127.0.0.1:${this.port}`;
  }

  /** What gatehouse needs to read this server: its URL, its CA when it serves HTTPS, the bearer token. */
  kubeConfig(): ClusterAccess {
    return nativeAccess({
      server: this.url,
      ca: this.tls === undefined ? undefined : Buffer.from(this.tls.ca),
      cert: undefined,
      key: undefined,
      insecureSkipTlsVerify: false,
      tlsServerName: undefined,
      token: { kind: 'value', value: this.token },
      description: 'the fake API server',
    });
  }

  async stop(): Promise<void> {
    for (const session of [...this.state.watches]) session.drop();
    await this.closeListener();
    this.paused = false;
  }

  // ---- objects, as a test sets up the cluster ----

  /** Creates an object; unlike a create over HTTP, it keeps a given status and creationTimestamp (seeding). */
  create(obj: JsonObject): JsonObject {
    const def = defOf(obj);
    return this.store.create(def, obj, undefined, true).toObject();
  }

  /** Replaces an object (status included), always as a new resourceVersion with a MODIFIED event. */
  update(obj: JsonObject): JsonObject {
    const def = defOf(obj);
    const { namespace, name } = identityOf(obj);
    return this.store.update(def, namespace, name, obj, 'all').record.toObject();
  }

  delete(kind: ResourceKind, namespace: string, name: string): JsonObject {
    return this.store.delete(resourceByKind(kind), namespace, name).toObject();
  }

  get(kind: ResourceKind, namespace: string, name: string): JsonObject | undefined {
    return this.store.find(resourceByKind(kind), namespace, name)?.toObject();
  }

  /** Objects ordered by namespace and name; `labelSelector` uses the API's syntax. */
  list(kind: ResourceKind, namespace?: string, labelSelector?: string): JsonObject[] {
    const selector = LabelSelector.parse(labelSelector);
    return this.store
      .list(resourceByKind(kind), namespace)
      .filter((r) => selector.matches(r.labels))
      .map((r) => r.toObject());
  }

  count(kind: ResourceKind): number {
    return this.store.count(resourceByKind(kind));
  }

  get resourceVersion(): string {
    return String(this.store.resourceVersion);
  }

  /** Every `group|resource|verb` (RBAC's terms, `core` for the core group) requested so far, sorted. */
  get accessed(): string[] {
    return [...this.state.accessed].sort();
  }

  /** Every PUT/PATCH to a /status subresource, oldest first. */
  get statusWrites(): readonly StatusWrite[] {
    return this.state.statusWrites;
  }

  get stats(): FakeApiStats {
    const lists = { ...this.state.lists };
    const watches = { ...this.state.watchRequests };
    return {
      lists: lists.authpolicies + lists.secrets,
      watches: watches.authpolicies + watches.secrets,
      listsByResource: lists,
      watchesByResource: watches,
      openWatches: this.state.watches.size,
      resourceVersion: this.resourceVersion,
    };
  }

  // ---- behaviour switches and faults ----

  set expiredWatchMode(mode: ExpiredWatchMode) {
    this.state.settings.expiredWatchMode = mode;
  }

  get expiredWatchMode(): ExpiredWatchMode {
    return this.state.settings.expiredWatchMode;
  }

  set bookmarkIntervalMs(ms: number) {
    if (!Number.isInteger(ms) || ms < 1) throw new RangeError('bookmarkIntervalMs must be a positive integer');
    this.state.settings.bookmarkIntervalMs = ms;
  }

  /** Destroys every open watch connection without ending its body. */
  dropWatches(): number {
    const open = [...this.state.watches];
    for (const session of open) session.drop();
    return open.length;
  }

  /** Ends every open watch cleanly, as the server does when a watch's timeout runs out. */
  closeWatches(): number {
    const open = [...this.state.watches];
    for (const session of open) session.close();
    return open.length;
  }

  /** Forgets event history and list snapshots: resuming from an older resourceVersion gets 410. */
  compact(): void {
    this.store.compact();
    this.state.snapshots.clear();
  }

  /** The next `count` list/watch requests (optionally of one verb or kind) are answered with `status`. */
  failRequests(count: number, status: number, only: { verb?: FaultVerb; kind?: ResourceKind } = {}): void {
    if (!Number.isInteger(count) || count < 1) throw new RangeError('count must be a positive integer');
    if (!Number.isInteger(status) || status < 400 || status > 599) throw new RangeError('status must be an HTTP error status');
    this.state.failures.push({ remaining: count, status, verb: only.verb, kind: only.kind });
  }

  /** Stops listening and cuts every connection: clients see connection refused until resume(). */
  async pause(): Promise<void> {
    if (this.paused || this.server === undefined) return;
    this.paused = true;
    for (const session of [...this.state.watches]) session.drop();
    await this.closeListener();
  }

  async resume(): Promise<void> {
    if (!this.paused) return;
    this.paused = false;
    await this.listen(this.port);
  }

  private listen(port: number): Promise<void> {
    const handler: RequestListener = (req, res) => {
      void handleRequest(this.state, req, res, clientCertified(req));
    };
    const tls = this.tls;
    // A client certificate is asked for, not required: without a valid one the token must do.
    const server =
      tls === undefined
        ? createServer(handler)
        : createHttpsServer({ cert: tls.cert, key: tls.key, ca: tls.clientCa, requestCert: tls.clientCa !== undefined, rejectUnauthorized: false }, handler);
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    server.on('clientError', (_err, socket) => socket.destroy());
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen({ port, host: '127.0.0.1' }, () => {
        server.off('error', reject);
        this.server = server;
        this.port = (server.address() as AddressInfo).port;
        resolve();
      });
    });
  }

  private closeListener(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    if (server === undefined) return Promise.resolve();
    return new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }
}

/** A client certificate the client CA signed authenticates its holder (the API server's x509 authenticator). */
function clientCertified(req: IncomingMessage): boolean {
  const socket = req.socket as Partial<TLSSocket>;
  return socket.encrypted === true && socket.authorized === true;
}

function defOf(obj: JsonObject): ResourceDef {
  const kind = obj['kind'];
  if (kind !== 'AuthPolicy' && kind !== 'Secret') {
    throw new ApiError(400, 'BadRequest', `this server stores kinds AuthPolicy and Secret, not ${JSON.stringify(kind ?? null)}`);
  }
  return resourceByKind(kind);
}

function identityOf(obj: JsonObject): { namespace: string; name: string } {
  const metadata: JsonValue | undefined = obj['metadata'];
  const name = isJsonObject(metadata) ? metadata['name'] : undefined;
  const namespace = isJsonObject(metadata) ? metadata['namespace'] : undefined;
  if (typeof name !== 'string' || name === '') throw new ApiError(400, 'BadRequest', 'metadata.name is required');
  return { name, namespace: typeof namespace === 'string' && namespace !== '' ? namespace : 'default' };
}
