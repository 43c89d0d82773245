// CheckRequest -> CheckInput. Envoy sends headers either merged in the `headers` map or, with
// encode_raw_headers, one entry per header line in `header_map` with the value as raw bytes.
import { isUtf8 } from 'node:buffer';
import { GatehouseError } from '../core/errors.js';
import { CheckInput } from '../core/input.js';
import type { HeaderValueMsg, HttpRequestMsg, PeerMsg } from './grpc-protos.js';

/** Headers the transport reads itself and does not pass on as request headers. */
interface Pseudo {
  authority: string;
  method: string;
  path: string;
  scheme: string;
}

/**
 * Builds the CheckInput for one HTTP request, or throws a GatehouseError the engine turns into a
 * deny. `maxHeaderBytes` bounds one header value and all headers together (names included).
 */
export function toCheckInput(http: HttpRequestMsg, source: PeerMsg | undefined, maxHeaderBytes: number): CheckInput {
  const headers = new Map<string, string>();
  const pseudo: Pseudo = { authority: '', method: '', path: '', scheme: '' };
  const list = http.header_map?.headers;
  if (http.header_map !== undefined) {
    if (list !== undefined) readHeaderList(list, headers, pseudo, maxHeaderBytes);
  } else if (http.headers !== undefined) {
    readHeaderRecord(http.headers, headers, pseudo, maxHeaderBytes);
  }

  const host = nonEmpty(http.host) ?? pseudo.authority;
  if (host === '') throw new GatehouseError('host_missing', 'bad_request', 'CheckRequest has no host or :authority');
  const method = nonEmpty(http.method) ?? pseudo.method;
  const path = nonEmpty(http.path) ?? pseudo.path;
  if (method === '' || path === '') {
    throw new GatehouseError('request_malformed', 'bad_request', 'CheckRequest has no method or path');
  }

  return new CheckInput({
    method,
    scheme: nonEmpty(http.scheme) ?? (pseudo.scheme === '' ? 'http' : pseudo.scheme),
    host,
    path,
    headers,
    peer: peerAddress(source),
    body: bodyOf(http),
    requestId: nonEmpty(http.id),
  });
}

function readHeaderList(
  list: readonly HeaderValueMsg[],
  out: Map<string, string>,
  pseudo: Pseudo,
  max: number,
): void {
  let total = 0;
  for (const h of list) {
    const name = (h.key ?? '').toLowerCase();
    let value: string;
    let size: number;
    const raw = h.raw_value;
    if (raw !== undefined && raw.length > 0) {
      size = raw.length;
      if (size > max) throw tooLarge(name);
      if (!isUtf8(raw)) {
        throw new GatehouseError('header_malformed', 'bad_request', `header ${safeName(name)} is not valid UTF-8`);
      }
      value = raw.toString('utf8');
    } else {
      value = h.value ?? '';
      size = value.length;
      if (size > max) throw tooLarge(name);
    }
    total += name.length + size;
    if (total > max) throw tooLarge('');
    addHeader(name, value, out, pseudo);
  }
}

function readHeaderRecord(
  record: Readonly<Record<string, string>>,
  out: Map<string, string>,
  pseudo: Pseudo,
  max: number,
): void {
  let total = 0;
  for (const key of Object.keys(record)) {
    const value = record[key] ?? '';
    if (value.length > max) throw tooLarge(key);
    total += key.length + value.length;
    if (total > max) throw tooLarge('');
    addHeader(key.toLowerCase(), value, out, pseudo);
  }
}

function addHeader(name: string, value: string, out: Map<string, string>, pseudo: Pseudo): void {
  if (name === '') throw new GatehouseError('header_malformed', 'bad_request', 'header with an empty name');
  if (name.charCodeAt(0) === 58 /* ':' */) {
    // Pseudo-headers describe the request line; they are never forwarded as headers.
    switch (name) {
      case ':authority':
        pseudo.authority = value;
        break;
      case ':method':
        pseudo.method = value;
        break;
      case ':path':
        pseudo.path = value;
        break;
      case ':scheme':
        pseudo.scheme = value;
        break;
      default:
        break;
    }
    return;
  }
  const prev = out.get(name);
  // RFC 9110 §5.3 joins repeated fields with a comma; cookies use '; ' (RFC 9113 §8.2.3).
  out.set(name, prev === undefined ? value : prev + (name === 'cookie' ? '; ' : ',') + value);
}

function tooLarge(name: string): GatehouseError {
  const detail = name === '' ? 'request headers exceed the size limit' : `header ${safeName(name)} exceeds the size limit`;
  return new GatehouseError('header_too_large', 'too_large', detail);
}

/** Header names go to logs; keep them short and printable. */
function safeName(name: string): string {
  return JSON.stringify(name.length > 64 ? `${name.slice(0, 64)}...` : name);
}

function nonEmpty(s: string | undefined): string | undefined {
  return s === undefined || s === '' ? undefined : s;
}

function peerAddress(peer: PeerMsg | undefined): string {
  const address = peer?.address;
  if (address === undefined) return '';
  return address.socket_address?.address ?? address.pipe?.path ?? '';
}

function bodyOf(http: HttpRequestMsg): string | undefined {
  if (http.body !== undefined && http.body !== '') return http.body;
  if (http.raw_body !== undefined && http.raw_body.length > 0) return http.raw_body.toString('utf8');
  return undefined;
}
