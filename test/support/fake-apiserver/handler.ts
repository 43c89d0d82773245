// HTTP verbs on the routes: list/watch/create on collections, get/put/patch/delete on objects and
// their /status, with authentication, injected faults and Status bodies for every refusal.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { applyJsonPatch, applyMergePatch, isJsonObject, parseJsonBody, type JsonValue } from './json.js';
import { ListSnapshots, parseListQuery, writeList } from './list.js';
import { authorize } from './rbac.js';
import type { ResourceDef, ResourceKind, ResourcePlural, StoredRecord } from './resources.js';
import { mediaType, parseRoute, queryFlag, readBody, type Route } from './routes.js';
import { FieldSelector, LabelSelector } from './selectors.js';
import { ApiError, failureStatus, reasonForStatus, successStatus } from './status.js';
import type { ObjectStore } from './store.js';
import { WatchSession, type ExpiredWatchMode } from './watch.js';

/** One request to an object's /status, whatever its outcome. */
export interface StatusWrite {
  readonly kind: ResourceKind;
  readonly namespace: string;
  readonly name: string;
  readonly method: 'PUT' | 'PATCH';
  readonly contentType: string | undefined;
  readonly httpStatus: number;
  /** True only when the stored object changed (a new resourceVersion and a MODIFIED event). */
  readonly changed: boolean;
  /** The object's resourceVersion after the request, when it exists. */
  readonly resourceVersion: string | undefined;
  readonly status: JsonValue | undefined;
}

export type FaultVerb = 'list' | 'watch';

export interface InjectedFailure {
  remaining: number;
  readonly status: number;
  readonly verb: FaultVerb | undefined;
  readonly kind: ResourceKind | undefined;
}

export interface ServerSettings {
  expiredWatchMode: ExpiredWatchMode;
  bookmarkIntervalMs: number;
  /** 'faithful': built-in list items omit apiVersion/kind as the real server writes them; 'always' adds them. */
  listItemTypeMeta: 'faithful' | 'always';
}

export type RequestCounts = Record<ResourcePlural, number>;

export class ServerState {
  readonly snapshots = new ListSnapshots(64);
  readonly watches = new Set<WatchSession>();
  readonly statusWrites: StatusWrite[] = [];
  readonly failures: InjectedFailure[] = [];
  readonly lists: RequestCounts = { authpolicies: 0, secrets: 0 };
  readonly watchRequests: RequestCounts = { authpolicies: 0, secrets: 0 };
  /** Every `group|resource|verb` requested (see rbac.ts), allowed or not. */
  readonly accessed = new Set<string>();
  /** When set, the only grants the client holds: other requests are refused 403. */
  grants: ReadonlySet<string> | undefined;
  private readonly tokenDigest: Buffer;

  constructor(
    readonly store: ObjectStore,
    readonly settings: ServerSettings,
    token: string,
  ) {
    this.tokenDigest = createHash('sha256').update(token).digest();
  }

  authenticate(header: string | undefined): boolean {
    if (header === undefined || !header.startsWith('Bearer ')) return false;
    const digest = createHash('sha256').update(header.slice('Bearer '.length)).digest();
    return timingSafeEqual(digest, this.tokenDigest);
  }

  takeFailure(verb: FaultVerb, def: ResourceDef): number | undefined {
    const failure = this.failures.find((f) => f.remaining > 0 && (f.verb ?? verb) === verb && (f.kind ?? def.kind) === def.kind);
    if (failure === undefined) return undefined;
    failure.remaining--;
    if (failure.remaining === 0) this.failures.splice(this.failures.indexOf(failure), 1);
    return failure.status;
  }
}

function sendJson(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

function sendError(res: ServerResponse, err: unknown): void {
  const apiError = err instanceof ApiError ? err : new ApiError(500, 'InternalError', `Internal error occurred: ${err instanceof Error ? err.message : String(err)}`);
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(res, apiError.status, JSON.stringify(failureStatus(apiError)));
}

export async function handleRequest(state: ServerState, req: IncomingMessage, res: ServerResponse, certified = false): Promise<void> {
  try {
    await dispatch(state, req, res, certified);
  } catch (err) {
    sendError(res, err);
  }
}

async function dispatch(state: ServerState, req: IncomingMessage, res: ServerResponse, certified: boolean): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://127.0.0.1');
  const route = parseRoute(url.pathname);
  if (route?.kind === 'info') {
    if (route.path === '/version') {
      sendJson(res, 200, JSON.stringify({ major: '1', minor: '33', gitVersion: 'v1.33.0', platform: 'linux/amd64' }));
    } else {
      res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' }).end('ok');
    }
    return;
  }
  if (!certified && !state.authenticate(req.headers.authorization)) throw new ApiError(401, 'Unauthorized', 'Unauthorized');
  if (route === undefined) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
  if (url.searchParams.has('dryRun')) throw new ApiError(400, 'BadRequest', 'dryRun is not supported by this server');
  const method = req.method ?? 'GET';
  authorize(route, method, url.searchParams, state.accessed, state.grants);
  switch (route.kind) {
    case 'collection':
      return collection(state, route, method, url.searchParams, req, res);
    case 'object':
      return object(state, route, method, url.searchParams, req, res);
    default: {
      const never: never = route;
      throw new Error(`unhandled route ${JSON.stringify(never)}`);
    }
  }
}

type CollectionRoute = Extract<Route, { kind: 'collection' }>;
type ObjectRoute = Extract<Route, { kind: 'object' }>;

