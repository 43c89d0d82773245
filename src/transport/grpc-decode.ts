// A direct protobuf decoder for CheckRequest, the one message read on every Check. The generic decoder
// builds every field Envoy sends (addresses, timestamps, sizes, context extensions) through reflection
// and then copies it into plain objects: about 8 µs and a few kilobytes for a typical request. This
// reads the fields a Check uses and skips the rest. Field numbers follow
// envoy/service/auth/v3/attribute_context.proto; test/grpc-decode.test.ts holds it to the generic
// decoder over generated and mutated requests.
import { GatehouseError } from '../core/errors.js';
//
// Where the wire allows more than one reading it reads as the generic decoder (protobuf.js) did: a
// scalar or message field sent twice keeps the last, a map entry without key or value has '' for it.
// Unlike it, a field with the wrong wire type, a group, field number 0, or a length past the end of its
// message is refused: the Check answers it with a 400 deny (request_malformed), logged and counted like
// any deny, rather than letting grpc-js answer a bare INTERNAL that Envoy's `failure_mode_allow` would
// let through. Fields a
// Check does not read are skipped whole, not looked into. The headers map comes as a list of entries
// (see HttpRequestFields.headers).

/** One entry of HttpRequest.header_map (encode_raw_headers): the value as text or as raw bytes. */
export interface HeaderLine {
  readonly key: string;
  readonly value: string | undefined;
  readonly raw_value: Buffer | undefined;
}

export interface HttpRequestFields {
  readonly id: string | undefined;
  readonly method: string | undefined;
  /**
   * The merged `headers` map as [key, value, key, value, ...] in wire order. A map is not built here:
   * the transport puts each header into CheckInput's own map, and hashing every name twice cost more
   * than the rest of the decoding. A key sent twice (which Envoy, writing from a map, never does)
   * appears twice.
   */
  readonly headers: readonly string[] | undefined;
  /** Present (possibly with no lines) when the request carried `header_map`. */
  readonly header_map: { readonly headers: readonly HeaderLine[] } | undefined;
  readonly path: string | undefined;
  readonly host: string | undefined;
  readonly scheme: string | undefined;
  readonly body: string | undefined;
  readonly raw_body: Buffer | undefined;
}

export interface PeerFields {
  readonly address:
    | {
        readonly socket_address: { readonly address: string | undefined } | undefined;
        readonly pipe: { readonly path: string | undefined } | undefined;
      }
    | undefined;
}

/** The parts of envoy.service.auth.v3.CheckRequest a Check reads. */
export interface CheckRequestFields {
  readonly attributes:
    | {
        readonly source: PeerFields | undefined;
        readonly request: { readonly http: HttpRequestFields | undefined } | undefined;
      }
    | undefined;
  /** Why the bytes could not be read (attributes then undefined); the Check answers it as a deny. */
  readonly failure: unknown;
}

const VARINT = 0;
const FIXED64 = 1;
const LEN = 2;
const FIXED32 = 5;

export class CheckRequestDecodeError extends GatehouseError {
  /** What is wrong with the bytes, without naming the message (the health service's decoder says its own). */
  readonly detail: string;

  constructor(detail: string) {
    super('request_malformed', `CheckRequest malformed: ${detail}`);
    this.name = 'CheckRequestDecodeError';
    this.detail = detail;
  }
}

/**
 * Up to this size the whole message is turned into one string and short fields are cut from it. A
 * request with a forwarded body (with_request_body) is larger, and turning its body into text too
 * would cost more than the short fields save.
 */
export const WHOLE_TEXT_MAX = 16 * 1024;
const NON_ASCII = /[^\x00-\x7f]/;
/**
 * V8 copies a substring shorter than this (SlicedString::kMinLength); a longer one is a view that
 * keeps its whole parent alive. A field kept past the Check (a header value a cache holds) must not
 * keep the whole message, so longer fields are made on their own.
 */
const SLICED_MIN = 13;

/** Reads protobuf wire format: the CheckRequest here, and the health service's one-field requests. */
export class Reader {
  readonly buf: Buffer;
  pos = 0;
  /**
   * The message as latin1 text, when it is small enough: each short ASCII string field is then a
   * substring of it. Making a string from a Buffer costs a call into C++ (~90-170 ns here) whatever
   * its length; most fields of a request (header names, methods, schemes) are short.
   */
  readonly #text: string | undefined;
  /** No byte of the message is >= 0x80, so every string field is ASCII. */
  readonly #ascii: boolean;

