// The server under load, in its own process so it has a core to itself. Every child started here is
// remembered until it has exited, and killed when the orchestrator exits for any reason.
import { descendants, LOAD_CPU, pin, SERVER_CPU } from './affinity.js';
import { type ChildProcess, fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SERVING_NODE_FLAGS } from '../src/service/startup-heap.js';
import { parseServerMessage, type ServerCommand, type ServerMessage, type ServerMode, type Tally } from './protocol.js';

const ENTRY = fileURLToPath(new URL('./server.js', import.meta.url));
const STOP_GRACE_MS = 3000;
const OUTPUT_TAIL = 4096;

const live = new Set<ChildProcess>();
let hooked = false;

/** Last resort: 'exit' handlers run synchronously, so only a SIGKILL can be sent from there. */
function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', () => {
    for (const child of live) child.kill('SIGKILL');
  });
}

export class ServerStartError extends Error {
  override readonly name = 'ServerStartError';
  readonly code = 'server_start_failed';
}

export interface ServerProcess {
  readonly pid: number;
  readonly grpcPort: number;
  /** Forward-auth (gatehouse) or the no-op HTTP server. */
  readonly httpPort: number;
  readonly policiesReady: number;
  readonly policiesInvalid: number;
  /** Total CPU time the server process has used so far, in microseconds. */
  cpuMicros(): Promise<number>;
  /** Checks answered since start, by outcome. */
  tally(): Promise<Tally>;
  /** Starts counting JS heap allocation; allocStop() reports it. */
  allocStart(): void;
  allocStop(): Promise<{ readonly bytes: number; readonly gcs: number; readonly elu: number }>;
  /** Resident set size now (VmRSS), in bytes. */
  rssBytes(): number;
  /** Graceful stop, then SIGKILL after a grace period; resolves once the process is gone. */
  stop(): Promise<void>;
  /**
   * gatehouse's process only: its no-op servers (same process, own ports and tally). CPU, allocation
   * and RSS are the process's; stopping it stops the process.
   */
  readonly beside: ServerProcess | undefined;
}

export function startServer(mode: ServerMode, timeoutMs: number): Promise<ServerProcess> {
  hookExit();
  const args = mode.kind === 'noop' ? ['noop'] : mode.kind === 'gatehouse' ? ['gatehouse', mode.policiesDir] : ['signature', mode.alg, mode.keyFile];
  // No inherited execArgv: under `node --test` it would carry the test runner's flags into the server.
  const child = fork(ENTRY, args, { stdio: ['ignore', 'pipe', 'pipe', 'ipc'], execArgv: [...nodeFlagsFor(mode), ...(process.env.BENCH_SERVER_PROF === '1' ? ['--cpu-prof', '--cpu-prof-dir=/tmp/prof'] : [])], serialization: 'json' });
  live.add(child);
  if (child.pid !== undefined) pin(child.pid, SERVER_CPU);
  let output = '';
  const keep = (chunk: Buffer): void => {
    output = (output + chunk.toString('utf8')).slice(-OUTPUT_TAIL);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  void exited.then(() => live.delete(child));

  const waiters: ((m: ServerMessage) => void)[] = [];
  child.on('message', (raw: unknown) => {
    const m = parseServerMessage(raw);
    if (m !== undefined) for (const w of waiters.splice(0)) w(m);
  });
  const nextMessage = (ms: number, what: string): Promise<ServerMessage> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new ServerStartError(`server ${what}: no answer within ${ms} ms\n${output}`)), ms);
      void exited.then(() => {
        clearTimeout(timer);
        reject(new ServerStartError(`server exited (${String(child.exitCode ?? child.signalCode)}) while waiting for ${what}\n${output}`));
      });
      waiters.push((m) => {
        clearTimeout(timer);
        resolve(m);
      });
    });
  const command = (c: ServerCommand): void => {
    if (child.connected) child.send(c);
  };

  // One probe at a time: the answer to a probe is the next message.
  let queue: Promise<unknown> = Promise.resolve();
  const ask = <T extends ServerMessage['type']>(c: ServerCommand['type'], answer: T): Promise<Extract<ServerMessage, { type: T }>> => {
    const next = queue.then(async () => {
      const reply = nextMessage(10_000, `a ${c} probe`);
      command({ type: c });
      const r = await reply;
      if (r.type !== answer) throw new Error(`expected a ${answer} answer, got ${r.type}`);
      return r as Extract<ServerMessage, { type: T }>;
    });
    queue = next.catch(() => undefined);
    return next;
  };

  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    command({ type: 'stop' });
    const kill = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
    await exited;
    clearTimeout(kill);
  };

  const ready = async (): Promise<ServerProcess> => {
    const pid = child.pid;
    if (pid === undefined) throw new ServerStartError(`server process could not be started: ${output}`);
    const m = await nextMessage(timeoutMs, 'start-up');
    if (m.type !== 'ready') throw new ServerStartError(m.type === 'failed' ? `server failed to start: ${m.message}` : `unexpected ${m.type} message at start-up`);
    // What the server started (its redis-server) stands for another machine: off the server's core.
    for (const d of descendants(pid)) pin(d, LOAD_CPU);
    const server: ServerProcess = {
      pid,
      grpcPort: m.grpcPort,
      httpPort: m.httpPort,
      policiesReady: m.policiesReady,
      policiesInvalid: m.policiesInvalid,
      cpuMicros: async () => (await ask('cpu', 'cpu')).micros,
      tally: async () => (await ask('tally', 'tally')).tally,
      allocStart: () => command({ type: 'alloc-start' }),
      allocStop: async () => ask('alloc-stop', 'alloc'),
      rssBytes: () => vmRss(pid),
      stop,
      beside: undefined,
    };
    if (m.beside === undefined) return server;
    const beside: ServerProcess = {
      ...server,
      grpcPort: m.beside.grpcPort,
      httpPort: m.beside.httpPort,
      policiesReady: 0,
      policiesInvalid: 0,
      tally: async () => (await ask('tally-beside', 'tally')).tally,
    };
    return { ...server, beside };
  };
  return ready().catch(async (e: unknown) => {
    child.kill('SIGKILL');
    await exited;
    throw e;
  });
}

function vmRss(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (m === null) throw new Error(`no VmRSS for process ${pid}`);
  return Number(m[1]) * 1024;
}

/**
 * gatehouse runs with the flags its image gives it, the floor with node's defaults; BENCH_NODE_FLAGS
 * `serving` gives both the serving flags, `none` neither (to tell the flags' share from gatehouse's).
 */
export function nodeFlagsFor(mode: ServerMode, setting = process.env.BENCH_NODE_FLAGS): readonly string[] {
  if (setting === 'serving') return SERVING_NODE_FLAGS;
  if (setting === 'none') return [];
  if (setting !== undefined && setting !== '') throw new Error(`BENCH_NODE_FLAGS must be serving or none, not ${setting}`);
  return mode.kind === 'gatehouse' ? SERVING_NODE_FLAGS : [];
}

/** Kills every server still running (used when a run is aborted). */
export async function killAllServers(): Promise<void> {
  const pending = [...live].map((child) => new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  }));
  await Promise.all(pending);
}
