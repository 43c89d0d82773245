// Installs command-line tools from npm packages into `.tools/` once per machine. Test files run in
// parallel processes, so installation is serialised by a lock directory and published by rename.
import { execFile } from 'node:child_process';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file compiles to dist/test/support/). */
export const repoRoot: string = fileURLToPath(new URL('../../../', import.meta.url));
export const toolsDir: string = join(repoRoot, '.tools');

const COMPLETE_MARKER = '.complete';
const LOCK_WAIT_MS = 10 * 60_000;
const STALE_LOCK_MS = 10 * 60_000;

export class ToolInstallError extends Error {
  readonly code = 'tool_install_failed';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ToolInstallError';
  }
}

export interface CommandResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly timeoutMs?: number;
}

/** Runs a program without a shell; never rejects on a non-zero exit (the caller asserts on it). */
export function runCommand(file: string, args: readonly string[], options: RunOptions = {}): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    execFile(
      file,
      [...args],
      {
        cwd: options.cwd ?? repoRoot,
        env: options.env ?? process.env,
        timeout: options.timeoutMs ?? 120_000,
        maxBuffer: 64 * 1024 * 1024,
        encoding: 'utf8',
      },
      (error, stdout, stderr) => {
        if (error === null) {
          resolve({ code: 0, stdout, stderr });
          return;
        }
        const status = (error as NodeJS.ErrnoException & { code?: unknown }).code;
        if (typeof status === 'number') {
          resolve({ code: status, stdout, stderr });
          return;
        }
        // Spawn failures and time-outs are not exit statuses: surface them.
        reject(new ToolInstallError(`${file} ${args.join(' ')} failed: ${error.message}\n${stderr}`, { cause: error }));
      },
    );
  });
}

/** Like runCommand, but a non-zero exit is an error naming the command and its output. */
export async function runChecked(file: string, args: readonly string[], options: RunOptions = {}): Promise<string> {
  const result = await runCommand(file, args, options);
  if (result.code !== 0) {
    throw new ToolInstallError(
      `${file} ${args.join(' ')} exited with ${result.code}\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`,
    );
  }
  return result.stdout;
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A lock left by a dead process, or held far longer than any install takes, is taken over. */
async function lockIsStale(lockDir: string): Promise<boolean> {
  try {
    const owner = Number.parseInt(await readFile(join(lockDir, 'pid'), 'utf8'), 10);
    if (Number.isInteger(owner) && !processAlive(owner)) return true;
  } catch {
    // No pid yet: the owner may be between mkdir and writeFile; judge by age alone.
  }
  try {
    const info = await stat(lockDir);
    return Date.now() - info.mtimeMs > STALE_LOCK_MS;
  } catch {
    return false;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Returns `.tools/<name>`, running `install(staging)` first if no complete copy exists.
 * `install` fills a private staging directory that is renamed into place when it succeeds.
 */
export async function installOnce(name: string, install: (staging: string) => Promise<void>): Promise<string> {
  const finalDir = join(toolsDir, name);
  const lockDir = join(toolsDir, `${name}.lock`);
  await mkdir(toolsDir, { recursive: true });
  const deadline = Date.now() + LOCK_WAIT_MS;

  for (;;) {
    if (await exists(join(finalDir, COMPLETE_MARKER))) return finalDir;
    try {
      await mkdir(lockDir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      if (await lockIsStale(lockDir)) {
        await rm(lockDir, { recursive: true, force: true });
      } else if (Date.now() > deadline) {
        throw new ToolInstallError(`timed out waiting for ${lockDir} held by another process`);
      } else {
        await sleep(500);
      }
      continue;
    }

    try {
      await writeFile(join(lockDir, 'pid'), String(process.pid));
      if (await exists(join(finalDir, COMPLETE_MARKER))) return finalDir;
      const staging = join(toolsDir, `${name}.staging-${process.pid}`);
      await rm(staging, { recursive: true, force: true });
      await mkdir(staging, { recursive: true });
      try {
        await install(staging);
        await writeFile(join(staging, COMPLETE_MARKER), new Date().toISOString());
        await rm(finalDir, { recursive: true, force: true });
        await rename(staging, finalDir);
      } catch (err) {
        await rm(staging, { recursive: true, force: true });
        throw err instanceof ToolInstallError ? err : new ToolInstallError(`installing ${name} failed`, { cause: err });
      }
      return finalDir;
    } finally {
      await rm(lockDir, { recursive: true, force: true });
    }
  }
}

/**
 * Installs one npm package into `<dir>/node_modules` without touching the project's package.json.
 * Peer dependencies are not installed: only the package's own files are wanted.
 */
export async function npmInstallInto(dir: string, spec: string): Promise<void> {
  await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'tool-staging', private: true }));
  await runChecked(
    'npm',
    ['install', '--no-save', '--no-audit', '--no-fund', '--ignore-scripts', '--legacy-peer-deps', '--no-package-lock', spec],
    { cwd: dir, timeoutMs: 10 * 60_000 },
  );
}