  constructor(buf: Buffer) {
    this.buf = buf;
    this.#text = buf.length <= WHOLE_TEXT_MAX ? buf.toString('latin1') : undefined;
    this.#ascii = this.#text !== undefined && !NON_ASCII.test(this.#text);
  }

  /** An unsigned varint of up to 10 bytes, exact below 2^53 (tags and lengths stay far below). */
  varint(end: number): number {
    const buf = this.buf;
    let pos = this.pos;
    if (pos >= end) throw new CheckRequestDecodeError('truncated varint');
    let b = buf[pos++] as number;
    if (b < 0x80) {
      this.pos = pos;
      return b;
    }
    let value = b & 0x7f;
    let scale = 0x80;
    for (let i = 1; i < 10; i++) {
      if (pos >= end) throw new CheckRequestDecodeError('truncated varint');
      b = buf[pos++] as number;
      value += (b & 0x7f) * scale;
      if (b < 0x80) {
        this.pos = pos;
        return value;
      }
      scale *= 0x80;
    }
    throw new CheckRequestDecodeError('varint longer than 10 bytes');
  }

  /** The end offset of a length-delimited field starting at the current position. */
  length(end: number): number {
    const n = this.varint(end);
    if (n > end - this.pos) throw new CheckRequestDecodeError('length past the end of its message');
    return this.pos + n;
  }

  /** A length-delimited string field as UTF-8 (invalid sequences become U+FFFD, as Buffer#toString does). */
  string(end: number): string {
    return this.text(this.length(end));
  }

