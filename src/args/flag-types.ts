// How the text of a flag (or of its environment variable) becomes a typed value. A table row names
// one of these; the reason a text is refused goes into a message that names the flag and variable.
import { parseDuration } from '../core/duration.js';

export type Parsed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly why: string };

export interface ValueType<T> {
  /** Shown in help as `--flag <metavar>`; '' marks a switch (`--flag`, or `--flag=false`). */
  readonly metavar: string;
  /**
   * Every text given for the flag, in order; the variable's or the default's alone when the flag was
   * not given, and none when nothing was.
   */
  parse(texts: readonly string[]): Parsed<T>;
}

export const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
export const no = <T>(why: string): Parsed<T> => ({ ok: false, why });
export const last = (texts: readonly string[]): string => texts[texts.length - 1] ?? '';

/** The last text given, trimmed ('' when none). */
export const text: ValueType<string> = { metavar: '<text>', parse: (t) => ok(last(t).trim()) };

/** Comma separated and repeatable: `--x a,b --x c` is [a, b, c]. */
export const list: ValueType<readonly string[]> = {
  metavar: '<a,b,...>',
  parse: (t) => ok(t.flatMap((s) => s.split(',')).map((s) => s.trim()).filter((s) => s !== '')),
};

/** Repeatable, each text kept whole (commas included). */
export const texts: ValueType<readonly string[]> = { metavar: '<text>', parse: (t) => ok([...t]) };

export const bool: ValueType<boolean> = {
  metavar: '',
  parse: (t) => {
    const v = last(t).toLowerCase();
    if (['true', '1', 'yes'].includes(v)) return ok(true);
    if (['false', '0', 'no', ''].includes(v)) return ok(false);
    return no(`"${last(t)}" is not true or false`);
  },
};

export const address: ValueType<string> = {
  metavar: '<host:port>',
  parse: (t) => {
    const v = last(t);
    const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):([0-9]{1,5})$/.exec(v);
    return m === null || Number(m[2]) > 65535 ? no(`"${v}" is not host:port`) : ok(v);
  },
};

/** Go-style durations (250ms, 20s, 1m30s) in milliseconds, at least `minMs`. */
export function duration(minMs = 0): ValueType<number> {
  return {
    metavar: '<duration>',
    parse: (t) => {
      const v = last(t);
      const ms = parseDuration(v);
      if (ms === undefined) return no(`"${v}" is not a duration such as 250ms, 20s, 1m`);
      return ms < minMs ? no(`"${v}" is shorter than ${minMs}ms`) : ok(ms);
    },
  };
}

/** A whole number of bytes within [min, max]. */
export function bytes(min: number, max: number): ValueType<number> {
  return {
    metavar: '<bytes>',
    parse: (t) => {
      const v = last(t);
      const n = Number(v);
      return /^[0-9]+$/.test(v) && n >= min && n <= max ? ok(n) : no(`"${v}" is not a byte count between ${min} and ${max}`);
    },
  };
}

export function oneOf<C extends string>(choices: readonly C[]): ValueType<C> {
  return {
    metavar: `<${choices.join('|')}>`,
    parse: (t) => {
      const v = last(t);
      const found = choices.find((c) => c === v);
      return found === undefined ? no(`"${v}" is not one of ${choices.join(', ')}`) : ok(found);
    },
  };
}

/** `inner`, or undefined when nothing (or only an empty text) was given. */
export function optional<T>(inner: ValueType<T>): ValueType<T | undefined> {
  return { metavar: inner.metavar, parse: (t) => (last(t).trim() === '' ? ok(undefined) : inner.parse(t)) };
}
