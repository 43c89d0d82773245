// `gatehouse explain` once its command line is read (explain.ts): load the policy files as serve does,
// decide the request in a dry run, print the explanation.
import { explain } from '../core/explain.js';
import { readRequest } from '../core/explain-request.js';
import { Pipeline } from '../core/pipeline.js';
import type { FlagValues } from '../args/flags.js';
import { withPolicies } from './explain-policies.js';
import { renderExplanation } from './explain-report.js';
import type { EXPLAIN_FLAGS } from './explain.js';
import type { CommandIo } from './io.js';

const COMMAND = 'gatehouse explain';

export async function explainCommand(flags: FlagValues<typeof EXPLAIN_FLAGS>, io: CommandIo): Promise<number> {
  const headers: Record<string, string[]> = {};
  for (const [name, value] of flags.headers) (headers[name] ??= []).push(value);
  const read = readRequest({ method: flags.method, host: flags.host, path: flags.path, headers });
  if (!read.ok) {
    for (const p of read.problems) io.stderr(`${COMMAND}: ${p}\n`);
    return 2;
  }
  const options = { online: !flags.offline, redisUrl: flags.redisUrl, env: io.env };
  return withPolicies(flags.policies, options, io, COMMAND, async (loaded) => {
    const explanation = await explain(new Pipeline({ onNoPolicy: flags.defaultDecision }), loaded.index, read.init, Date.now());
    io.stdout(flags.json ? `${JSON.stringify(explanation, null, 2)}\n` : renderExplanation(explanation));
    return 0;
  });
}
