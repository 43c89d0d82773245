// `gatehouse validate`: the same parsing and compilation `serve` does, reported per file, line, column
// and field, plus warnings about what would not work in a cluster or should not be deployed. Errors make
// it exit 1; warnings too with --strict (as `helm lint --strict`). This module is light (help,
// arguments); validate-report.ts, which compiles, loads when there is something to validate.
import { bool } from '../args/flag-types.js';
import { type Flag, renderHelp } from '../args/flags.js';
import { unreadablePaths } from '../sources/manifest-paths.js';
import { type CommandIo, commandLine, PROCESS_IO } from './io.js';
import type { ValidateReport } from './validate-report.js';

export type { ValidateReport } from './validate-report.js';

export const VALIDATE_FLAGS = [
  { key: 'strict', flag: 'strict', type: bool, help: 'exit 1 on warnings too (for CI)' },
] as const satisfies readonly Flag[];

export const VALIDATE_HELP = renderHelp({
  usage: ['gatehouse validate [--strict] <file|dir>...'],
  about: [
    'Checks AuthPolicy and Secret manifests as serve would compile them, offline (no key set is',
    'fetched, no Redis contacted), and warns about what would not work in a cluster (a Secret',
    'without the gatehouse.dev/credential label, an apiKey selector that selects no Secret) or',
    'should not be deployed (placeholder secrets). Prints one line per problem',
    '(file:line:column: field: message) and a count. Exits 0 when there is no error (no warning',
    'either with --strict), 1 otherwise, 2 when the command line is wrong.',
  ].join('\n'),
  sections: [{ title: 'flags', rows: VALIDATE_FLAGS }],
});

const COMMAND = 'gatehouse validate';

export async function runValidate(argv: readonly string[], io: CommandIo = PROCESS_IO): Promise<number> {
  const line = commandLine(VALIDATE_FLAGS, argv, io, VALIDATE_HELP, { command: COMMAND, positionals: true });
  if (typeof line === 'number') return line;
  if (line.positionals.length === 0) {
    io.stderr(`${COMMAND}: give at least one file or directory\n`);
    return 2;
  }
  const unreadable = unreadablePaths(line.positionals);
  for (const p of unreadable) io.stderr(`${COMMAND}: ${p}\n`);
  if (unreadable.length > 0) return 2;
  const report = await validatePaths(line.positionals);
  for (const l of report.lines) io.stdout(l + '\n');
  io.stdout(`${count(report.policies, 'policy', 'policies')}, ${count(report.secrets, 'secret', 'secrets')}, ${count(report.errors, 'error', 'errors')}, ${count(report.warnings, 'warning', 'warnings')}\n`);
  return report.errors > 0 || (line.values.strict && report.warnings > 0) ? 1 : 0;
}

function count(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** Every problem `serve` would find in the manifests under `paths`, found offline, and validate's warnings. */
export async function validatePaths(paths: readonly string[], clock: () => number = Date.now): Promise<ValidateReport> {
  return (await import('./validate-report.js')).validatePaths(paths, clock);
}
