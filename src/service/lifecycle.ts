// Startup and shutdown helpers of the composition root: every listener reports a bind failure the
// same way, and whatever was started is closed again in bounded time, on a signal or when startup
// fails half-way.
import { GatehouseError } from '../core/errors.js';
import { envName, SETTINGS, type Settings } from './settings.js';

/** One started part and how to close it, named for the log when it does not close in time. */
export interface Part {
  readonly name: string;
  close(): Promise<void> | void;
}

/** The settings that are listen addresses; a new listener adds its own here. */
export type ListenSetting = 'grpcAddress' | 'adminAddress' | 'httpAddress';

/**
 * Starts one listener. A failure to bind becomes a `listen_failed` error whose message is one line
 * naming the flag, its environment variable and the address:
 * `--admin-address (GATEHOUSE_ADMIN_ADDRESS) 0.0.0.0:9090: address in use`.
 */
export async function listen<T>(settings: Settings, key: ListenSetting, start: (address: string) => Promise<T>): Promise<T> {
  const address = settings[key];
  if (address === undefined) throw new Error(`listen: ${key} is off`);
  try {
    return await start(address);
  } catch (e) {
    if (!(e instanceof GatehouseError) || e.code !== 'listen_failed') throw e;
    const def = SETTINGS.find((d) => d.key === key);
    const names = def === undefined ? key : `--${def.flag} (${envName(def.flag)})`;
    throw new GatehouseError('listen_failed', `${names} ${address}: ${e.message}`, { cause: e });
  }
}

/** Thrown by startGatehouse when its signal aborts startup (everything started is closed first). */
export function startupAborted(): GatehouseError {
  return new GatehouseError('startup_aborted', 'startup stopped by a signal');
}

export function isStartupAborted(e: unknown): boolean {
  return e instanceof GatehouseError && e.code === 'startup_aborted';
}

/**
 * Waits for `work` at most `ms`, or until `signal` aborts; true when `work` settled in time. Its
 * timer and listener never outlive the wait, so nothing holds the event loop afterwards.
 */
export function within(work: Promise<unknown>, ms: number, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted === true) return Promise.resolve(false);
  return new Promise((resolve) => {
    const done = (finished: boolean): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      resolve(finished);
    };
    const onAbort = (): void => done(false);
    // An infinite wait has no timer (setTimeout would fire at once for it).
    const timer = Number.isFinite(ms) ? setTimeout(() => done(false), Math.max(0, ms)) : undefined;
    signal?.addEventListener('abort', onAbort, { once: true });
    work.then(
      () => done(true),
      () => done(true),
    );
  });
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export async function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  await within(new Promise<never>(() => {}), ms, signal);
}

/**
 * Closes `parts` concurrently, waiting at most `ms`; resolves with the names of those still closing.
 * A part whose close() fails is reported to `onError` and counts as closed: nothing more can be done.
 */
export async function closeParts(parts: readonly Part[], ms: number, onError: (name: string, e: unknown) => void): Promise<string[]> {
  const open = new Set(parts.map((p) => p.name));
  const closing = parts.map(async (p) => {
    try {
      await p.close();
    } catch (e) {
      onError(p.name, e);
    }
    open.delete(p.name);
  });
  await within(Promise.all(closing), ms);
  return [...open];
}
