// `gatehouse token mint|revoke`: issue a token with a policy's jwt method, or revoke tokens in the
// Redis revocation list every replica reads. Policies and Secrets are read from files, exactly as
// `serve --policies` would compile them.
// This module is light (tables, help, parsing): token-run.ts, which compiles policies and dials Redis,
// loads once the command line is known to be good.
import { closest } from '../core/did-you-mean.js';
import { bool, duration, last, list, no, ok, optional, text, type ValueType } from '../args/flag-types.js';
import { type Flag, renderHelp, UsageError } from '../args/flags.js';
import { POLICIES_FLAG, REDIS_URL_FLAG } from '../service/settings.js';
import { type CommandIo, commandLine, PROCESS_IO, usageFailed } from './io.js';

export type { CommandIo } from './io.js';

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/** `--claim name=value`, repeatable. */
const claims: ValueType<Readonly<Record<string, string>>> = {
  metavar: '<name=value>',
  parse: (texts) => {
    const entries: [string, string][] = [];
    for (const c of texts) {
      const eq = c.indexOf('=');
      if (eq <= 0) return no(`"${c}" is not name=value`);
      entries.push([c.slice(0, eq), c.slice(eq + 1)]);
    }
    // fromEntries defines own properties: a claim named __proto__ stays a claim.
    return ok(Object.fromEntries(entries));
  },
};

/** `--before`: an RFC 3339 time (epoch ms), or now. */
const instant: ValueType<number | 'now'> = {
  metavar: '<time|now>',
  parse: (texts) => {
    const v = last(texts);
    if (v === '' || v === 'now') return ok('now');
    const ms = RFC3339.test(v) ? Date.parse(v) : Number.NaN;
    return Number.isNaN(ms) ? no(`"${v}" is not an RFC 3339 time such as 2025-01-31T12:00:00Z, or now`) : ok(ms);
  },
};

// The policy files (and, for revoke, the Redis) are read exactly as serve reads them, variables included.
export const COMMON = [
  { ...POLICIES_FLAG, required: true },
  { key: 'policy', flag: 'policy', type: text, metavar: '<namespace/name>', required: true, help: 'the AuthPolicy that holds the jwt method' },
  { key: 'method', flag: 'method', type: text, metavar: '<name>', required: true, help: 'the name of its jwt method' },
] as const satisfies readonly Flag[];

export const MINT_FLAGS = [
  ...COMMON,
  { key: 'consumer', flag: 'consumer', type: text, metavar: '<id>', required: true, help: 'the consumer id (the token subject)' },
  { key: 'username', flag: 'username', type: optional(text), help: 'the consumer username' },
  { key: 'customId', flag: 'custom-id', type: optional(text), help: 'the consumer custom id' },
  { key: 'groups', flag: 'groups', type: list, help: 'the consumer groups (repeatable, or comma separated)' },
  { key: 'claims', flag: 'claim', type: claims, help: 'an extra claim (repeatable)' },
  { key: 'ttlMs', flag: 'ttl', type: duration(1), fallback: '1h', help: 'lifetime of the token (at most the method maxLifetime)' },
  { key: 'json', flag: 'json', type: bool, help: 'print {"token", "jti", "expiresAt"} as JSON instead of the token alone' },
] as const satisfies readonly Flag[];

export const REVOKE_FLAGS = [
  ...COMMON,
  { key: 'jti', flag: 'jti', type: optional(text), metavar: '<id>', help: 'revoke the token with this jti' },
  { key: 'consumer', flag: 'consumer', type: optional(text), metavar: '<id>', help: 'or revoke the tokens of this consumer' },
  { key: 'before', flag: 'before', type: instant, fallback: 'now', help: 'with --consumer: revoke the tokens issued before this time' },
  {
    key: 'ttlMs', flag: 'ttl', type: optional(duration(1)),
    help: "how long the revocation is kept; default the method's maxLifetime + clockSkew (required for --jti without maxLifetime)",
  },
  REDIS_URL_FLAG,
] as const satisfies readonly Flag[];

/** Each subcommand's table (its help lists every row). */
export const TOKEN_FLAGS = { mint: MINT_FLAGS, revoke: REVOKE_FLAGS } as const;

export const TOKEN_HELP = renderHelp({
  usage: ['gatehouse token mint [flags]', 'gatehouse token revoke [flags]'],
  about: [
    "mint prints a token signed with the method's signingKeyRef or HMAC secret.",
    'revoke writes to the Redis revocation list every replica reads (give --jti or --consumer); an',
    'in-memory list lives only inside a serving process.',
  ].join('\n'),
  sections: [
    { title: 'mint flags', rows: MINT_FLAGS },
    { title: 'revoke flags', rows: REVOKE_FLAGS },
  ],
});

const READ = { command: 'gatehouse token' } as const;
const SUBCOMMANDS = ['mint', 'revoke'];

export async function runTokenCommand(argv: readonly string[], io: CommandIo = PROCESS_IO): Promise<number> {
  const [sub, ...rest] = argv;
  try {
    switch (sub) {
      case 'mint': {
        const line = commandLine(MINT_FLAGS, rest, io, TOKEN_HELP, READ);
        return typeof line === 'number' ? line : await (await import('./token-run.js')).mint(line.values, io);
      }
      case 'revoke': {
        const line = commandLine(REVOKE_FLAGS, rest, io, TOKEN_HELP, READ);
        return typeof line === 'number' ? line : await (await import('./token-run.js')).revoke(line.values, io);
      }
      case 'help':
      case '--help':
      case '-h':
        io.stdout(TOKEN_HELP);
        return 0;
      case undefined:
        throw new UsageError(['give a token command: mint or revoke (gatehouse token --help)']);
      default: {
        const near = closest(sub, SUBCOMMANDS);
        throw new UsageError([`unknown token command "${sub}"${near === undefined ? '' : `; did you mean ${near}?`} (gatehouse token --help)`]);
      }
    }
  } catch (e) {
    return usageFailed(e, io, READ.command);
  }
}
