// Patterns of claim rules, compiled once when the policy compiles. The values they are tested against
// come from tokens, so patterns that can backtrack catastrophically are refused up front and long
// values never reach the regex engine.

/** Values longer than this never match a pattern: bounds the work one request can cause. */
export const MAX_MATCHED_LENGTH = 1024;

export type CompiledPattern = { readonly ok: true; readonly regex: RegExp } | { readonly ok: false; readonly problem: string };

/** ECMAScript regex in unicode mode, no flags, no implicit anchors (`^...$` is up to the author). */
export function compilePattern(source: string): CompiledPattern {
  let regex: RegExp;
  try {
    regex = new RegExp(source, 'u');
  } catch (err) {
    // V8 says `Invalid regular expression: /<source>/u: <reason>`; the field path already names it.
    const reason = (err instanceof Error ? err.message : String(err)).replace(/^Invalid regular expression: \/.*\/u: /s, '');
    return { ok: false, problem: `not a valid regular expression (${reason})` };
  }
  const unsafe = unsafeConstruct(source);
  return unsafe === undefined ? { ok: true, regex } : { ok: false, problem: unsafe };
}

/** Whether a string value matches; anything too long does not. */
export function matches(regex: RegExp, value: string): boolean {
  return value.length <= MAX_MATCHED_LENGTH && regex.test(value);
}

interface Group {
  /** The group holds an unbounded quantifier (`*`, `+`, `{n,}`) somewhere inside. */
  repeats: boolean;
}

/**
 * The usual causes of exponential backtracking, found by a scan of an already valid pattern:
 * an unbounded quantifier applied to a group that itself holds one (`(a+)+`, `(\w*\s?)*`), and
 * backreferences. A heuristic, as in safe-regex: it does not prove a pattern fast.
 */
function unsafeConstruct(source: string): string | undefined {
  const stack: Group[] = [{ repeats: false }];
  let i = 0;
  while (i < source.length) {
    const c = source[i];
    const top = stack[stack.length - 1] as Group;
    if (c === '\\') {
      const next = source[i + 1] ?? '';
      if (/[1-9]/.test(next) || (next === 'k' && source[i + 2] === '<')) return 'backreferences are not allowed (they can backtrack exponentially)';
      // \u{...}, \p{...}: the braces belong to the escape, not to a quantifier.
      i = 'upP'.includes(next) && source[i + 2] === '{' ? source.indexOf('}', i) + 1 : i + 2;
      i = quantified(source, i, top, undefined);
    } else if (c === '[') {
      i = quantified(source, classEnd(source, i), top, undefined);
    } else if (c === '(') {
      stack.push({ repeats: false });
      i = groupBodyStart(source, i);
    } else if (c === ')') {
      const group = stack.pop() as Group;
      const parent = stack[stack.length - 1] as Group;
      const end = quantified(source, i + 1, parent, group);
      if (end < 0) return 'a repeated group holds a repeated part, e.g. (a+)+: it can backtrack exponentially';
      i = end;
    } else {
      i = quantified(source, i + 1, top, undefined);
    }
  }
  return undefined;
}

/**
 * Reads the quantifier (if any) after an atom ending before `i` and records it in `frame`. Returns
 * where scanning goes on, or -1 when an unbounded quantifier applies to a group that repeats inside.
 */
function quantified(source: string, i: number, frame: Group, group: Group | undefined): number {
  const rest = source.slice(i, i + 24);
  const q = /^(?:[*+?]|\{[0-9]+(,[0-9]*)?\})\??/.exec(rest);
  const unbounded = q !== null && (q[0][0] === '*' || q[0][0] === '+' || (q[1] !== undefined && q[1] === ','));
  if (unbounded && group?.repeats === true) return -1;
  if (unbounded || group?.repeats === true) frame.repeats = true;
  return i + (q === null ? 0 : q[0].length);
}

/** Index just past the `]` closing the class that opens at `i` (the pattern already compiled). */
function classEnd(source: string, i: number): number {
  let j = i + 1;
  while (j < source.length && source[j] !== ']') j += source[j] === '\\' ? 2 : 1;
  return j + 1;
}

/** Index of the first character inside a group opening at `i`, past `?:`, `?=`, `?<name>` and the like. */
function groupBodyStart(source: string, i: number): number {
  if (source[i + 1] !== '?') return i + 1;
  if (source[i + 2] === '<' && source[i + 3] !== '=' && source[i + 3] !== '!') return source.indexOf('>', i) + 1;
  return i + (source[i + 2] === '<' ? 4 : 3);
}
