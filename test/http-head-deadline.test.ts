// The forward-auth listener's slow-client guard (HeadDeadlines in src/transport/http.ts): a connection
// must deliver each request head within 10 s of opening, or within the keep-alive allowance after its
// last answer; a request being decided is never cut off. Driven with mocked timers against a model,
// over generated sequences of arrivals, answers and pauses.
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import { HEADERS_TIMEOUT_MS, HeadDeadlines, KEEP_ALIVE_TIMEOUT_MS } from '../src/transport/http.js';
import { seeded } from './support/random.js';

const AFTER_ANSWER_MS = KEEP_ALIVE_TIMEOUT_MS + HEADERS_TIMEOUT_MS;

/** A socket as the guard sees it: destroyed or not, and closed. */
class FakeSocket extends EventEmitter {
  destroyed = false;
  destroyedAt: number | undefined;

  destroy(): void {
    this.destroyed = true;
    this.destroyedAt = Date.now();
    this.emit('close');
  }
}

function connect(): { heads: HeadDeadlines; socket: FakeSocket; as: Socket } {
  const server = new EventEmitter();
  const heads = new HeadDeadlines(() => Date.now());
  heads.watch({ on: (event: string, listener: (socket: Socket) => void) => server.on(event, listener) } as never, 'connection');
  const socket = new FakeSocket();
  const as = socket as unknown as Socket;
  server.emit('connection', as);
  return { heads, socket, as };
}

describe('forward-auth: a request head is due in time', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_000_000 }));
  afterEach(() => mock.timers.reset());

  it('a connection that sends no head is cut off 10 s after it opened, not before', () => {
    const { socket } = connect();
    mock.timers.tick(HEADERS_TIMEOUT_MS - 1);
    assert.equal(socket.destroyed, false);
    mock.timers.tick(1);
    assert.equal(socket.destroyedAt, 1_000_000 + HEADERS_TIMEOUT_MS);
  });

  it('a request being decided is not cut off; after its answer the next head is due within 85 s', () => {
    const { heads, socket, as } = connect();
    mock.timers.tick(5_000);
    heads.arrived(as);
    mock.timers.tick(200_000);
    assert.equal(socket.destroyed, false);
    heads.answered(as);
    mock.timers.tick(AFTER_ANSWER_MS - 1);
    assert.equal(socket.destroyed, false);
    mock.timers.tick(1);
    assert.equal(socket.destroyedAt, 1_000_000 + 205_000 + AFTER_ANSWER_MS);
  });

  it('500 generated connections: cut off exactly when no request is pending and the head is overdue', () => {
    const r = seeded(13);
    const wrong: string[] = [];
    for (let c = 0; c < 500; c++) {
      const { heads, socket, as } = connect();
      // The model: requests pending, and when the next head is due.
      let pending = 0;
      let due = Date.now() + HEADERS_TIMEOUT_MS;
      let cut: number | undefined;
      const steps: string[] = [];
      // A mocked tick runs its timers with the clock at the tick's end: a pause that crosses the
      // deadline is ticked to 1 ms short of it, then to it, so the cut-off time is exact.
      const pause = (ms: number): void => {
        steps.push(`+${ms}`);
        const now = Date.now();
        if (pending > 0 || now + ms < due) return void mock.timers.tick(ms);
        mock.timers.tick(due - 1 - now);
        if (socket.destroyed) wrong.push(`connection ${c} (${steps.join(' ')}): cut at ${String(socket.destroyedAt)}, before ${due}`);
        mock.timers.tick(1);
        cut = due;
        mock.timers.tick(now + ms - Date.now());
      };
      for (let step = 0; step < 12 && cut === undefined; step++) {
        // Pauses around the limits: well within, just short of, at, and past them.
        const limit = pending > 0 ? 3 * AFTER_ANSWER_MS : due - Date.now();
        pause(r.pick([0, 1, r.int(limit + 1), limit - 1, limit, limit + 1, r.int(3 * AFTER_ANSWER_MS)]));
        if (cut !== undefined) break;
        if (pending > 0 && r.int(2) === 0) {
          heads.answered(as);
          pending--;
          due = Date.now() + AFTER_ANSWER_MS;
          steps.push('answered');
        } else {
          heads.arrived(as);
          pending++;
          steps.push('arrived');
        }
      }
      while (cut === undefined) {
        // Answer what is pending, then wait past the deadline.
        if (pending > 0) {
          heads.answered(as);
          pending--;
          due = Date.now() + AFTER_ANSWER_MS;
          steps.push('answered');
        } else pause(AFTER_ANSWER_MS + 1);
      }
      if (socket.destroyedAt !== cut) wrong.push(`connection ${c} (${steps.join(' ')}): cut at ${String(socket.destroyedAt)}, expected ${cut}`);
    }
    assert.deepEqual(wrong.slice(0, 5), []);
  });
});
