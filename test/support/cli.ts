// The built `gatehouse` command run as a user runs it: a child process with a clean environment.
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** dist/src/cli.js, the `bin` of the package. */
export const CLI = join(import.meta.dirname, '..', '..', 'src', 'cli.js');
/** The checkout (above dist/). */
export const ROOT = join(import.meta.dirname, '..', '..', '..');

export interface RunResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `gatehouse <args>` to completion (bounded: 20 s) with only PATH and `env` set. */
export function run(args: readonly string[], env: Record<string, string> = {}, cwd?: string): RunResult {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '', ...env }, timeout: 20_000, cwd });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/**
 * The same without blocking the event loop (bounded: 30 s), for commands that talk to a server
 * running in the test process.
 */
export function runAsync(args: readonly string[], env: Record<string, string> = {}, cwd?: string): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '', ...env }, timeout: 30_000, cwd }, (_e, stdout, stderr) =>
      resolve({ status: child.exitCode, stdout, stderr }),
    );
  });
}

/** A new temporary directory holding `files` (name -> content). */
export function dirWith(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-cli-'));
  for (const [n, c] of Object.entries(files)) writeFileSync(join(dir, n), c);
  return dir;
}

/** A loopback port nothing listens on. */
export async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}
