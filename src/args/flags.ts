// One table of flags per command drives everything about its command line: node:util parseArgs reads
// the syntax, each row says how its text becomes a value, whether a GATEHOUSE_* variable can give it,
// its default and its help line. Problems are collected in one pass and reported together.
import { parseArgs } from 'node:util';
import { closest } from '../core/did-you-mean.js';
import type { ValueType } from './flag-types.js';

// The command modules and the entry point reach the one "did you mean" through here.
export { closest } from '../core/did-you-mean.js';

export type Env = Readonly<Record<string, string | undefined>>;

export interface Flag<K extends string = string, T = unknown> {
  /** The name of the value in the result. */
  readonly key: K;
  /** `--flag`; its variable (when `env`) is GATEHOUSE_FLAG. */
  readonly flag: string;
  /** A one-letter form, `-H`, for flags typed often (as curl's). */
  readonly short?: string;
  readonly type: ValueType<T>;
  readonly help: string;
  /** The text used when neither the flag nor its variable is given; without one, the type sees no text. */
  readonly fallback?: string;
  /** Also read from the environment variable GATEHOUSE_<FLAG>. */
  readonly env?: boolean;
  /** Given neither way (or empty) is a usage error. */
  readonly required?: boolean;
  /** Help's placeholder for the value, when the type's is too vague (`<file|dir>`). */
  readonly metavar?: string;
}

type ValueOf<F> = F extends { readonly type: ValueType<infer T> } ? (F extends { readonly required: true } ? Exclude<T, undefined> : T) : never;

/** The typed result of a table: one property per row, named by its key. */
export type FlagValues<R extends readonly Flag[]> = { readonly [F in R[number] as F['key']]: ValueOf<F> };

/** Where a value came from: messages name what the user actually wrote. */
export type Source = 'flag' | 'env' | 'default';

export type CommandLine<R extends readonly Flag[]> =
  | { readonly help: true }
  | {
      readonly help: false;
      readonly values: FlagValues<R>;
      readonly positionals: readonly string[];
      readonly sources: ReadonlyMap<R[number]['key'], Source>;
    };

/** A command line that cannot be run as written (exit 2). Each problem is one line naming the flag. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
  readonly code = 'usage_invalid';
  constructor(readonly problems: readonly string[]) {
    super(problems.join('\n'));
  }
}

export const ENV_PREFIX = 'GATEHOUSE_';

export function envName(flag: string): string {
  return `${ENV_PREFIX}${flag.toUpperCase().replace(/-/g, '_')}`;
}

/** `--flag (GATEHOUSE_FLAG)`, or `--flag` for a row without a variable. */
export function flagNames(row: Flag): string {
  return row.env === true ? `--${row.flag} (${envName(row.flag)})` : `--${row.flag}`;
}

/** The name the user wrote first, the other in parentheses: `GATEHOUSE_LOG_LEVEL (--log-level)`. */
export function givenAs(row: Flag, source: Source): string {
  return source === 'env' ? `${envName(row.flag)} (--${row.flag})` : flagNames(row);
}

export interface ReadOptions {
  /** `gatehouse serve`: named in the hint of an unknown flag. */
  readonly command: string;
  /** Arguments that are not flags are allowed (else each is a problem). */
  readonly positionals?: boolean;
}

/**
 * Reads `argv` (and, for rows with `env`, the environment) against `rows`: flag beats variable beats
 * default. `--help`/`-h` anywhere asks for help and nothing else is checked. Throws a UsageError
 * listing every problem: unknown flags (with the nearest known one), missing and invalid values.
 */
export function readCommandLine<const R extends readonly Flag[]>(rows: R, argv: readonly string[], env: Env, options: ReadOptions): CommandLine<R> {
  const byFlag = new Map<string, Flag>(rows.map((r) => [r.flag, r]));
  const config: Record<string, { type: 'string' | 'boolean'; multiple: boolean; short?: string }> = {
    help: { type: 'boolean', multiple: true, short: 'h' },
  };
  for (const r of rows) config[r.flag] = { type: r.type.metavar === '' ? 'boolean' : 'string', multiple: true, ...(r.short === undefined ? {} : { short: r.short }) };
  // Not strict: parseArgs only splits the syntax; unknown flags and missing values are reported here,
  // in this CLI's words and all at once.
  const { tokens } = parseArgs({ args: [...argv], options: config, strict: false, allowPositionals: true, tokens: true });
  const given = new Map<string, string[]>();
  const positionals: string[] = [];
  const problems: string[] = [];
  const reported = new Set<number>();
  // Flags already reported as written wrongly: their value is not checked as well.
  const flawed = new Set<string>();
  // `--grpc-adress 1.2.3.4:9001`: the word after an unknown flag is its value, not one more problem.
  let valueOfUnknown = -1;
  for (const t of tokens) {
    if (t.kind === 'option-terminator') continue;
    if (t.kind === 'positional') {
      if (t.index === valueOfUnknown) continue;
      positionals.push(t.value);
      if (options.positionals !== true) problems.push(`unexpected argument "${t.value}"`);
      continue;
    }
    if (t.name === 'help') return { help: true };
    const named = byFlag.get(t.name);
    const written = named !== undefined && (t.rawName === `--${named.flag}` || (named.short !== undefined && t.rawName === `-${named.short}`));
    const row = written ? named : undefined;
    if (row === undefined) {
      // `-abc` is three tokens of one argument: one report for it.
      if (!reported.has(t.index)) problems.push(unknownFlag(t.rawName.startsWith('--') ? t.rawName : (argv[t.index] ?? t.rawName).split('=')[0] ?? '', rows, options.command));
      reported.add(t.index);
      if (t.inlineValue !== true) valueOfUnknown = t.index + 1;
      continue;
    }
    let value = t.value;
    if (row.type.metavar === '') value ??= 'true';
    else if (value === undefined) {
      problems.push(`--${row.flag} needs a value`);
      flawed.add(row.flag);
      continue;
    } else if (t.inlineValue !== true && /^-./.test(value)) {
      // `--policies --kubernetes`: parseArgs takes the next flag as the value; most likely a forgotten one.
      problems.push(`--${row.flag} needs a value; "${value}" looks like a flag (write --${row.flag}=${value} if it is the value)`);
      flawed.add(row.flag);
      continue;
    }
    given.set(row.flag, [...(given.get(row.flag) ?? []), value]);
  }
  const values: Record<string, unknown> = {};
  const sources = new Map<string, Source>();
  for (const row of rows) {
    if (flawed.has(row.flag)) continue;
    const fromFlag = given.get(row.flag);
    const fromEnv = row.env === true ? env[envName(row.flag)] : undefined;
    const source: Source = fromFlag !== undefined ? 'flag' : fromEnv !== undefined ? 'env' : 'default';
    const texts = fromFlag ?? (fromEnv !== undefined ? [fromEnv] : row.fallback !== undefined ? [row.fallback] : []);
    sources.set(row.key, source);
    if (row.required === true && texts.every((x) => x.trim() === '')) {
      problems.push(`${flagNames(row)} is required`);
      continue;
    }
    const parsed = row.type.parse(texts);
    if (parsed.ok) values[row.key] = parsed.value;
    else problems.push(`invalid ${givenAs(row, source)}: ${parsed.why}`);
  }
  if (problems.length > 0) throw new UsageError(problems);
  // Every row put its parsed value under its key above, which is what FlagValues<R> describes.
  return { help: false, values: values as FlagValues<R>, positionals, sources };
}

