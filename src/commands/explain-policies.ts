// Policies and Secrets from files, into a policy store exactly as `serve --policies` loads them (stand-ins
// for invalid policies, conflicts, shadow tables and all), for `gatehouse explain` and `gatehouse test`.
import { createJwtServices } from '../authn/jwt/services.js';
import type { CompileEnv } from '../policy/compile-context.js';
import type { PolicyIndex } from '../policy/index.js';
import { PolicyStore } from '../policy/store.js';
import { createSessionServices } from '../session/services.js';
import { listManifestFiles, loadFiles, type LoadedFiles } from '../sources/files.js';
import type { CommandIo } from './io.js';

export interface LoadedPolicies {
  readonly index: PolicyIndex;
  readonly store: PolicyStore;
  /** The resources as read from the files (tests take credentials from their Secrets). */
  readonly files: LoadedFiles;
  readonly env: CompileEnv;
  /** One line per file problem and per policy that is not Ready (what it serves instead). */
  readonly warnings: readonly string[];
  close(): Promise<void>;
}

export interface LoadOptions {
  /** Fetch key sets and ask identity providers as serve does; offline, neither (a test run in CI). */
  readonly online: boolean;
  /** Sessions and revocations read from this Redis (never written: explains are dry runs). */
  readonly redisUrl?: string | undefined;
  /** How long to wait for identity providers to answer (online). */
  readonly providerWaitMs?: number;
  readonly clock?: () => number;
  readonly env?: Readonly<Record<string, string | undefined>>;
}

const REDIS_WAIT_MS = 5000;

/** A file or directory that cannot be read, a Redis that does not answer. */
export class LoadError extends Error {}

export async function loadPolicies(paths: readonly string[], options: LoadOptions): Promise<LoadedPolicies> {
  const clock = options.clock ?? Date.now;
  const jwt = createJwtServices({ jwks: { offline: !options.online }, env: options.env, redisUrl: options.redisUrl, clock });
  const sessions = createSessionServices(options.redisUrl === undefined ? { offline: true } : { redisUrl: options.redisUrl });
  const close = async (): Promise<void> => {
    await sessions.close();
    await jwt.close();
  };
  try {
    // Redis commands are not queued while disconnected: connect first, as serve does.
    if (options.redisUrl !== undefined) await Promise.all([sessions.ready(REDIS_WAIT_MS), jwt.revocation.ready(REDIS_WAIT_MS)]).catch((e: unknown) => {
      throw new LoadError(`--redis-url: not reachable: ${(e as Error).message}`);
    });
    return await loadWith(paths, { clock, jwt, sessions }, options, close);
  } catch (e) {
    await close();
    throw e;
  }
}

/**
 * Loads for a command, its warnings written to stderr, and runs `use`; closes whatever `use` does.
 * A load failure is one line and exit 1.
 */
export async function withPolicies(
  paths: readonly string[],
  options: LoadOptions,
  io: CommandIo,
  command: string,
  use: (loaded: LoadedPolicies) => Promise<number>,
): Promise<number> {
  let loaded: LoadedPolicies;
  try {
    loaded = await loadPolicies(paths, options);
  } catch (e) {
    if (!(e instanceof LoadError)) throw e;
    io.stderr(`${command}: ${e.message}\n`);
    return 1;
  }
  try {
    for (const w of loaded.warnings) io.stderr(`${command}: warning: ${w}\n`);
    return await use(loaded);
  } finally {
    await loaded.close();
  }
}

/** Loads into a store over `env` (tests bring their own session and revocation services). */
export async function loadWith(paths: readonly string[], env: CompileEnv, options: Pick<LoadOptions, 'online' | 'providerWaitMs'>, close: () => Promise<void>): Promise<LoadedPolicies> {
  let files: string[];
  try {
    files = listManifestFiles(paths);
  } catch (e) {
    throw new LoadError(`--policies: ${(e as Error).message}`);
  }
  const loaded = loadFiles(files);
  // Policies waiting for an identity provider: done once their status changes (it answered, or failed once).
  const waiting = new Set<string>();
  let wake: (() => void) | undefined;
  const store = new PolicyStore(env, {
    onStatus: (s) => {
      if (s.reason !== 'ProviderUnavailable') waiting.delete(s.id);
      else if (!synced) waiting.add(s.id);
      else waiting.delete(s.id);
      wake?.();
    },
  });
  let synced = false;
  store.replaceAll(loaded.policies, loaded.secrets);
  store.markSynced();
  synced = true;
  if (options.online && waiting.size > 0) {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, options.providerWaitMs ?? 10_000);
      wake = () => {
        if (waiting.size > 0) return;
        clearTimeout(timer);
        resolve();
      };
    });
  }
  const index = store.index;
  if (index === undefined) throw new LoadError('policies not loaded');
  const warnings = loaded.problems.map((p) => `${p.file}#${p.doc}: ${p.path === '' ? '' : `${p.path}: `}${p.message}`);
  for (const s of store.statuses()) if (!s.ready) warnings.push(`${s.id}: not ready (${s.reason}): ${s.message}`);
  return { index, store, files: loaded, env, warnings, close };
}
