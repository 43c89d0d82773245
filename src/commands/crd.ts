// `gatehouse crd`: the AuthPolicy CustomResourceDefinition, generated from the schema serve validates with.
import { renderHelp } from '../args/flags.js';
import { type CommandIo, commandLine, PROCESS_IO } from './io.js';

export const CRD_HELP = renderHelp({
  usage: ['gatehouse crd'],
  about: 'Prints the AuthPolicy CustomResourceDefinition (YAML), generated from the policy schema.',
  sections: [],
});

export async function runCrd(argv: readonly string[], io: CommandIo = PROCESS_IO): Promise<number> {
  const line = commandLine([], argv, io, CRD_HELP, { command: 'gatehouse crd' });
  if (typeof line === 'number') return line;
  // The schema modules load only now: --help and usage errors answer without them.
  const { authPolicyCrdYaml } = await import('../policy/crd.js');
  io.stdout(authPolicyCrdYaml());
  return 0;
}
