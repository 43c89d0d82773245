// Collecting request headers into CheckInput's lowercase map under the size limits, the same way for
// every transport: one value and all headers together (names included) are bounded; beyond the bound
// the request is denied 431. Repeated fields are joined as RFC 9110 §5.3 says (cookies with `; `).
import { GatehouseError } from '../core/errors.js';

export class HeaderCollector {
  readonly headers: Map<string, string>;
  readonly #max: number;
  #total = 0;

  /** `headers`: fields already collected (joined), to be counted only. */
  constructor(maxHeaderBytes: number, headers = new Map<string, string>()) {
    this.#max = maxHeaderBytes;
    this.headers = headers;
  }

  /** Counts `size` bytes of a header's value (and its name) against the limits. */
  count(name: string, size: number): void {
    if (size > this.#max) throw tooLarge(name);
    this.#total += name.length + size;
    if (this.#total > this.#max) throw tooLarge('');
  }

  /** Adds a header whose size has been counted; `name` must be lowercase and not empty. */
  add(name: string, value: string): void {
    if (name === '') throw new GatehouseError('header_malformed', 'header with an empty name');
    joinField(this.headers, name, value);
  }
}

/** Adds a field to `headers`, a repeated one joined as RFC 9110 §5.3 says (cookies with `; `) and as Envoy joins it. */
export function joinField(headers: Map<string, string>, name: string, value: string): void {
  const prev = headers.get(name);
  headers.set(name, prev === undefined ? value : prev + (name === 'cookie' ? '; ' : ',') + value);
}

function tooLarge(name: string): GatehouseError {
  const detail = name === '' ? 'request headers exceed the size limit' : `header ${safeHeaderName(name)} exceeds the size limit`;
  return new GatehouseError('header_too_large', detail);
}

/** Header names go to logs; keep them short and printable. */
export function safeHeaderName(name: string): string {
  return JSON.stringify(name.length > 64 ? `${name.slice(0, 64)}...` : name);
}