  /** The bytes from here to `stop` as a string. */
  text(stop: number): string {
    const start = this.pos;
    this.pos = stop;
    const text = this.#text;
    if (text !== undefined && stop - start < SLICED_MIN && (this.#ascii || isAscii(this.buf, start, stop))) return text.substring(start, stop);
    // ASCII reads the same as latin1, which is the cheaper conversion.
    return this.buf.toString(this.#ascii ? 'latin1' : 'utf8', start, stop);
  }

  bytes(end: number): Buffer {
    const stop = this.length(end);
    const b = this.buf.subarray(this.pos, stop);
    this.pos = stop;
    return b;
  }

  /** The next field's tag (below 2^32, so `>>> 3` is its field number); field 0 and groups are refused. */
  tag(end: number): number {
    const tag = this.varint(end);
    if (tag < 8) throw new CheckRequestDecodeError('field number 0');
    if (tag > 0xffffffff) throw new CheckRequestDecodeError('field number past 2^29');
    const wire = tag & 7;
    if (wire !== VARINT && wire !== FIXED64 && wire !== LEN && wire !== FIXED32) throw new CheckRequestDecodeError(`wire type ${wire}`);
    return tag;
  }

  /** Passes over a field this decoder does not read. */
  skipField(tag: number, end: number): void {
    switch (tag & 7) {
      case VARINT:
        this.varint(end);
        return;
      case FIXED64:
        this.advance(8, end);
        return;
      case LEN:
        this.pos = this.length(end);
        return;
      default:
        this.advance(4, end);
    }
  }

  advance(n: number, end: number): void {
    if (n > end - this.pos) throw new CheckRequestDecodeError('truncated fixed-width field');
    this.pos += n;
  }
}

function isAscii(buf: Buffer, start: number, stop: number): boolean {
  for (let i = start; i < stop; i++) if ((buf[i] as number) >= 0x80) return false;
  return true;
}

/** A known field must arrive with its wire type; anything else is not a CheckRequest we can read. */
function expectLen(tag: number): void {
  if ((tag & 7) !== LEN) throw new CheckRequestDecodeError(`field ${tag >>> 3} with wire type ${tag & 7}`);
}

/**
 * grpc-js's requestDeserialize for Authorization/Check. It never throws: bytes that cannot be read
 * come back with `failure` set, so the Check itself denies them.
 */
export function readCheckRequest(buf: Buffer): CheckRequestFields {
  try {
    return decodeCheckRequest(buf);
  } catch (err) {
    return { attributes: undefined, failure: err };
  }
}

/** The fields of a CheckRequest; throws CheckRequestDecodeError for bytes it cannot read. */
export function decodeCheckRequest(buf: Buffer): CheckRequestFields {
  return { attributes: oneField(new Reader(buf), buf.length, 1, attributesOf), failure: undefined };
}

function attributesOf(r: Reader, end: number): CheckRequestFields['attributes'] {
  let source: PeerFields | undefined;
  let request: { readonly http: HttpRequestFields | undefined } | undefined;
  while (r.pos < end) {
    const tag = r.tag(end);
    switch (tag >>> 3) {
      case 1:
        expectLen(tag);
        source = peerOf(r, r.length(end));
        break;
      case 4:
        expectLen(tag);
        request = requestOf(r, r.length(end));
        break;
      default:
        r.skipField(tag, end);
    }
  }
  return { source, request };
}

function peerOf(r: Reader, end: number): PeerFields {
  return { address: oneField(r, end, 1, addressOf) };
}

function requestOf(r: Reader, end: number): { readonly http: HttpRequestFields | undefined } {
  return { http: oneField(r, end, 2, httpOf) };
}

function addressOf(r: Reader, end: number): NonNullable<PeerFields['address']> {
  let socket_address: { readonly address: string | undefined } | undefined;
  let pipe: { readonly path: string | undefined } | undefined;
  while (r.pos < end) {
    const tag = r.tag(end);
    switch (tag >>> 3) {
      case 1:
        expectLen(tag);
        socket_address = { address: oneField(r, r.length(end), 2, readString) };
        break;
      case 2:
        expectLen(tag);
        pipe = { path: oneField(r, r.length(end), 1, readString) };
        break;
      default:
        r.skipField(tag, end);
    }
  }
  return { socket_address, pipe };
}

/**
 * The one length-delimited field `field` a message is read for (a message or a string), the others
 * skipped; sent twice, the last wins.
 */
function oneField<T>(r: Reader, end: number, field: number, read: (r: Reader, end: number) => T): T | undefined {
  let value: T | undefined;
  while (r.pos < end) {
    const tag = r.tag(end);
    if (tag >>> 3 === field) {
      expectLen(tag);
      value = read(r, r.length(end));
    } else r.skipField(tag, end);
  }
  return value;
}

/** A string field whose content ends at `stop` (the reader is at its first byte). */
function readString(r: Reader, stop: number): string {
  return r.text(stop);
}

function httpOf(r: Reader, end: number): HttpRequestFields {
  let id: string | undefined;
  let method: string | undefined;
  let headers: string[] | undefined;
  let header_map: { readonly headers: readonly HeaderLine[] } | undefined;
  let path: string | undefined;
  let host: string | undefined;
  let scheme: string | undefined;
  let body: string | undefined;
  let raw_body: Buffer | undefined;
  while (r.pos < end) {
    const tag = r.tag(end);
    switch (tag >>> 3) {
      case 1:
        expectLen(tag);
        id = r.string(end);
        break;
      case 2:
        expectLen(tag);
        method = r.string(end);
        break;
      case 3:
        expectLen(tag);
        mapEntry(r, r.length(end), (headers ??= []));
        break;
      case 4:
        expectLen(tag);
        path = r.string(end);
        break;
      case 5:
        expectLen(tag);
        host = r.string(end);
        break;
      case 6:
        expectLen(tag);
        scheme = r.string(end);
        break;
      case 11:
        expectLen(tag);
        body = r.string(end);
        break;
      case 12:
        expectLen(tag);
        raw_body = r.bytes(end);
        break;
      case 13:
        expectLen(tag);
        header_map = { headers: headerLines(r, r.length(end)) };
        break;
      default:
        r.skipField(tag, end);
    }
  }
  return { id, method, headers, header_map, path, host, scheme, body, raw_body };
}

function mapEntry(r: Reader, end: number, into: string[]): void {
  let key = '';
  let value = '';
  while (r.pos < end) {
    const tag = r.tag(end);
    switch (tag >>> 3) {
      case 1:
        expectLen(tag);
        key = r.string(end);
        break;
      case 2:
        expectLen(tag);
        value = r.string(end);
        break;
      default:
        r.skipField(tag, end);
    }
  }
  into.push(key, value);
}

function headerLines(r: Reader, end: number): HeaderLine[] {
  const lines: HeaderLine[] = [];
  while (r.pos < end) {
    const tag = r.tag(end);
    if (tag >>> 3 === 1) {
      expectLen(tag);
      lines.push(headerLine(r, r.length(end)));
    } else r.skipField(tag, end);
  }
  return lines;
}

function headerLine(r: Reader, end: number): HeaderLine {
  let key = '';
  let value: string | undefined;
  let raw_value: Buffer | undefined;
  while (r.pos < end) {
    const tag = r.tag(end);
    switch (tag >>> 3) {
      case 1:
        expectLen(tag);
        key = r.string(end);
        break;
      case 2:
        expectLen(tag);
        value = r.string(end);
        break;
      case 3:
        expectLen(tag);
        raw_value = r.bytes(end);
        break;
      default:
        r.skipField(tag, end);
    }
  }
  return { key, value, raw_value };
}