function methodNotAllowed(method: string): ApiError {
  return new ApiError(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource (${method})`);
}

function injected(status: number): ApiError {
  const reason = reasonForStatus(status);
  const message = status === 410 ? 'too old resource version (injected fault)' : `the server answered ${status} (injected fault)`;
  return new ApiError(status, reason, message);
}

async function collection(state: ServerState, route: CollectionRoute, method: string, params: URLSearchParams, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { def, namespace } = route;
  if (method === 'GET') {
    if (queryFlag(params, 'watch')) {
      watch(state, def, namespace, params, undefined, res);
      return;
    }
    state.lists[def.plural]++;
    const failure = state.takeFailure('list', def);
    if (failure !== undefined) throw injected(failure);
    const page = state.snapshots.page(state.store, def, namespace, parseListQuery(def, params));
    await writeList(res, def, page, def.custom || state.settings.listItemTypeMeta === 'always');
    return;
  }
  if (method === 'POST' && namespace !== undefined) {
    const body = await jsonBody(req);
    const record = state.store.create(def, body, namespace, false);
    sendJson(res, 201, record.typedJson);
    return;
  }
  throw methodNotAllowed(method);
}

function watch(state: ServerState, def: ResourceDef, namespace: string | undefined, params: URLSearchParams, name: string | undefined, res: ServerResponse): void {
  state.watchRequests[def.plural]++;
  const failure = state.takeFailure('watch', def);
  if (failure !== undefined) throw injected(failure);
  const rawTimeout = params.get('timeoutSeconds');
  if (rawTimeout !== null && !/^[0-9]+$/.test(rawTimeout)) throw new ApiError(400, 'BadRequest', `timeoutSeconds: Invalid value: "${rawTimeout}"`);
  const field = name === undefined ? params.get('fieldSelector') : `metadata.name=${name}`;
  const session = new WatchSession(
    res,
    state.store,
    {
      def,
      namespace,
      label: LabelSelector.parse(params.get('labelSelector')),
      field: FieldSelector.parse(field, def.fieldLabels),
      resourceVersion: params.get('resourceVersion') ?? undefined,
      bookmarks: queryFlag(params, 'allowWatchBookmarks'),
      bookmarkIntervalMs: state.settings.bookmarkIntervalMs,
      timeoutSeconds: rawTimeout === null || rawTimeout === '0' ? undefined : Number(rawTimeout),
      expiredMode: state.settings.expiredWatchMode,
    },
    (ended) => state.watches.delete(ended),
  );
  state.watches.add(session);
  try {
    session.start();
  } catch (err) {
    state.watches.delete(session);
    throw err;
  }
}

async function jsonBody(req: IncomingMessage): Promise<JsonValue> {
  const type = mediaType(req);
  if (type !== undefined && type !== 'application/json') {
    throw new ApiError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/json`);
  }
  return parseJsonBody(await readBody(req));
}

async function object(state: ServerState, route: ObjectRoute, method: string, params: URLSearchParams, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { def, namespace, name, sub } = route;
  switch (method) {
    case 'GET':
      if (queryFlag(params, 'watch')) {
        watch(state, def, namespace, params, name, res);
        return;
      }
      sendJson(res, 200, state.store.get(def, namespace, name).typedJson);
      return;
    case 'PUT':
    case 'PATCH':
      return write(state, route, method, req, res);
    case 'DELETE': {
      if (sub === 'status') throw methodNotAllowed(method);
      const text = await readBody(req);
      const options = text.trim() === '' ? {} : parseJsonBody(text);
      const preconditions = isJsonObject(options) ? options['preconditions'] : undefined;
      const expectedRv = isJsonObject(preconditions) && typeof preconditions['resourceVersion'] === 'string' ? preconditions['resourceVersion'] : undefined;
      const gone = state.store.delete(def, namespace, name, expectedRv);
      // Custom resources answer with the deleted object, built-in Secrets with a Success Status.
      const uid = (gone.body['metadata'] as { uid?: JsonValue }).uid;
      const body = def.custom ? gone.typedJson : JSON.stringify(successStatus({ name, kind: def.plural, ...(typeof uid === 'string' ? { uid } : {}) }));
      sendJson(res, 200, body);
      return;
    }
    default:
      throw methodNotAllowed(method);
  }
}

async function write(state: ServerState, route: ObjectRoute, method: 'PUT' | 'PATCH', req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { def, namespace, name, sub } = route;
  const contentType = mediaType(req);
  let httpStatus = 500;
  let changed = false;
  try {
    let input: JsonValue;
    if (method === 'PUT') {
      input = await jsonBody(req);
    } else {
      if (contentType === undefined || !def.patchTypes.includes(contentType)) {
        throw new ApiError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: ${def.patchTypes.join(', ')}`);
      }
      const patch = parseJsonBody(await readBody(req));
      const current = state.store.get(def, namespace, name).toObject();
      input = contentType === 'application/json-patch+json' ? applyJsonPatch(current, patch) : applyMergePatch(current, patch);
    }
    const result = state.store.update(def, namespace, name, input, sub === 'status' ? 'status' : 'main');
    changed = result.changed;
    httpStatus = 200;
    sendJson(res, 200, result.record.typedJson);
  } catch (err) {
    httpStatus = err instanceof ApiError ? err.status : 500;
    throw err;
  } finally {
    if (sub === 'status') recordStatusWrite(state, route, method, contentType, httpStatus, changed);
  }
}

function recordStatusWrite(state: ServerState, route: ObjectRoute, method: 'PUT' | 'PATCH', contentType: string | undefined, httpStatus: number, changed: boolean): void {
  const current: StoredRecord | undefined = state.store.find(route.def, route.namespace, route.name);
  state.statusWrites.push({
    kind: route.def.kind,
    namespace: route.namespace,
    name: route.name,
    method,
    contentType,
    httpStatus,
    changed,
    resourceVersion: current === undefined ? undefined : String(current.rv),
    status: current === undefined ? undefined : structuredClone(current.body['status']),
  });
}
