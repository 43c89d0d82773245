// Label and field selectors with the grammar and semantics of k8s.io/apimachinery (labels.Parse,
// fields.ParseSelector), so a selector the real server refuses is refused here too (400).
import { ApiError } from './status.js';

export type LabelRequirement =
  | { readonly op: 'exists' | 'notexists'; readonly key: string }
  | { readonly op: 'in' | 'notin'; readonly key: string; readonly values: ReadonlySet<string> }
  | { readonly op: 'gt' | 'lt'; readonly key: string; readonly bound: number };

export type Labels = Readonly<Record<string, string>>;

type Token =
  | { readonly t: 'ident'; readonly v: string }
  | { readonly t: '!' | '=' | '==' | '!=' | '(' | ')' | ',' | '>' | '<' };

const SPECIAL = new Set(['!', '=', '(', ')', ',', '>', '<']);
const NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function selectorError(selector: string, why: string): ApiError {
  return new ApiError(400, 'BadRequest', `unable to parse requirement: ${why} (in selector "${selector}")`);
}

/** Why a label key is invalid, or undefined when it is a valid qualified name. */
export function labelKeyProblem(key: string): string | undefined {
  const slash = key.lastIndexOf('/');
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (prefix !== undefined && (prefix.length === 0 || prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix))) {
    return `key "${key}": the prefix must be a DNS subdomain`;
  }
  if (name.length === 0 || name.length > 63 || !NAME.test(name)) {
    return `key "${key}": name part must be 63 characters or less, alphanumeric, '-', '_' or '.'`;
  }
  return undefined;
}

export function labelValueProblem(value: string): string | undefined {
  if (value === '') return undefined;
  if (value.length > 63 || !NAME.test(value)) {
    return `value "${value}": must be 63 characters or less, alphanumeric, '-', '_' or '.'`;
  }
  return undefined;
}

function lex(selector: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < selector.length) {
    const c = selector[i] as string;
    if (/\s/.test(c)) {
      i++;
    } else if (c === '!' || c === '=') {
      const two = selector[i + 1] === '=';
      tokens.push({ t: c === '!' ? (two ? '!=' : '!') : two ? '==' : '=' });
      i += two ? 2 : 1;
    } else if (SPECIAL.has(c)) {
      tokens.push({ t: c as '(' | ')' | ',' | '>' | '<' });
      i++;
    } else {
      let j = i;
      while (j < selector.length && !SPECIAL.has(selector[j] as string) && !/\s/.test(selector[j] as string)) j++;
      tokens.push({ t: 'ident', v: selector.slice(i, j) });
      i = j;
    }
  }
  return tokens;
}

class LabelParser {
  private pos = 0;
  constructor(
    private readonly selector: string,
    private readonly tokens: Token[],
  ) {}

  parse(): LabelRequirement[] {
    const out: LabelRequirement[] = [];
    if (this.tokens.length === 0) return out;
    for (;;) {
      out.push(this.requirement());
      const next = this.tokens[this.pos];
      if (next === undefined) return out;
      if (next.t !== ',') throw this.fail(`found '${this.show(next)}', expected ','`);
      this.pos++;
    }
  }

  private show(token: Token | undefined): string {
    if (token === undefined) return 'end of string';
    return token.t === 'ident' ? token.v : token.t;
  }

  private fail(why: string): ApiError {
    return selectorError(this.selector, why);
  }

  private ident(what: string): string {
    const token = this.tokens[this.pos];
    if (token?.t !== 'ident') throw this.fail(`found '${this.show(token)}', expected ${what}`);
    this.pos++;
    return token.v;
  }

  private key(): string {
    const key = this.ident('a label key');
    const problem = labelKeyProblem(key);
    if (problem !== undefined) throw this.fail(problem);
    return key;
  }

  private value(): string {
    const token = this.tokens[this.pos];
    const value = token?.t === 'ident' ? (this.pos++, token.v) : '';
    const problem = labelValueProblem(value);
    if (problem !== undefined) throw this.fail(problem);
    return value;
  }

