// `gatehouse explain`: why a request is allowed or refused, told phase by phase by the pipeline that
// serve runs, over policy files, in a dry run. This module is light (flags, help); explain-run.ts loads
// and decides once the command line is good.
import { bool, no, ok, text, type ValueType } from '../args/flag-types.js';
import { type Flag, renderHelp } from '../args/flags.js';
import { DEFAULT_DECISION_FLAG, POLICIES_FLAG, REDIS_URL_FLAG } from '../service/settings.js';
import { type CommandIo, commandLine, PROCESS_IO } from './io.js';

/** `-H 'name: value'`, repeatable, as curl writes it. */
export const headerLines: ValueType<readonly (readonly [string, string])[]> = {
  metavar: "'<name>: <value>'",
  parse: (texts) => {
    const out: [string, string][] = [];
    for (const t of texts) {
      const colon = t.indexOf(':');
      const name = colon <= 0 ? '' : t.slice(0, colon).trim();
      if (name === '') return no(`"${t}" is not name: value`);
      out.push([name, t.slice(colon + 1).trim()]);
    }
    return ok(out);
  },
};

export const EXPLAIN_FLAGS = [
  { ...POLICIES_FLAG, required: true },
  { key: 'host', flag: 'host', type: text, metavar: '<host>', required: true, help: 'the request host (a :port is ignored)' },
  { key: 'path', flag: 'path', type: text, metavar: '<path>', fallback: '/', help: 'the request path as sent, query included' },
  { key: 'method', flag: 'method', type: text, metavar: '<method>', fallback: 'GET', help: 'the request method' },
  { key: 'headers', flag: 'header', short: 'H', type: headerLines, help: 'a request header (repeatable); credentials are shown redacted' },
  { key: 'json', flag: 'json', type: bool, help: 'print the explanation as JSON' },
  {
    key: 'offline', flag: 'offline', type: bool,
    help: 'fetch no key set and ask no identity provider (their methods then answer as serve does when they cannot be reached)',
  },
  DEFAULT_DECISION_FLAG,
  REDIS_URL_FLAG,
] as const satisfies readonly Flag[];

export const EXPLAIN_HELP = renderHelp({
  usage: ["gatehouse explain --policies <file|dir> --host <host> [--path <path>] [--method <method>] [-H 'name: value']... [--json]"],
  about: [
    'Decides one request exactly as serve would with these policy files, and prints how: the policies',
    'routing considered and why one won, skip rules, each authentication method, the anonymous consumer,',
    'each authorization rule, the answer (status, headers set and removed, response headers), and every',
    'shadow policy evaluated beside it. A dry run: no session is created or ended, no token refreshed,',
    'nothing written to Redis. Credentials are shown redacted. Exits 0 once explained, whatever the answer.',
  ].join('\n'),
  sections: [{ title: 'flags', rows: EXPLAIN_FLAGS }],
});

export async function runExplain(argv: readonly string[], io: CommandIo = PROCESS_IO): Promise<number> {
  const line = commandLine(EXPLAIN_FLAGS, argv, io, EXPLAIN_HELP, { command: 'gatehouse explain' });
  if (typeof line === 'number') return line;
  return (await import('./explain-run.js')).explainCommand(line.values, io);
}
