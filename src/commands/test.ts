// `gatehouse test <tests>... --policies <files>...`: requests with the answers expected (YAML files, see
// docs/policy-tests.md), decided offline exactly as serve decides; a table, JSON or JUnit XML; exit 1
// on any mismatch. This module is light (flags, help); test-run.ts does the work.
import { bool, optional, text } from '../args/flag-types.js';
import { type Flag, renderHelp } from '../args/flags.js';
import { DEFAULT_DECISION_FLAG, POLICIES_FLAG } from '../service/settings.js';
import { type CommandIo, commandLine, PROCESS_IO } from './io.js';

export const TEST_FLAGS = [
  { ...POLICIES_FLAG, required: true },
  { key: 'json', flag: 'json', type: bool, help: 'print the results as JSON instead of a table' },
  { key: 'junit', flag: 'junit', type: optional(text), metavar: '<file>', help: 'also write the results as JUnit XML to this file' },
  DEFAULT_DECISION_FLAG,
] as const satisfies readonly Flag[];

export const TEST_HELP = renderHelp({
  usage: ['gatehouse test <tests file|dir>... --policies <file|dir>... [--json] [--junit <file>]'],
  about: [
    'Sends each request of the test files (documents of kind AuthPolicyTest) through the policies',
    'exactly as serve decides, offline and in a dry run, and compares the answer with the one expected.',
    'Credentials may be written out, read from the Secrets of the policy files, or minted with a',
    "policy's jwt method. Exits 1 when any test fails or cannot run, 0 when all pass.",
  ].join('\n'),
  sections: [{ title: 'flags', rows: TEST_FLAGS }],
});

export async function runTest(argv: readonly string[], io: CommandIo = PROCESS_IO): Promise<number> {
  const line = commandLine(TEST_FLAGS, argv, io, TEST_HELP, { command: 'gatehouse test', positionals: true });
  if (typeof line === 'number') return line;
  if (line.positionals.length === 0) {
    io.stderr('gatehouse test: give at least one tests file or directory\n');
    return 2;
  }
  return (await import('./test-run.js')).testCommand(line.positionals, line.values, io);
}
