// Reproduces the Dockerfile's runtime stage outside a container: the same files, the same
// `npm ci --omit=dev --ignore-scripts`. What runs from here is what the image runs.
import { cp, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { repoRoot, runChecked, ToolInstallError } from './tool-cache.js';

/** The paths (relative to the repository root) that the runtime stage copies. */
export const RUNTIME_FILES: readonly string[] = ['package.json', 'package-lock.json', 'dist/src', 'proto'];

export interface ProductionInstallOptions {
  /** The `npm` to run; defaults to the one on PATH. */
  readonly npm?: string;
  readonly timeoutMs?: number;
}

/**
 * Copies the runtime files into `dir` (which should be empty) and installs production
 * dependencies there. Fails naming the missing file when the project is not built.
 * Returns `dir`; start the service with `node <dir>/dist/src/cli.js serve ...`.
 */
export async function installProduction(dir: string, options: ProductionInstallOptions = {}): Promise<string> {
  for (const path of RUNTIME_FILES) {
    const source = join(repoRoot, path);
    try {
      await stat(source);
    } catch (err) {
      throw new ToolInstallError(`${source} is missing (run \`npm run build\` first?)`, { cause: err });
    }
    await cp(source, join(dir, path), { recursive: true });
  }
  await runChecked(
    options.npm ?? 'npm',
    ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund'],
    { cwd: dir, timeoutMs: options.timeoutMs ?? 10 * 60_000, env: { ...process.env, NODE_ENV: 'production' } },
  );
  return dir;
}

export interface LockfileComparison {
  /** Lockfile packages marked `dev: true`. */
  readonly devOnly: readonly string[];
  /** Development-only packages found in the install (should be none). */
  readonly present: readonly string[];
  /** Required runtime packages absent from the install (should be none). */
  readonly missing: readonly string[];
}

/** Holds an install's node_modules against package-lock.json's dev/runtime split. */
export async function compareWithLockfile(dir: string): Promise<LockfileComparison> {
  const lock: unknown = JSON.parse(await readFile(join(repoRoot, 'package-lock.json'), 'utf8'));
  const packages = typeof lock === 'object' && lock !== null && 'packages' in lock ? lock.packages : undefined;
  if (typeof packages !== 'object' || packages === null) throw new ToolInstallError('package-lock.json has no packages map');
  const devOnly: string[] = [];
  const present: string[] = [];
  const missing: string[] = [];
  for (const [path, entry] of Object.entries(packages)) {
    if (!path.startsWith('node_modules/') || typeof entry !== 'object' || entry === null) continue;
    const installed = await stat(join(dir, path)).then(() => true, () => false);
    const flags = entry as { dev?: unknown; optional?: unknown };
    if (flags.dev === true) {
      devOnly.push(path);
      if (installed) present.push(path);
    } else if (flags.optional !== true && !installed) {
      missing.push(path);
    }
  }
  return { devOnly, present, missing };
}
