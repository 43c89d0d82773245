// One watch connection: a chunked 200 response with one JSON event per line, following the real
// server's watch cache (synthetic ADDED for RV ""/"0", resume from history, selector transitions
// as ADDED/DELETED, BOOKMARK on request, timeoutSeconds, 410 as an ERROR event or an HTTP status).
import type { ServerResponse } from 'node:http';
import { withResourceVersion } from './objects.js';
import type { ResourceDef, StoredRecord } from './resources.js';
import type { FieldSelector, LabelSelector } from './selectors.js';
import { ApiError, failureStatus } from './status.js';
import type { ObjectStore, StoreEvent } from './store.js';

/** How an expired resourceVersion is reported: an ERROR event in a 200 stream (the real server), or HTTP 410. */
export type ExpiredWatchMode = 'event' | 'http';

export interface WatchRequest {
  readonly def: ResourceDef;
  readonly namespace: string | undefined;
  readonly label: LabelSelector;
  readonly field: FieldSelector;
  readonly resourceVersion: string | undefined;
  readonly bookmarks: boolean;
  readonly bookmarkIntervalMs: number;
  readonly timeoutSeconds: number | undefined;
  readonly expiredMode: ExpiredWatchMode;
}

type WireEvent = { readonly type: 'ADDED' | 'MODIFIED' | 'DELETED'; readonly object: StoredRecord };

export class WatchSession {
  private unsubscribe: (() => void) | undefined;
  private readonly timers: NodeJS.Timeout[] = [];
  private ended = false;
  /** Events delivered on this connection (initial, replayed and live), for tests that count them. */
  delivered = 0;

  constructor(
    private readonly res: ServerResponse,
    private readonly store: ObjectStore,
    readonly request: WatchRequest,
    private readonly onEnd: (session: WatchSession) => void,
  ) {}

  /**
   * Throws ApiError before anything is written when the request is refused as a whole. Runs without
   * awaiting, so no store change can fall between the initial state and the live subscription.
   */
  start(): void {
    const { def, resourceVersion } = this.request;
    let initial: readonly WireEvent[];
    if (resourceVersion === undefined || resourceVersion === '' || resourceVersion === '0') {
      initial = this.store
        .list(def, this.request.namespace)
        .filter((r) => this.passes(r))
        .map((object) => ({ type: 'ADDED', object }));
    } else {
      if (!/^[0-9]+$/.test(resourceVersion)) throw new ApiError(400, 'BadRequest', `invalid resource version: "${resourceVersion}"`);
      const from = Number(resourceVersion);
      if (from > this.store.resourceVersion) {
        throw new ApiError(504, 'Timeout', `Too large resource version: ${from}, current: ${this.store.resourceVersion}`, {
          causes: [{ reason: 'ResourceVersionTooLarge', message: 'Too large resource version' }],
          retryAfterSeconds: 1,
        });
      }
      const replay = this.store.replay(def, from);
      if (replay.kind === 'expired') {
        const expired = new ApiError(410, 'Expired', `too old resource version: ${from} (${replay.oldest})`);
        if (this.request.expiredMode === 'http') throw expired;
        this.open();
        this.writeLine(`{"type":"ERROR","object":${JSON.stringify(failureStatus(expired))}}\n`);
        this.close();
        return;
      }
      initial = replay.events.flatMap((e) => this.convert(e) ?? []);
    }
    this.open();
    for (const event of initial) this.send(event);
    this.unsubscribe = this.store.subscribe(def, (e) => {
      const event = this.convert(e);
      if (event !== undefined) this.send(event);
    });
    if (this.request.bookmarks) {
      this.timers.push(setInterval(() => this.bookmark(), this.request.bookmarkIntervalMs));
    }
    if (this.request.timeoutSeconds !== undefined) {
      this.timers.push(setTimeout(() => this.close(), this.request.timeoutSeconds * 1000));
    }
  }

  /** Ends the stream cleanly, as the server does when timeoutSeconds runs out. */
  close(): void {
    if (this.ended) return;
    this.res.end();
    this.finish();
  }

  /** Cuts the connection without ending the chunked body, as a lost server or proxy would. */
  drop(): void {
    if (this.ended) return;
    this.res.socket?.destroy();
    this.res.destroy();
    this.finish();
  }

  private open(): void {
    this.res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private' });
    this.res.flushHeaders();
    this.res.on('close', () => this.finish());
  }

  private finish(): void {
    if (this.ended) return;
    this.ended = true;
    this.unsubscribe?.();
    for (const timer of this.timers) clearTimeout(timer);
    this.onEnd(this);
  }

  private passes(record: StoredRecord): boolean {
    const { namespace, label, field } = this.request;
    return (
      (namespace === undefined || record.namespace === namespace) &&
      label.matches(record.labels) &&
      field.matches((f) => record.field(f))
    );
  }

  /** The watch cache's rule: an object entering the selection is ADDED, one leaving it is DELETED. */
  private convert(event: StoreEvent): WireEvent | undefined {
    const current = event.type !== 'DELETED' && this.passes(event.object);
    const previous = event.type !== 'ADDED' && this.passes(event.prev);
    if (current && !previous) return { type: 'ADDED', object: event.object };
    if (current && previous) return { type: 'MODIFIED', object: event.object };
    if (!current && previous) {
      const object = event.type === 'DELETED' ? event.object : withResourceVersion(event.prev, event.rv);
      return { type: 'DELETED', object };
    }
    return undefined;
  }

  private send(event: WireEvent): void {
    this.delivered++;
    this.writeLine(`{"type":"${event.type}","object":${event.object.typedJson}}\n`);
  }

  private bookmark(): void {
    const { def } = this.request;
    const object = { apiVersion: def.apiVersion, kind: def.kind, metadata: { resourceVersion: String(this.store.resourceVersion) } };
    this.writeLine(`{"type":"BOOKMARK","object":${JSON.stringify(object)}}\n`);
  }

  private writeLine(line: string): void {
    if (!this.ended && !this.res.writableEnded) this.res.write(line);
  }
}
