// At most `max` calls to one provider at a time (bearer token introspection), so a flood of distinct
// tokens never becomes a flood at the provider. A call past the limit waits in a short queue (4 per
// slot), first come first served; one that has waited `waitMs` (1 s), or finds the queue full, is
// refused with `oidc_introspection_busy` (503) at once instead of piling up behind the provider.
import { GatehouseError } from '../../core/errors.js';

/** Waiting calls allowed per slot. */
export const QUEUE_PER_SLOT = 4;
/** How long a call may wait for a slot. */
export const WAIT_MS = 1000;
export const MAX_IN_FLIGHT_DEFAULT = 64;
export const MAX_IN_FLIGHT_LIMIT = 1024;

interface Waiter {
  readonly go: () => void;
  readonly timer: NodeJS.Timeout;
}

export class CallGate {
  readonly max: number;
  readonly queueMax: number;
  readonly #waitMs: number;
  readonly #what: string;
  #active = 0;
  /** Insertion order is arrival order; a waiter that gives up leaves from anywhere in O(1). */
  readonly #queue = new Set<Waiter>();

  /** `what` names the calls in the refusal's detail (logs only), e.g. the provider's issuer. */
  constructor(max: number, what: string, waitMs = WAIT_MS) {
    if (!Number.isSafeInteger(max) || max < 1) throw new RangeError('maxInFlight must be a positive integer');
    this.max = max;
    this.queueMax = max * QUEUE_PER_SLOT;
    this.#waitMs = waitMs;
    this.#what = what;
  }

  /** Calls under way. */
  get active(): number {
    return this.#active;
  }

  /** Calls waiting for a slot. */
  get waiting(): number {
    return this.#queue.size;
  }

  /** Runs `call` once a slot is free; rejects with `oidc_introspection_busy` when none frees in time. */
  run<T>(call: () => Promise<T>): Promise<T> {
    if (this.#active < this.max) return this.#start(call);
    if (this.#queue.size >= this.queueMax) return Promise.reject(this.#busy(`${this.#queue.size} calls already waiting`));
    return new Promise<T>((resolve, reject) => {
      const waiter: Waiter = {
        go: () => {
          clearTimeout(waiter.timer);
          this.#queue.delete(waiter);
          this.#start(call).then(resolve, reject);
        },
        timer: setTimeout(() => {
          this.#queue.delete(waiter);
          reject(this.#busy(`no slot freed in ${this.#waitMs} ms`));
        }, this.#waitMs),
      };
      this.#queue.add(waiter);
    });
  }

  #start<T>(call: () => Promise<T>): Promise<T> {
    this.#active++;
    let p: Promise<T>;
    try {
      p = call();
    } catch (e) {
      p = Promise.reject(e);
    }
    return p.finally(() => {
      this.#active--;
      const next = this.#queue.values().next();
      if (next.done !== true) next.value.go();
    });
  }

  #busy(why: string): GatehouseError {
    return new GatehouseError('oidc_introspection_busy', `${this.#what}: ${this.max} calls under way, ${why}`);
  }
}