  private requirement(): LabelRequirement {
    if (this.tokens[this.pos]?.t === '!') {
      this.pos++;
      return { op: 'notexists', key: this.key() };
    }
    const key = this.key();
    const token = this.tokens[this.pos];
    if (token === undefined || token.t === ',') return { op: 'exists', key };
    this.pos++;
    switch (token.t) {
      case '=':
      case '==':
        return { op: 'in', key, values: new Set([this.value()]) };
      case '!=':
        return { op: 'notin', key, values: new Set([this.value()]) };
      case '>':
      case '<': {
        const raw = this.ident('an integer');
        if (!/^-?[0-9]+$/.test(raw)) throw this.fail(`for 'gt', 'lt' operators, the value must be an integer`);
        return { op: token.t === '>' ? 'gt' : 'lt', key, bound: Number(raw) };
      }
      case 'ident':
        if (token.v === 'in' || token.v === 'notin') return { op: token.v, key, values: this.valueSet() };
        throw this.fail(`found '${token.v}', expected one of: in, notin, =, ==, !=, gt, lt`);
      default:
        // '!', '(' and ')' cannot follow a key.
        throw this.fail(`found '${token.t}', expected one of: in, notin, =, ==, !=, gt, lt`);
    }
  }

  private valueSet(): ReadonlySet<string> {
    if (this.tokens[this.pos]?.t !== '(') throw this.fail(`found '${this.show(this.tokens[this.pos])}', expected '('`);
    this.pos++;
    const values = new Set<string>();
    for (;;) {
      values.add(this.value());
      const token = this.tokens[this.pos];
      this.pos++;
      if (token?.t === ')') break;
      if (token?.t !== ',') throw this.fail(`found '${this.show(token)}', expected ',' or ')'`);
    }
    if (values.size === 1 && values.has('')) throw this.fail(`for 'in', 'notin' operators, values set can't be empty`);
    return values;
  }
}

export class LabelSelector {
  private constructor(readonly requirements: readonly LabelRequirement[]) {}

  static parse(selector: string | null | undefined): LabelSelector {
    const text = selector ?? '';
    return new LabelSelector(new LabelParser(text, lex(text)).parse());
  }

  get empty(): boolean {
    return this.requirements.length === 0;
  }

  matches(labels: Labels): boolean {
    return this.requirements.every((r) => {
      const has = Object.hasOwn(labels, r.key);
      const value = has ? labels[r.key] : undefined;
      switch (r.op) {
        case 'exists':
          return has;
        case 'notexists':
          return !has;
        case 'in':
          return value !== undefined && r.values.has(value);
        case 'notin':
          return value === undefined || !r.values.has(value);
        case 'gt':
        case 'lt': {
          if (value === undefined || !/^-?[0-9]+$/.test(value)) return false;
          return r.op === 'gt' ? Number(value) > r.bound : Number(value) < r.bound;
        }
        default: {
          const never: never = r;
          return never;
        }
      }
    });
  }
}

export interface FieldRequirement {
  readonly field: string;
  readonly op: '=' | '!=';
  readonly value: string;
}

/** Splits on an unescaped separator; "\," "\=" "\!" and "\\" are escapes, as in fields.ParseSelector. */
function splitUnescaped(text: string, separator: string): string[] {
  const parts: string[] = [];
  let current = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (c === '\\' && i + 1 < text.length) {
      current += c + (text[i + 1] as string);
      i++;
    } else if (c === separator) {
      parts.push(current);
      current = '';
    } else {
      current += c;
    }
  }
  parts.push(current);
  return parts;
}

function unescapeField(text: string): string {
  return text.replace(/\\(.)/g, '$1');
}

export class FieldSelector {
  private constructor(readonly requirements: readonly FieldRequirement[]) {}

  /** `supported` lists the field labels this resource can be selected by. */
  static parse(selector: string | null | undefined, supported: readonly string[]): FieldSelector {
    const text = selector ?? '';
    if (text.trim() === '') return new FieldSelector([]);
    const requirements = splitUnescaped(text, ',').map((term): FieldRequirement => {
      const match = /^(.*?)(!=|==|=)(.*)$/s.exec(term);
      if (match === null) {
        throw new ApiError(400, 'BadRequest', `invalid selector: '${text}'; can't understand '${term}'`);
      }
      const field = unescapeField((match[1] as string).trim());
      if (!supported.includes(field)) {
        throw new ApiError(
          400,
          'BadRequest',
          `field label not supported: ${field} (supported: ${supported.join(', ')})`,
        );
      }
      return { field, op: match[2] === '!=' ? '!=' : '=', value: unescapeField((match[3] as string).trim()) };
    });
    return new FieldSelector(requirements);
  }

  get empty(): boolean {
    return this.requirements.length === 0;
  }

  matches(fields: (field: string) => string): boolean {
    return this.requirements.every((r) => (fields(r.field) === r.value) === (r.op === '='));
  }
}