function unknownFlag(written: string, rows: readonly Flag[], command: string): string {
  const near = closest(written.replace(/^-+/, ''), [...rows.map((r) => r.flag), 'help']);
  return near === undefined ? `unknown flag ${written} (${command} --help lists the flags)` : `unknown flag ${written}; did you mean --${near}?`;
}

// Kubernetes gives every container variables for each Service in its namespace (unless the pod sets
// enableServiceLinks: false); for a Service named gatehouse they start with GATEHOUSE_. Recognised by
// name and by value, so a misspelt setting that merely ends in _PORT is still reported.
const HOST = /^[0-9.]+$|^[0-9a-fA-F:]+$/;
const PORT = /^[0-9]{1,5}$/;
const SERVICE_LINKS: readonly (readonly [RegExp, RegExp])[] = [
  [/_SERVICE_HOST$/, HOST],
  [/_SERVICE_PORT(_[A-Z0-9_]+)?$/, PORT],
  [/_PORT(_[0-9]+_(TCP|UDP|SCTP))?$/, /^(tcp|udp|sctp):\/\/[0-9a-fA-F.:[\]]+:[0-9]{1,5}$/],
  [/_PORT_[0-9]+_(TCP|UDP|SCTP)_PROTO$/, /^(tcp|udp|sctp)$/],
  [/_PORT_[0-9]+_(TCP|UDP|SCTP)_PORT$/, PORT],
  [/_PORT_[0-9]+_(TCP|UDP|SCTP)_ADDR$/, HOST],
];

/** One warning for each GATEHOUSE_* variable that no row reads (Service links aside), with the nearest name. */
export function strayVariables(env: Env, rows: readonly Flag[]): string[] {
  const known = rows.filter((r) => r.env === true).map((r) => envName(r.flag));
  const warnings: string[] = [];
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith(ENV_PREFIX) || known.includes(name)) continue;
    if (SERVICE_LINKS.some(([n, v]) => n.test(name) && v.test(value ?? ''))) continue;
    const near = closest(name.slice(ENV_PREFIX.length), known.map((k) => k.slice(ENV_PREFIX.length)));
    warnings.push(`${name} is not a setting and is ignored${near === undefined ? '' : `; did you mean ${ENV_PREFIX}${near}?`}`);
  }
  return warnings.sort();
}

export interface HelpText {
  /** Usage lines, without the `usage:` prefix. */
  readonly usage: readonly string[];
  /** Paragraphs under the usage, already wrapped. */
  readonly about: string;
  readonly sections: readonly { readonly title: string; readonly rows: readonly Flag[] }[];
}

/** Help generated from the tables: every row, with its variable and default, and -h/--help. */
export function renderHelp(help: HelpText): string {
  const lines = help.usage.map((u, i) => `${i === 0 ? 'usage: ' : '       '}${u}`);
  lines.push('', help.about);
  // -h/--help closes the last section (a "flags" section of its own for a command without flags).
  const sections = help.sections.length > 0 ? help.sections : [{ title: 'flags', rows: [] }];
  for (const section of sections) {
    lines.push('', `${section.title}:`);
    for (const r of section.rows) {
      const metavar = r.metavar ?? r.type.metavar;
      lines.push(`  ${r.short === undefined ? '' : `-${r.short}, `}--${r.flag}${metavar === '' ? '' : ` ${metavar}`}`, `      ${r.help}`);
      const more = [r.required === true ? 'required' : '', r.env === true ? envName(r.flag) : '', r.fallback === undefined || r.fallback === '' ? '' : `default ${r.fallback}`];
      if (more.some((m) => m !== '')) lines.push(`      ${more.filter((m) => m !== '').join(', ')}`);
    }
  }
  lines.push('  -h, --help', '      print this help', '');
  return lines.join('\n');
}
