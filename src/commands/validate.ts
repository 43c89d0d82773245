// `gatehouse validate`: the same parsing and compilation `serve` does, reported per file, document and
// field. Any problem (warnings included) makes it exit 1. This module is light (help, arguments);
// validate-report.ts, which compiles, loads when there is something to validate.
import { renderHelp } from '../args/flags.js';
import { type CommandIo, commandLine, PROCESS_IO } from './io.js';
import type { ValidateReport } from './validate-report.js';

export type { ValidateReport } from './validate-report.js';

export const VALIDATE_HELP = renderHelp({
  usage: ['gatehouse validate <file|dir>...'],
  about: [
    'Checks AuthPolicy and Secret manifests as serve would compile them, offline (no key set is',
    'fetched, no Redis contacted). Prints one line per problem (file#document: field: message) and',
    'a count; exits 1 when there is any problem, warnings included.',
  ].join('\n'),
  sections: [],
});

export async function runValidate(argv: readonly string[], io: CommandIo = PROCESS_IO): Promise<number> {
  const line = commandLine([], argv, io, VALIDATE_HELP, { command: 'gatehouse validate', positionals: true });
  if (typeof line === 'number') return line;
  if (line.positionals.length === 0) {
    io.stderr('gatehouse validate: give at least one file or directory\n');
    return 2;
  }
  const report = await validatePaths(line.positionals);
  for (const l of report.lines) io.stdout(l + '\n');
  io.stdout(`${report.policies} policies, ${report.secrets} secrets, ${report.problems} problems\n`);
  return report.problems === 0 ? 0 : 1;
}

/** Every problem `serve` would find in the manifests under `paths`, found offline. */
export async function validatePaths(paths: readonly string[], clock: () => number = Date.now): Promise<ValidateReport> {
  return (await import('./validate-report.js')).validatePaths(paths, clock);
}
