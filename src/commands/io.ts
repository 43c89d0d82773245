// What a command writes to and reads from, so tests can run one in-process and read its output.
import { type CommandLine, type Flag, readCommandLine, type ReadOptions, UsageError } from '../args/flags.js';

export interface CommandIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly env: Readonly<Record<string, string | undefined>>;
}

export const PROCESS_IO: CommandIo = {
  stdout: (t) => void process.stdout.write(t),
  stderr: (t) => void process.stderr.write(t),
  env: process.env,
};

/** A command's entry point: its arguments (after the command name), exit code back. */
export type RunCommand = (argv: readonly string[], io?: CommandIo) => Promise<number>;

/** Writes each problem of a UsageError as `<prefix>: <problem>` and returns exit code 2; rethrows others. */
export function usageFailed(e: unknown, io: CommandIo, prefix: string): number {
  if (!(e instanceof UsageError)) throw e;
  for (const p of e.problems) io.stderr(`${prefix}: ${p}\n`);
  return 2;
}

/**
 * A command's flags from `argv` and the environment, or the exit code when the command is done:
 * 0 after printing `help` for --help, 2 after printing the usage problems (prefixed with the command).
 */
export function commandLine<const R extends readonly Flag[]>(
  rows: R,
  argv: readonly string[],
  io: CommandIo,
  help: string,
  options: ReadOptions,
): Extract<CommandLine<R>, { readonly help: false }> | number {
  try {
    const line = readCommandLine(rows, argv, io.env, options);
    if (!line.help) return line;
    io.stdout(help);
    return 0;
  } catch (e) {
    return usageFailed(e, io, options.command);
  }
}
