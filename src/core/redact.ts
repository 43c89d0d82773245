// Credentials shown in an explanation are redacted: the values of headers, query parameters and cookies
// that a method reads its credential from or that are named like one, every cookie value, and anything
// shaped like a JWT wherever it appears (a token in a Location URL, an upstream token header).
import type { HeaderPair } from './identity.js';

export const REDACTED = '[redacted]';

/** Names that carry credentials whoever reads them. */
const SENSITIVE = /authorization|cookie|token|secret|passw|api[-_]?key|session|signature|^key$|^code$|^x-amz-security/i;
const JWT = /[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g;

/** Where a request's credentials sit, as methods report them (`header:apikey`, `query:key`, `cookie:sid`). */
export class Redactor {
  readonly #locations: ReadonlySet<string>;

  constructor(locations: Iterable<string> = []) {
    this.#locations = new Set(locations);
  }

  /** A request or response header as an explanation shows it. */
  header(h: HeaderPair): HeaderPair {
    const name = h.name;
    if (name === 'cookie') return { name, value: redactCookies(h.value) };
    if (name === 'set-cookie') return { name, value: redactSetCookie(h.value) };
    if (this.#locations.has(`header:${name}`) || SENSITIVE.test(name)) return { name, value: redactValue(h.value) };
    return { name, value: scrub(h.value) };
  }

  headers(list: readonly HeaderPair[]): HeaderPair[] {
    return list.map((h) => this.header(h));
  }

  /** A response body: tokens in it (a login URL with a hint) replaced. */
  body(text: string): string {
    return scrub(text);
  }

  /** A raw query string with credential parameters redacted. */
  query(raw: string): string {
    if (raw === '') return '';
    return raw
      .split('&')
      .map((part) => {
        const eq = part.indexOf('=');
        if (eq === -1) return scrub(part);
        const name = decodeLoosely(part.slice(0, eq));
        const value = part.slice(eq + 1);
        if (value === '' || !(this.#locations.has(`query:${name}`) || SENSITIVE.test(name))) return scrub(part);
        return `${part.slice(0, eq)}=${REDACTED}`;
      })
      .join('&');
  }
}

/** JWT-shaped substrings replaced. */
export function scrub(value: string): string {
  return value.replace(JWT, REDACTED);
}

/** `Bearer abc` keeps its scheme: `Bearer [redacted]`. */
function redactValue(value: string): string {
  if (value === '') return value;
  const m = /^([A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]*) +\S/.exec(value);
  return m === null ? REDACTED : `${m[1]} ${REDACTED}`;
}

function redactCookies(value: string): string {
  return value
    .split(';')
    .map((part) => {
      const eq = part.indexOf('=');
      return eq === -1 ? part.trim() : `${part.slice(0, eq).trim()}=${REDACTED}`;
    })
    .join('; ');
}

/** The cookie value goes; name and attributes stay. An expiring (empty) cookie is shown as it is. */
function redactSetCookie(value: string): string {
  const semi = value.indexOf(';');
  const pair = semi === -1 ? value : value.slice(0, semi);
  const eq = pair.indexOf('=');
  if (eq === -1 || eq === pair.length - 1) return value;
  return `${pair.slice(0, eq)}=${REDACTED}${semi === -1 ? '' : value.slice(semi)}`;
}

function decodeLoosely(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s;
  }
}
